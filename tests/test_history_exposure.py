"""History scans: `last_seen` in harder histories, notes paths, SIGTERM, hex-shaped keys.

`last_seen` is documented as the last commit known to contain a secret: the tip
when the secret is still there, else the parent of the newest commit that removed
it, else the newest commit that added it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import github_token, random_string
from tests.test_history import only_finding, scan, set_date


def test_last_seen_secret_removed_by_merge(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge resolution that drops a secret both parents contain removes it."""
    token = github_token()
    repo.write("conf.py", f'token = "{token}"\nx = 1\n')
    added = repo.commit("add token")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("conf.py", f'token = "{token}"\nx = 2\n')
    repo.commit("side change")
    repo.git("checkout", "-q", "main")
    repo.write("conf.py", f'token = "{token}"\nx = 3\n')
    main_change = repo.commit("main change")
    # The merge conflicts on the `x` line; the resolution below is the merge's own text.
    merge = ["git", "merge", "-q", "--no-ff", "--no-commit", "side"]
    subprocess.run(merge, cwd=repo.path, capture_output=True, check=False)
    repo.write("conf.py", "token = None\nx = 4\n")
    repo.commit("merge side, dropping the token")
    repo.write("other.txt", "after\n")
    repo.commit("after merge")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == added
    assert finding["present_at_tip"] is False
    # main_change (the merge's first parent) still contained the token.
    assert finding["last_seen"]["sha"] == main_change


