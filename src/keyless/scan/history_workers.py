"""Scan a history's commits in parallel: one git process and one scanner per worker.

The commits are cut into chunks of consecutive commits. Each worker runs its own
`git diff-tree --stdin` and feeds it one chunk after another, each time taking the
next chunk nobody has claimed yet. A worker that meets expensive commits (a large
first import, many merges) so takes fewer chunks, and the workers finish together.

The detectors are Python code that holds the GIL, so the workers are forked
processes, not threads. The calling process is the first worker. The others send
their results back over a pipe, and count their commits in shared memory for the
caller to draw progress. Where fork is unavailable, one worker does it all.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from keyless.errors import Error
from keyless.git import GitError
from keyless.secret import Secret
from keyless.termination import exit_on_sigterm

try:
    import fcntl
except ImportError:  # Windows, where workers are not forked
    fcntl = None  # type: ignore[assignment]

# Chunks are large enough that git's caches serve consecutive commits, and small
# enough (about 24 per worker) that the last one to finish ends soon after the rest.
_MIN_CHUNK = 128
_CHUNKS_PER_WORKER = 24
# A run's front and back chunk indexes, in the memory the workers share.
_RUN = struct.Struct("<ii")
_COUNTER = struct.Struct("<q")
# Seconds between progress updates while waiting for the other workers.
_POLL_SECONDS = 0.1

# Returns a worker's next chunk of commits, or None when it should claim no more.
Take = Callable[[], "list[str] | None"]
# scan(take, on_commits) runs one worker's stream and returns its result.
StreamScan = Callable[[Take, Callable[[int], None]], Any]


class ChunkQueue:
    """Chunks of commits that workers claim one at a time; each chunk goes to one worker.

    The chunks form one run of consecutive chunks per worker. A worker claims the
    chunks of its own run from the front, so its git reads consecutive commits and
    finds their objects in its caches. When its run is done, it claims chunks from
    the back of the run with the most chunks left. The runs' fronts and backs are in
    shared memory that every forked worker inherits. A POSIX record lock on a
    temporary file guards them between processes: each process holds its own lock,
    and the kernel releases it when the process ends.
    """

    def __init__(self, shas: list[str], workers: int) -> None:
        size = max(_MIN_CHUNK, -(-len(shas) // (workers * _CHUNKS_PER_WORKER)))
        self.chunks = [shas[i : i + size] for i in range(0, len(shas), size)]
        self.workers = workers
        bounds = [len(self.chunks) * run // workers for run in range(workers + 1)]
        self._runs = mmap.mmap(-1, _RUN.size * workers)
        for run in range(workers):
            _RUN.pack_into(self._runs, _RUN.size * run, bounds[run], bounds[run + 1])
        self._thread_lock = threading.Lock()
        self._lock_file: IO[bytes] | None = None
        if workers > 1 and fcntl is not None:
            self._lock_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    def taker(self, worker: int) -> Take:
        """Return the `take` function of worker number `worker` (0 for the first)."""
        return functools.partial(self.take, worker)

    def take(self, worker: int = 0) -> list[str] | None:
        """Return the next chunk for `worker`, or None when all are claimed."""
        with self._thread_lock, self._process_lock():
            index = self._claim(worker)
        return None if index is None else self.chunks[index]

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if not self._runs.closed:
            self._runs.close()

    def _claim(self, worker: int) -> int | None:
        front, back = _RUN.unpack_from(self._runs, _RUN.size * worker)
        if front < back:
            _RUN.pack_into(self._runs, _RUN.size * worker, front + 1, back)
            return int(front)
        lengths = [
            back - front
            for front, back in (
                _RUN.unpack_from(self._runs, _RUN.size * run) for run in range(self.workers)
            )
        ]
        longest = max(range(self.workers), key=lengths.__getitem__)
        if lengths[longest] <= 0:
            return None
        front, back = _RUN.unpack_from(self._runs, _RUN.size * longest)
        _RUN.pack_into(self._runs, _RUN.size * longest, front, back - 1)
        return int(back - 1)

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self._lock_file is None:
            yield
            return
        fd = self._lock_file.fileno()
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)


def run_workers(
    queue: ChunkQueue, workers: int, scan: StreamScan, progress: Callable[[int], None]
) -> list[Any]:
    """Return each worker's `scan(take, on_commits)` result, scanning the queue in parallel.

    The caller closes the queue.
    """
    if workers == 1 or not hasattr(os, "fork"):
        return [scan(queue.taker(0), progress)]
    return _run_forked(queue, workers, scan, progress)


def _run_forked(
    queue: ChunkQueue, workers: int, scan: StreamScan, progress: Callable[[int], None]
) -> list[Any]:
    counters = mmap.mmap(-1, _COUNTER.size * workers)
    children: list[tuple[int, int]] = []
    reported = 0

    def show(own: int) -> None:
        nonlocal reported
        others = (_COUNTER.unpack_from(counters, _COUNTER.size * i)[0] for i in range(1, workers))
        total = own + sum(others)
        if total > reported:
            progress(total - reported)
            reported = total

    # The children inherit the handler, so SIGTERM (from `kill`, `docker stop` or a CI
    # runner's timeout) stops every worker and its git, as Ctrl-C does.
    previous = exit_on_sigterm()
    try:
        # A child gets copies of the pipes of any git this process started already,
        # and `scan` closes them there first, so that git still sees the end of its
        # input. Frozen objects are left alone by the garbage collector, so the
        # children do not copy the pages it would otherwise touch.
        gc.freeze()
        try:
            for index in range(1, workers):
                children.append(_fork(index, queue, scan, counters))
        finally:
            gc.unfreeze()
        own = 0

        def count(n: int) -> None:
            nonlocal own
            own += n
            show(own)

        results = [scan(queue.taker(0), count)]
        results.extend(_collect(children, lambda: show(own)))
        return results
    finally:
        for pid, reader in children:
            _stop(pid, reader)
        counters.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _fork(index: int, queue: ChunkQueue, scan: StreamScan, counters: mmap.mmap) -> tuple[int, int]:
    reader, writer = os.pipe()
    # Flushed so the child does not write the parent's buffered output again. Either
    # stream is None when it was closed before keyless started.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        _work(index, _while_parent_lives(queue.taker(index), parent), scan, counters, writer)
    os.close(writer)
    return pid, reader


def _while_parent_lives(take: Take, parent: int) -> Take:
    """Return `take` that claims nothing more once process `parent` has ended.

    A parent killed with SIGKILL cannot stop its workers. They notice at their next
    claim, when they have a new parent, and finish the chunk they have.
    """
    return lambda: take() if os.getppid() == parent else None


def _work(index: int, take: Take, scan: StreamScan, counters: mmap.mmap, writer: int) -> None:
    """Run one worker in a forked child: scan, send the outcome, and leave at once."""
    code = 0
    done = 0

    def count(n: int) -> None:
        nonlocal done
        done += n
        _COUNTER.pack_into(counters, _COUNTER.size * index, done)

    try:
        try:
            outcome: tuple[str, Any] = ("result", scan(take, count))
        except Error as exc:
            outcome = ("error", (exc.message, exc.hint))
        except BaseException as exc:
            outcome = ("crash", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(data)
        while view:
            view = view[os.write(writer, view) :]
    except BaseException:
        code = 1
    finally:
        # Leave without running the parent's exit handlers or flushing its buffers.
        os._exit(code)


def _collect(children: list[tuple[int, int]], show: Callable[[], None]) -> list[Any]:
    """Read every child's outcome, updating progress while they work, and reap them."""
    buffers: dict[int, list[bytes]] = {reader: [] for _, reader in children}
    pending = set(buffers)
    while pending:
        ready, _, _ = select.select(sorted(pending), [], [], _POLL_SECONDS)
        show()
        for reader in ready:
            data = os.read(reader, 1 << 20)
            if data:
                buffers[reader].append(data)
            else:
                pending.discard(reader)
    show()
    outcomes = []
    while children:
        pid, reader = children.pop(0)
        os.close(reader)
        os.waitpid(pid, 0)
        outcomes.append(b"".join(buffers[reader]))
    return [_result(data) for data in outcomes]


def _result(data: bytes) -> Any:
    """Return a child's result, or raise the error it reported."""
    if not data:
        raise RuntimeError("a history scan worker exited without a result")
    # The data comes from this process's own fork, not from outside.
    kind, payload = pickle.loads(data)  # noqa: S301
    if kind == "error":
        message, hint = payload
        raise GitError(message, hint=hint)
    if kind == "crash":
        raise RuntimeError(f"history scan worker failed: {payload}")
    return payload


def _stop(pid: int, reader: int) -> None:
    """Stop a child that is still running after the parent gave up on it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        os.close(reader)


def reregister(secret: Secret | None) -> Secret | None:
    """Return a copy of a secret received from a worker, registered for log redaction."""
    return None if secret is None else Secret(secret.reveal())
