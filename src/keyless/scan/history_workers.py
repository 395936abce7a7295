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
import gc
import mmap
import os
import pickle
import select
import signal
import struct
import sys
import threading
from collections.abc import Callable
from typing import Any

from keyless.errors import Error
from keyless.git import GitError
from keyless.secret import Secret

# A chunk index as it travels through the queue pipe.
_INDEX = struct.Struct("<I")
# The queue pipe is filled before any worker reads, so its chunk indexes must fit in
# the smallest pipe buffer in common use (16 KiB on macOS).
_MAX_CHUNKS = 4000
# Chunks are large enough that git's caches serve consecutive commits, and small
# enough (about 24 per worker) that the last one to finish ends soon after the rest.
_MIN_CHUNK = 128
_COUNTER = struct.Struct("<q")
# Seconds between progress updates while waiting for the other workers.
_POLL_SECONDS = 0.1

# scan(take, on_commits) runs one worker's stream and returns its result.
StreamScan = Callable[[Callable[[], "list[str] | None"], Callable[[int], None]], Any]


class ChunkQueue:
    """Chunks of commits that workers claim one at a time; each chunk goes to one worker.

    The chunk indexes wait in a pipe that every forked worker inherits. A read of
    one index is atomic, so two workers never claim the same chunk.
    """

    def __init__(self, shas: list[str], workers: int) -> None:
        size = max(_MIN_CHUNK, -(-len(shas) // _MAX_CHUNKS), -(-len(shas) // (workers * 24)))
        self.chunks = [shas[i : i + size] for i in range(0, len(shas), size)]
        self._read, write = os.pipe()
        data = b"".join(_INDEX.pack(index) for index in range(len(self.chunks)))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(write, view) :]
        finally:
            os.close(write)

    def take(self) -> list[str] | None:
        """Return the next unclaimed chunk, or None when all are claimed."""
        record = os.read(self._read, _INDEX.size)
        if len(record) < _INDEX.size:
            return None
        return self.chunks[_INDEX.unpack(record)[0]]

    def close(self) -> None:
        if self._read >= 0:
            os.close(self._read)
            self._read = -1


def run_workers(
    queue: ChunkQueue, workers: int, scan: StreamScan, progress: Callable[[int], None]
) -> list[Any]:
    """Return each worker's `scan(take, on_commits)` result, scanning the queue in parallel.

    The caller closes the queue.
    """
    if workers == 1 or not hasattr(os, "fork"):
        return [scan(queue.take, progress)]
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
    previous = _exit_on_sigterm()
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

        results = [scan(queue.take, count)]
        results.extend(_collect(children, lambda: show(own)))
        return results
    finally:
        for pid, reader in children:
            _stop(pid, reader)
        counters.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm() -> Any:
    """Make SIGTERM raise SystemExit, so cleanup runs; return the previous handler.

    Only the main thread can set handlers; elsewhere nothing changes and None returns.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _fork(index: int, queue: ChunkQueue, scan: StreamScan, counters: mmap.mmap) -> tuple[int, int]:
    reader, writer = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        _work(index, queue, scan, counters, writer)
    os.close(writer)
    return pid, reader


def _work(
    index: int, queue: ChunkQueue, scan: StreamScan, counters: mmap.mmap, writer: int
) -> None:
    """Run one worker in a forked child: scan, send the outcome, and leave at once."""
    code = 0
    done = 0

    def count(n: int) -> None:
        nonlocal done
        done += n
        _COUNTER.pack_into(counters, _COUNTER.size * index, done)

    try:
        try:
            outcome: tuple[str, Any] = ("result", scan(queue.take, count))
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
