"""Parallel history scanning: chunks of commits shared out to forked workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from keyless.config import Config
from keyless.errors import Error
from keyless.git import GitError
from keyless.scan import history
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from keyless.scan.history_workers import ChunkQueue, run_workers
from keyless.scan.sources import Skipped
from tests.fakes import github_token

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")

Take = Callable[[], "list[str] | None"]


def fake_shas(count: int) -> list[str]:
    return [f"{number:040x}" for number in range(count)]


def run_queued(
    shas: list[str], workers: int, scan: Callable[..., Any], progress: Callable[[int], None]
) -> list[Any]:
    queue = ChunkQueue(shas, workers)
    try:
        return run_workers(queue, workers, scan, progress)
    finally:
        queue.close()


def claim_all(take: Take, on_commits: Callable[[int], None]) -> tuple[int, list[str]]:
    """Claim chunks until none are left, slowly enough that every worker gets some."""
    claimed: list[str] = []
    while (chunk := take()) is not None:
        claimed.extend(chunk)
        on_commits(len(chunk))
        time.sleep(0.02)
    return os.getpid(), claimed


def test_workers_steal_after_own_run() -> None:
    shas = fake_shas(128 * 8)
    queue = ChunkQueue(shas, 2)
    try:
        first = [queue.take(0) for _ in range(4)]
        second = queue.take(1)
        stolen = queue.take(0)
        rest = [queue.take(1), queue.take(1)]
        after = (queue.take(0), queue.take(1))
    finally:
        queue.close()

    chunk = [shas[i : i + 128] for i in range(0, len(shas), 128)]
    assert first == chunk[0:4]
    assert second == chunk[4]
    assert stolen == chunk[7]
    assert rest == chunk[5:7]
    assert after == (None, None)


def test_every_chunk_goes_to_exactly_one_worker() -> None:
    shas = fake_shas(1000)
    progress: list[int] = []
    results = run_queued(shas, 3, claim_all, progress.append)
    claimed = [sha for _, part in results for sha in part]
    assert sorted(claimed) == shas
    assert len({pid for pid, _ in results}) == 3
    assert all(part for _, part in results)
    assert results[0][0] == os.getpid()
    assert sum(progress) == 1000


def test_one_worker_claims_everything_in_this_process() -> None:
    shas = fake_shas(200)
    results = run_queued(shas, 1, claim_all, lambda _: None)
    assert results == [(os.getpid(), shas)]


def test_error_in_a_worker_reaches_the_caller() -> None:
    parent = os.getpid()

    def scan(take: Take, on_commits: Callable[[int], None]) -> list[str]:
        if os.getpid() != parent:
            raise Error("git broke in a worker", hint="fetch the missing objects")
        return claim_all(take, on_commits)[1]

    with pytest.raises(GitError) as raised:
        run_queued(fake_shas(500), 2, scan, lambda _: None)
    assert raised.value.message == "git broke in a worker"
    assert raised.value.hint == "fetch the missing objects"


def test_crash_in_a_worker_is_named() -> None:
    parent = os.getpid()

    def scan(take: Take, on_commits: Callable[[int], None]) -> list[str]:
        if os.getpid() != parent:
            raise ValueError("unexpected input")
        return claim_all(take, on_commits)[1]

    with pytest.raises(RuntimeError, match="ValueError: unexpected input"):
        run_queued(fake_shas(500), 2, scan, lambda _: None)


def test_worker_that_dies_without_a_result_is_reported() -> None:
    parent = os.getpid()

    def scan(take: Take, on_commits: Callable[[int], None]) -> list[str]:
        if os.getpid() != parent:
            os._exit(9)
        return claim_all(take, on_commits)[1]

    with pytest.raises(RuntimeError, match="without a result"):
        run_queued(fake_shas(500), 2, scan, lambda _: None)


def test_workers_are_stopped_when_the_caller_fails(tmp_path: Path) -> None:
    parent = os.getpid()
    pid_file = tmp_path / "worker.pid"

    def scan(take: Take, on_commits: Callable[[int], None]) -> list[str]:
        if os.getpid() != parent:
            # Written whole, then renamed, so the caller never reads a half-written file.
            partial = tmp_path / "worker.pid.partial"
            partial.write_text(str(os.getpid()))
            partial.replace(pid_file)
            time.sleep(60)
            return []
        while not pid_file.exists():
            time.sleep(0.01)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_queued(fake_shas(500), 2, scan, lambda _: None)
    worker = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)


def build_history(path: Path, commits: int, tokens: dict[int, str]) -> None:
    """Make a repository of `commits` commits; commit N adds tokens[N] when given."""
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    parts = []
    for number in range(commits):
        body = f"T={tokens[number]}\n" if number in tokens else f"value {number}\n"
        message = f"change {number}"
        parts.append(
            "commit refs/heads/main\n"
            f"mark :{number + 1}\n"
            f"committer Dev <dev@example.invalid> {1_500_000_000 + number} +0000\n"
            f"data {len(message)}\n{message}\n"
            + (f"from :{number}\n" if number else "")
            + f"M 100644 inline file{number % 7}.txt\n"
            f"data {len(body.encode())}\n{body}\n"
        )
    stream = "".join(parts)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=stream.encode(), check=True)
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)


def test_many_chunks_match_one_worker(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    tokens = {number: github_token() for number in (0, 77, 150, 151, 260, 299)}
    build_history(repo, 300, tokens)
    engine = Engine(all_detectors(Config()), Config())
    selection = history.select(repo)

    def summary(processes: int) -> list[tuple[str, str, bool]]:
        seen: list[int] = []
        outcome = history.scan_history(
            repo,
            engine,
            selection,
            Skipped(),
            max_size=1 << 20,
            exclude=[],
            progress=seen.append,
            processes=processes,
        )
        assert sum(seen) == 300
        return sorted(
            (f.secret.reveal(), f.history.first_seen.sha, f.history.present_at_tip)
            for f in outcome.findings
            if f.history is not None and f.secret is not None
        )

    single = summary(1)
    assert sorted(secret for secret, _, _ in single) == sorted(tokens.values())
    # Each file is rewritten every seventh commit, so only the newest token survives.
    assert [present for secret, _, present in single if secret == tokens[299]] == [True]
    assert sum(present for _, _, present in single) == 1
    assert summary(2) == single
    assert summary(4) == single


def test_workers_fork_with_stdout_and_stderr_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Python sets sys.stdout and sys.stderr to None when those descriptors were closed.
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)

    results = run_queued(fake_shas(300), 2, claim_all, lambda _: None)

    assert sorted(sha for _, part in results for sha in part) == fake_shas(300)


ORPHAN_SCRIPT = """
import os, signal, sys, time
from keyless.scan.history_workers import ChunkQueue, run_workers

log = sys.argv[1]
parent = os.getpid()


def scan(take, on_commits):
    if os.getpid() == parent:
        time.sleep(0.3)
        os.kill(parent, signal.SIGKILL)
    with open(log, "a") as out:
        while (chunk := take()) is not None:
            out.write(chunk[0] + "\\n")
            out.flush()
            time.sleep(0.05)


queue = ChunkQueue([f"{n:040x}" for n in range(128 * 40)], 2)
run_workers(queue, 2, scan, lambda done: None)
"""


def test_worker_stops_claiming_after_parent_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "claims.log"
    log.touch()
    subprocess.run([sys.executable, "-c", ORPHAN_SCRIPT, str(log)], check=False, timeout=30)

    # The worker goes on alone, and it must stop within a chunk or two.
    counts = [len(log.read_text().split())]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.3)
        counts.append(len(log.read_text().split()))
        if counts[-1] == counts[-2]:
            break

    assert counts[-1] == counts[-2], "the orphaned worker kept claiming chunks"
    assert counts[-1] < 15