def test_last_seen_readded_on_side_branch_same_second(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A side branch that re-adds a secret after its removal contains it last.

    Scripted commits often share one committer second, but ancestry still orders them.
    """
    set_date(monkeypatch, "2024-01-01T00:00:00Z")
    token = github_token()
    repo.write("conf.py", f'token = "{token}"\n')
    repo.commit("add token")
    repo.write("conf.py", "token = None\n")
    removed = repo.commit("remove token")
    repo.git("checkout", "-q", "-b", "side")
    repo.write("conf.py", f'token = "{token}"\n')
    readded = repo.commit("re-add token on side")
    repo.git("checkout", "-q", "main")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["present_at_tip"] is False
    assert readded != removed
    assert finding["last_seen"]["sha"] == readded


def _import_placeholder_history(path: Path, commits: int) -> None:
    """Build `commits` commits whose lines reach the detectors but contain no secret."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    parts = []
    for number in range(commits):
        body = "".join(f'my_token = "{"x" * 28}{number:06d}{line:03d}"\n' for line in range(40))
        data = body.encode()
        parts.append(
            b"commit refs/heads/main\ncommitter C <c@example.invalid> %d +0000\ndata 1\nc\n"
            b"M 100644 inline f%d.txt\ndata %d\n%s\n"
            % (1_700_000_000 + number, number % 50, len(data), data)
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(parts), check=True)


def _live_processes(session: int) -> list[str]:
    """Return `pid command` of each process in `session` that has not exited."""
    out = subprocess.run(
        ["ps", "-o", "pid=,stat=,comm=", "-s", str(session)],
        check=False,
        capture_output=True,
        text=True,
    ).stdout
    return [line.strip() for line in out.splitlines() if " Z" not in f" {line.split()[1]}"]


def _terminate_scan_when(
    tmp_path: Path, ready: Callable[[list[str]], bool]
) -> tuple[int, list[str]]:
    """Start a two-worker history scan and send it SIGTERM once `ready` accepts its children.

    `ready` gets the command line of each child process. Return the scan's exit code and
    the processes of its session that are still alive.
    """
    _import_placeholder_history(tmp_path / "repo", 6000)
    command = [sys.executable, "-m", "keyless", "scan", "--history", "--jobs", "2", "-q"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path / "repo",
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = subprocess.run(
                ["ps", "-ww", "-o", "args=", "--ppid", str(proc.pid)],
                check=False,
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            if ready(children):
                break
            time.sleep(0.005)
        else:
            pytest.fail("the scan never reached the expected children")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)

        left = _live_processes(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return code, left


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
def test_sigterm_leaves_no_worker_running(tmp_path: Path) -> None:
    """SIGTERM, the default signal of `kill` and `docker stop`, must not orphan workers."""

    def worker_started(children: list[str]) -> bool:
        return len(children) >= 2 and any(child.startswith("git ") for child in children)

    _, left = _terminate_scan_when(tmp_path, worker_started)

    assert left == []


@pytest.mark.parametrize(
    ("line", "rule_id"),
    [
        ('softlayer_api_key = "{hex}"\n', "softlayer-key"),
        ('cloudant_password = "{hex}"\n', "cloudant-credentials"),
    ],
)
def test_plugin_key_of_64_hex_is_found(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    line: str,
    rule_id: str,
) -> None:
    """SoftLayer API keys and Cloudant passwords are 64 hex digits, like a SHA-256 id."""
    (tmp_path / "settings.py").write_text(line.format(hex=random_string(64, "0123456789abcdef")))
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()

    code = main(["scan", "settings.py", "--format", "json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [f["rule_id"] for f in document["findings"]] == [rule_id]


def test_last_seen_oversize_file_deleted(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting a file over the size limit removes the secret appended to it."""
    filler = "".join(f"filler line {n}\n" for n in range(2000))
    repo.write("big.log", filler)
    repo.commit("add a large log")
    repo.write("big.log", filler + f"T={github_token()}\n")
    repo.commit("append to the log")
    repo.write("README.md", "hello\n")
    still_there = repo.commit("unrelated change")
    repo.git("rm", "-q", "big.log")
    repo.commit("delete the log")

    code, document, _ = scan(repo, capsys, monkeypatch, "--max-file-size", "10KiB")

    assert code == 1
    finding = only_finding(document)
    assert finding["present_at_tip"] is False
    assert finding["last_seen"]["sha"] == still_there


def test_note_path_is_sha_with_fanout(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With many notes git stores them under `ab/cdef...`, and the path must stay the SHA."""
    stream = [b"commit refs/heads/main\ncommitter C <c@example.invalid> 1700000000 +0000\n"]
    stream.append(b"data 1\nc\n")
    for number in range(300):
        stream.append(
            b"commit refs/heads/main\ncommitter C <c@example.invalid> %d +0000\ndata 1\nc\n"
            b"M 100644 inline f.txt\ndata %d\n%d\n\n"
            % (1_700_000_000 + number, len(str(number)) + 1, number)
        )
    repo.git("fast-import", "--quiet", input=b"".join(stream))
    shas = repo.git("rev-list", "main").split()
    notes = [b"commit refs/notes/commits\ncommitter C <c@example.invalid> 1700000000 +0000\n"]
    notes.append(b"data 1\nn\n")
    notes.extend(b"N inline %s\ndata 5\nnote\n\n" % sha.encode() for sha in shas[1:])
    repo.git("fast-import", "--quiet", input=b"".join(notes))
    repo.git("notes", "add", "-m", f"token = {github_token()}", shas[0])
    fanned_out = repo.git("ls-tree", "--name-only", "refs/notes/commits").split()
    assert all(len(name) == 2 for name in fanned_out)

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["path"] == shas[0]


def test_last_seen_removed_from_file_marked_binary(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write(".gitattributes", "*.env -diff\n")
    repo.write("app.env", f"A=1\nK={github_token()}\n")
    repo.commit("add the token")
    repo.write("README.md", "hello\n")
    before_removal = repo.commit("unrelated")
    repo.write("app.env", "A=1\nK=from-the-vault\n")
    repo.commit("remove the token")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["present_at_tip"] is False
    assert finding["last_seen"]["sha"] == before_removal


def test_missing_baseline_fails_before_the_scan(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("app.env", f"K={github_token()}\n")
    repo.commit("add the token")

    code, document, err = scan(repo, capsys, monkeypatch, "-v", "--baseline", "missing.json")

    assert code == 2
    assert document == {}
    assert "missing.json: baseline not found" in err
    assert "history: scanning" not in err


def test_first_seen_among_many_branches(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    set_date(monkeypatch, "2020-01-01T00:00:00Z")
    repo.write("README.md", "hello\n")
    repo.commit("start")
    first = ""
    for number in range(1, 11):
        repo.git("checkout", "-q", "-b", f"b{number}", "main")
        # b5 is the oldest; the others are a day apart after it.
        day = 1 if number == 5 else 10 + number
        set_date(monkeypatch, f"2020-02-{day:02d}T00:00:00Z")
        repo.write(f"f{number}.env", f"TOKEN={token}\n")
        sha = repo.commit(f"b{number} adds the token")
        if number == 5:
            first = sha
        if number == 3:
            # A child of b3 dated before everything: its ancestor b3 came first.
            set_date(monkeypatch, "2019-06-01T00:00:00Z")
            repo.write("copy.env", f"TOKEN={token}\n")
            repo.commit("copy with a skewed clock")
    repo.git("checkout", "-q", "main")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    assert only_finding(document)["first_seen"]["sha"] == first


def test_sigterm_before_workers_stops_first_git(tmp_path: Path) -> None:
    def first_git_started(children: list[str]) -> bool:
        # The first worker's git starts once the SIGTERM handler is in place.
        return any("diff-tree" in child for child in children)

    code, left = _terminate_scan_when(tmp_path, first_git_started)

    assert code == 128 + signal.SIGTERM
    assert left == []
