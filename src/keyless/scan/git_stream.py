"""A git process whose patch output a scanner reads as it comes.

The output is read in blocks that end just before a commit header or a file section,
so the scanner never sees half a section. A stream that reads commits on its
standard input can be started, and given its first commits, before the scanner
exists: git then works on them while keyless loads its detectors.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from keyless import git
from keyless.scan.patches import COMMIT_MARK

if TYPE_CHECKING:
    from keyless.scan.patches import PatchScanner

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

# Bytes read from a git pipe at a time, and scanned at a time.
_READ_SIZE = 1 << 16
_BLOCK_SIZE = 1 << 20
# Pipe sizes asked for. git's output pipe is large, so git can run ahead of the
# scanner. Its stdin is small (one page), so a worker claims few commits ahead of git.
_STDOUT_PIPE_SIZE = 1 << 20
_STDIN_PIPE_SIZE = 4096
# git's stdin pipe while it contains the commits given before the scan starts: about 1,500
# commits. It shrinks back to _STDIN_PIPE_SIZE once git has read them.
_PREFILL_PIPE_SIZE = 1 << 16
# Seconds between attempts to shrink the stdin pipe while git reads those commits.
_SHRINK_POLL = 0.001
# Commits written to git's stdin at a time.
_PIECE = 64

# Returns the next chunk of commits to scan, or None when there are no more.
Take = Callable[[], "list[str] | None"]


class Cancel:
    """Stops the git processes of streams read in other threads.

    After `cancel()`, those streams end early without an error, and a stream that
    has not started yet stops at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []
        self.cancelled = False

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.append(proc)
            if self.cancelled:
                proc.kill()

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            for proc in self._procs:
                if proc.poll() is None:
                    proc.kill()


