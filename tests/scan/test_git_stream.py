"""GitStream: git started before its reader, fed commits early, stopped on request."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable

import pytest

from keyless.git import GitError
from keyless.scan import git_stream, history
from keyless.scan.git_stream import Cancel, GitStream
from tests.conftest import GitRepo


class Collect:
    """A stand-in for PatchScanner that keeps every block it is fed."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []

    def feed(self, block: bytes) -> None:
        self.blocks.append(block)

    @property
    def lines(self) -> list[bytes]:
        return b"".join(self.blocks).splitlines()


def takes(*chunks: list[str]) -> Callable[[], list[str] | None]:
    queue = list(chunks)
    return lambda: queue.pop(0) if queue else None


def test_prefill_larger_than_stdin_pipe(repo: GitRepo) -> None:
    first = repo.commit("first")
    second = repo.commit("second")
    # 4,000 object names are about 160 KiB, more than fits in the stdin pipe at once,
    # so part of the prefill waits for the feeder thread.
    prefill = [first, second] * 2000
    stream = GitStream(repo.path, ["cat-file", "--batch-check=%(objectname)"], stdin=True)
    stream.prefill(takes(prefill), len(prefill))
    collect = Collect()

    stream.scan(collect, takes([second], [first]))

    assert collect.lines == [sha.encode() for sha in [*prefill, second, first]]


def test_prefill_claims_whole_chunks_up_to_the_count(repo: GitRepo) -> None:
    shas = [repo.commit(f"commit {n}") for n in range(5)]
    claimed: list[list[str]] = []
    chunks = [shas[0:2], shas[2:4], shas[4:5]]

    def take() -> list[str] | None:
        if not chunks:
            return None
        claimed.append(chunks.pop(0))
        return claimed[-1]

    stream = GitStream(repo.path, ["cat-file", "--batch-check=%(objectname)"], stdin=True)
    stream.prefill(take, 3)
    collect = Collect()
    stream.scan(collect, take)

    assert claimed[:2] == [shas[0:2], shas[2:4]]
    assert collect.lines == [sha.encode() for sha in shas]


def test_git_failure_is_reported_with_its_message(repo: GitRepo) -> None:
    repo.commit("only")
    stream = GitStream(repo.path, ["rev-parse", "--verify", "no-such-branch"])

    with pytest.raises(GitError, match=r"history scan failed .*Needed a single revision"):
        stream.scan(Collect())


def test_cancel_stops_a_running_git_without_an_error(repo: GitRepo) -> None:
    repo.commit("only")
    cancel = Cancel()
    release = threading.Event()

    def take() -> list[str] | None:
        # Holds git's stdin open, so git waits for input until it is stopped.
        release.wait(30)
        return None

    stream = GitStream(repo.path, ["cat-file", "--batch"], stdin=True, cancel=cancel)
    reader = threading.Thread(target=stream.scan, args=(Collect(), take))
    reader.start()
    cancel.cancel()
    release.set()
    reader.join(30)

    assert not reader.is_alive()
    assert stream.proc.returncode is not None and stream.proc.returncode < 0


def test_cancel_before_start_stops_git_at_once(repo: GitRepo) -> None:
    repo.commit("only")
    cancel = Cancel()
    cancel.cancel()
    stream = GitStream(repo.path, ["cat-file", "--batch"], stdin=True, cancel=cancel)

    stream.scan(Collect(), takes())

    assert stream.proc.returncode is not None


def test_unscanned_launch_stops_on_close(repo: GitRepo) -> None:
    commits = [repo.commit(f"commit {n}") for n in range(3)]
    launched = history.launch(repo.path, commits, max_size=1 << 20, workers=1)
    assert launched.first is not None

    launched.close()
    launched.close()

    assert launched.first.proc.returncode is not None
    assert launched.first.proc.stdout is not None and launched.first.proc.stdout.closed


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_stream_belongs_to_the_process_that_started_it(repo: GitRepo) -> None:
    repo.commit("only")
    stream = GitStream(repo.path, ["cat-file", "--batch"], stdin=True)
    pid = os.fork()
    if pid == 0:
        try:
            stream.scan(Collect(), takes())
            code = 1
        except RuntimeError:
            stream.release()
            code = 0
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    stream.scan(Collect(), takes())

    assert os.waitstatus_to_exitcode(status) == 0
    assert stream.proc.returncode == 0


def read_blocks_of(data: bytes) -> list[bytes]:
    """Feed `data` through a pipe to `_read_blocks` and return the blocks it cut."""
    read, write = os.pipe()

    def writer() -> None:
        with os.fdopen(write, "wb") as pipe:
            pipe.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    collect = Collect()
    with os.fdopen(read, "rb") as pipe:
        git_stream._read_blocks(pipe.fileno(), collect)
    thread.join()
    return collect.blocks


@pytest.mark.parametrize("tail", [b"", b"+no newline at the end"])
def test_blocks_end_before_a_commit_or_section(
    monkeypatch: pytest.MonkeyPatch, tail: bytes
) -> None:
    monkeypatch.setattr(git_stream, "_BLOCK_SIZE", 64)
    monkeypatch.setattr(git_stream, "_READ_SIZE", 16)
    commit = b"\0" + b"c" * 40 + b" 1700000000\n\n"
    section = b"diff --git a/f b/f\n@@ -0,0 +1 @@\n+" + b"x" * 30 + b"\n"
    # One section of 300 bytes, longer than a block, makes the buffer grow.
    long_section = b"diff --git a/g b/g\n@@ -0,0 +1 @@\n+" + b"y" * 300 + b"\n"
    data = commit + section + section + long_section + commit + section + tail

    blocks = read_blocks_of(data)

    assert b"".join(blocks) == data + (b"\n" if tail else b"")
    assert len(blocks) > 2
    for block, following in itertools.pairwise(blocks):
        assert block.endswith(b"\n")
        assert following.startswith((b"\0", b"diff --"))