class GitStream:
    """One running git process and the pipes keyless reads and feeds it through.

    Only the process that started git may `scan` the stream and wait for git. A
    process forked from it calls `release` to close its copies of the pipes, so git
    still sees the end of its input when the owner closes it.
    """

    def __init__(
        self, root: Path, args: list[str], *, stdin: bool = False, cancel: Cancel | None = None
    ) -> None:
        self.root = root
        self._owner = os.getpid()
        self._cancel = cancel
        self._pending = b""
        self._prefilled = False
        self.proc = git.popen(
            args,
            root,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # Without this, `diff-tree --stdin` writes each commit to the pipe on its own.
            environment={"GIT_FLUSH": "0"},
        )
        if cancel is not None:
            cancel.attach(self.proc)
        _resize_pipe(cast(IO[bytes], self.proc.stdout).fileno(), _STDOUT_PIPE_SIZE)
        if stdin:
            # A small stdin pipe keeps few claimed commits waiting in it, so the chunks
            # are shared out as the workers get through them.
            _resize_pipe(cast(IO[bytes], self.proc.stdin).fileno(), _STDIN_PIPE_SIZE)

    def prefill(self, take: Take, commits: int) -> None:
        """Claim about `commits` commits and start git on them before the scan starts.

        What fits in the stdin pipe now is written at once, without blocking; `scan`
        writes the rest first.
        """
        fd = cast(IO[bytes], self.proc.stdin).fileno()
        claimed: list[str] = []
        while len(claimed) < commits and (chunk := take()) is not None:
            claimed.extend(chunk)
        if not claimed:
            return
        data = "".join(f"{sha}\n" for sha in claimed).encode("ascii")
        self._pending = data
        if not hasattr(os, "set_blocking"):
            return
        self._prefilled = _resize_pipe(fd, _PREFILL_PIPE_SIZE)
        os.set_blocking(fd, False)
        try:
            self._pending = data[os.write(fd, data) :]
        except (BlockingIOError, BrokenPipeError):
            pass
        finally:
            os.set_blocking(fd, True)

    def release(self) -> None:
        """Close this process's copies of the pipes, in a child that does not own git."""
        self._close_pipes()

    def scan(self, scanner: PatchScanner, take: Take | None = None) -> None:
        """Feed git's output to `scanner` until git ends; raise GitError if git fails.

        With `take`, a thread writes to git's stdin the commits `prefill` left over,
        then each chunk `take` returns when git is ready for more, until none are left.
        """
        if os.getpid() != self._owner:
            raise RuntimeError("a git stream can only be read by the process that started it")
        proc = self.proc
        stdout, stderr = cast(IO[bytes], proc.stdout), cast(IO[bytes], proc.stderr)
        errors: list[bytes] = []
        threads = [threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)]
        if proc.stdin is not None:
            threads.append(threading.Thread(target=self._feed, args=(take,), daemon=True))
        for thread in threads:
            thread.start()
        try:
            _read_blocks(stdout.fileno(), scanner)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for thread in threads:
                thread.join()
        if proc.returncode != 0 and not (self._cancel is not None and self._cancel.cancelled):
            lines = b"".join(errors).decode("utf-8", "replace").splitlines()
            # git can print the same error once per attempt to read an object.
            message = "; ".join(dict.fromkeys(line.strip() for line in lines if line.strip()))
            raise git.GitError(f"git history scan failed in {self.root}: {message}")

    def close(self) -> None:
        """Stop git if it still runs, in the owner, when the stream will not be scanned."""
        if os.getpid() != self._owner:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self._close_pipes()
        self.proc.wait()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def _feed(self, take: Take | None) -> None:
        """Write the commits left from `prefill`, then the chunks `take` returns; close stdin.

        Writes block while the pipe is full, so a chunk is claimed only when git has
        read most of the previous one.
        """
        stdin = cast(IO[bytes], self.proc.stdin)
        fd = stdin.fileno()
        try:
            _write_all(fd, self._pending)
            self._pending = b""
            if self._prefilled:
                self._shrink_stdin(fd)
            while take is not None and (chunk := take()) is not None:
                for index in range(0, len(chunk), _PIECE):
                    piece = "".join(f"{sha}\n" for sha in chunk[index : index + _PIECE])
                    _write_all(fd, piece.encode("ascii"))
        except BrokenPipeError:
            # git stopped reading: it failed, and the reader reports why.
            pass
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()

    def _shrink_stdin(self, fd: int) -> None:
        """Wait until git has read the prefilled commits, then shrink its stdin pipe.

        The kernel refuses to shrink a pipe below what it holds, so this retries
        until git has read enough, or has ended.
        """
        while self.proc.poll() is None:
            try:
                _set_pipe_size(fd, _STDIN_PIPE_SIZE)
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return
            time.sleep(_SHRINK_POLL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _set_pipe_size(fd: int, size: int) -> None:
    """Set a pipe's buffer size (Linux); raise OSError where that is refused or unknown."""
    resize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if resize is None:
        raise OSError(errno.ENOTSUP, "pipe buffer sizes cannot be set on this system")
    fcntl.fcntl(fd, resize, size)


def _resize_pipe(fd: int, size: int) -> bool:
    """Ask for a pipe buffer of `size` bytes; return whether the system gave it."""
    try:
        _set_pipe_size(fd, size)
    except OSError:
        return False
    return True


def _read_blocks(fd: int, scanner: PatchScanner) -> None:
    """Feed the scanner blocks that end just before a commit or section boundary.

    git's output is read straight into one buffer, which grows only for a section
    longer than a block, and each block is copied out of it once.
    """
    buffer = bytearray(_BLOCK_SIZE + _READ_SIZE)
    filled = 0
    while True:
        if len(buffer) - filled < _READ_SIZE:
            buffer.extend(bytes(len(buffer)))
        with memoryview(buffer) as view:
            count = _read_into(fd, view[filled:])
        if not count:
            break
        filled += count
        if filled < _BLOCK_SIZE:
            continue
        cut = max(
            buffer.rfind(b"\n" + COMMIT_MARK, 0, filled), buffer.rfind(b"\ndiff --", 0, filled)
        )
        if cut < 0:
            continue
        with memoryview(buffer) as view:
            block = bytes(view[: cut + 1])
        buffer[: filled - cut - 1] = buffer[cut + 1 : filled]
        filled -= cut + 1
        scanner.feed(block)
    if filled:
        block = bytes(buffer[:filled])
        scanner.feed(block if block.endswith(b"\n") else block + b"\n")


def _read_into(fd: int, view: memoryview) -> int:
    """Read from `fd` into `view`; return the number of bytes read, 0 at the end."""
    if hasattr(os, "readv"):
        return os.readv(fd, [view])
    data = os.read(fd, len(view))
    view[: len(data)] = data
    return len(data)
