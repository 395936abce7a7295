"""`keyless scan --history` on real repositories built for each case."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import aws_key_id, github_token
from tests.scan.support import validate


def scan(
    repo: GitRepo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
) -> tuple[int, dict[str, Any], str]:
    """Run `keyless scan --history --format json ARGS` in `repo`; return code, JSON, stderr."""
    monkeypatch.chdir(repo.path)
    capsys.readouterr()
    code = main(["scan", "--history", "--format", "json", *args])
    captured = capsys.readouterr()
    document = json.loads(captured.out) if captured.out.strip() else {}
    if document:
        validate(document)
    return code, document, captured.err


def by_rule(document: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    return [f for f in document["findings"] if f["rule_id"] == rule_id]


def only_finding(document: dict[str, Any]) -> dict[str, Any]:
    findings = document["findings"]
    assert len(findings) == 1, findings
    result: dict[str, Any] = findings[0]
    return result


def set_date(monkeypatch: pytest.MonkeyPatch, date: str) -> None:
    monkeypatch.setenv("GIT_AUTHOR_DATE", date)
    monkeypatch.setenv("GIT_COMMITTER_DATE", date)


def test_deleted_file_secret(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write("README.md", "hello\n")
    repo.commit("start")
    repo.write("deploy.sh", f"#!/bin/sh\necho start\nexport GH_TOKEN={token}\n")
    added = repo.commit("add deploy script")
    repo.write("notes.txt", "unrelated\n")
    still_there = repo.commit("unrelated change")
    repo.git("rm", "-q", "deploy.sh")
    repo.commit("remove deploy script")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["rule_id"] == "github-token"
    assert finding["path"] == "deploy.sh"
    assert finding["line"] == 3
    assert finding["first_seen"]["sha"] == added
    assert finding["commit"]["sha"] == added
    assert finding["paths"] == ["deploy.sh"]
    assert finding["present_at_tip"] is False
    assert finding["last_seen"]["sha"] == still_there
    assert document["scanned"] == 4


def test_secret_present_at_tip(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write("config.env", f"TOKEN={token}\n")
    added = repo.commit("add config")
    repo.write("config.env", f"# comment\nTOKEN={token}\n")
    tip = repo.commit("document config")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == added
    assert finding["line"] == 1
    assert finding["present_at_tip"] is True
    assert finding["last_seen"]["sha"] == tip
    assert finding["paths"] == ["config.env"]


def test_merge_resolution_only_secret(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write("settings.py", "NAME = 'base'\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("settings.py", "NAME = 'feature'\n")
    repo.commit("feature name")
    repo.git("checkout", "-q", "main")
    repo.write("settings.py", "NAME = 'main'\n")
    repo.commit("main name")
    merge = subprocess.run(
        ["git", "merge", "-q", "feature"], cwd=repo.path, capture_output=True, check=False
    )
    assert merge.returncode != 0, "the merge must conflict"
    repo.write("settings.py", f"NAME = 'merged'\nGITHUB_TOKEN = '{token}'\n")
    merge_sha = repo.commit("merge feature")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["rule_id"] == "github-token"
    assert finding["first_seen"]["sha"] == merge_sha
    assert finding["path"] == "settings.py"
    assert finding["line"] == 2
    assert finding["present_at_tip"] is True


def test_rename_and_copy_followed_with_copies_config(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.git("config", "diff.renames", "copies")
    token = github_token()
    body = "".join(f"line {n}\n" for n in range(20)) + f"token = '{token}'\n"
    repo.write("old/settings.py", body)
    added = repo.commit("add settings")
    (repo.path / "new").mkdir()
    repo.git("mv", "old/settings.py", "new/settings.py")
    repo.commit("move settings")
    repo.write("copy/settings.py", body)
    repo.commit("copy settings")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == added
    assert finding["path"] == "old/settings.py"
    assert finding["line"] == 21
    assert finding["paths"] == ["copy/settings.py", "new/settings.py", "old/settings.py"]
    assert finding["present_at_tip"] is True


def test_binary_and_oversize_counted(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    binary_token = github_token()
    big_token = github_token()
    repo.write("image.bin", b"\x89PNG\0\0" + f"key={binary_token}".encode() + b"\0" * 64)
    repo.write("big.txt", "x" * 200 + "\n" + ("filler line\n" * 2000) + f"T={big_token}\n")
    repo.commit("add binary and large files")

    code, document, _ = scan(repo, capsys, monkeypatch, "--max-file-size", "10KiB")

    assert code == 0
    assert document["findings"] == []
    assert document["skipped"] == {"binary": 1, "too-large": 1}


def test_very_long_line(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    line = "var a=" + "x1," * 150_000 + f"t='{token}';" + "y2," * 150_000
    repo.write("bundle.min.js", "// minified\n" + line + "\n")
    added = repo.commit("add bundle")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == added
    assert finding["line"] == 2
    assert finding["column"] == line.index(token) + 1
    assert finding["present_at_tip"] is True


def test_submodule_reported_not_followed(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    first = repo.commit("start")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{first},vendor/lib")
    repo.commit("add submodule", all_files=False)

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 0
    assert document["skipped"] == {"submodule": 1}
    assert any("submodule(s) not followed: vendor/lib" in note for note in document["notes"])


def test_empty_repository(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 0
    assert document["findings"] == []
    assert document["scanned"] == 0
    assert any("no commits to scan" in note for note in document["notes"])


def test_detached_head(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write("README.md", "hello\n")
    start = repo.commit("start")
    repo.git("checkout", "-q", "--detach", start)
    repo.write("ci.yml", f"token: {token}\n")
    detached = repo.commit("commit on a detached HEAD")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == detached
    assert finding["paths"] == ["ci.yml"]
    assert finding["present_at_tip"] is True
    assert document["commit"] == detached


def test_shallow_clone_reported(
    repo: GitRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = github_token()
    repo.write("keys.env", f"GH={token}\n")
    repo.commit("add key")
    for number in range(3):
        repo.write("notes.txt", f"note {number}\n")
        repo.commit(f"note {number}")
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(clone)],
        check=True,
        capture_output=True,
    )
    shallow = GitRepo.__new__(GitRepo)
    shallow.path = clone
    boundary = shallow.git("rev-parse", "HEAD~1").strip()

    code, document, err = scan(shallow, capsys, monkeypatch)

    assert code == 1
    assert document["scanned"] == 2
    finding = only_finding(document)
    # The boundary commit shows its whole tree as added, so the key is found there.
    assert finding["first_seen"]["sha"] == boundary
    assert finding["present_at_tip"] is True
    note = next(n for n in document["notes"] if n.startswith("shallow clone"))
    assert "history stops at 1 commit(s) whose 1 parent commit(s)" in note
    assert "fetch-depth: 0" in note
    assert "shallow clone" in err


def test_missing_since_is_usage_error(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")

    code, document, err = scan(repo, capsys, monkeypatch, "--since", "v9.9.9")

    assert code == 2
    assert document == {}
    assert "--since v9.9.9: no such commit in this repository" in err
    assert "fetch-depth: 0" in err


def test_since_branch_and_range_select_commits(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old_token, new_token, side_token = github_token(), github_token(), github_token()
    repo.write("a.env", f"A={old_token}\n")
    old = repo.commit("old secret")
    repo.write("b.env", f"B={new_token}\n")
    new = repo.commit("new secret")
    repo.git("checkout", "-q", "-b", "side", old)
    repo.write("c.env", f"C={side_token}\n")
    side = repo.commit("side secret")
    repo.git("checkout", "-q", "main")

    def first_seen(*args: str) -> list[str]:
        code, document, _ = scan(repo, capsys, monkeypatch, *args)
        assert code == 1
        return sorted(f["first_seen"]["sha"] for f in document["findings"])

    assert first_seen() == sorted([old, new, side])
    assert first_seen("--branch", "main") == sorted([old, new])
    assert first_seen("--since", old) == sorted([new, side])
    assert first_seen("--branch", "side", "--since", old) == [side]
    assert first_seen("--range", f"{old}..main") == [new]
    assert first_seen("--range", f"{'0' * 40}..side") == sorted([old, side])


def test_invalid_range_is_usage_error(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")

    code, _, err = scan(repo, capsys, monkeypatch, "--range", "main")

    assert code == 2
    assert "--range main: expected A..B" in err


def test_rotate_section_ordered_by_exposure(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recent, old = github_token(), aws_key_id()
    set_date(monkeypatch, "2021-01-01T00:00:00Z")
    repo.write("old.env", f"AWS_ACCESS_KEY_ID={old}\n")
    repo.commit("old key")
    set_date(monkeypatch, "2024-06-01T00:00:00Z")
    repo.write("new.env", f"GH={recent}\n")
    repo.commit("new token")
    monkeypatch.chdir(repo.path)
    capsys.readouterr()

    code = main(["scan", "--history"])
    out = capsys.readouterr().out

    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("Rotate these 2 secrets")
    assert "aws-access-key-id" in lines[1]
    assert "(2021-01-01) at old.env:1, still present at the tip" in lines[1]
    assert "github-token" in lines[2]
    assert "2 secrets (2 high) in 2 commits scanned." in out


def test_authors_in_json_not_in_logs(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("keys.env", f"GH={github_token()}\n")
    repo.commit("add key")

    code, document, err = scan(repo, capsys, monkeypatch, "-vv")

    assert code == 1
    author = only_finding(document)["first_seen"]["author"]
    assert author == {"name": "Test Author", "email": "author@example.invalid"}
    assert "history: scanning" in err
    assert "Test Author" not in err
    assert "author@example.invalid" not in err


def test_paths_rejected_with_history(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")

    code, _, err = scan(repo, capsys, monkeypatch, "README.md")

    assert code == 2
    assert "PATH arguments cannot be combined with --history" in err


def test_baseline_accepts_history_findings(
    repo: GitRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo.write("keys.env", f"GH={github_token()}\n")
    repo.commit("add key")
    repo.git("mv", "keys.env", "moved.env")
    repo.commit("move key")
    baseline = tmp_path / "baseline.json"

    code, _, _ = scan(repo, capsys, monkeypatch, "--baseline", str(baseline), "--update-baseline")
    assert code == 0
    code, document, _ = scan(repo, capsys, monkeypatch, "--baseline", str(baseline))

    assert code == 0
    assert document["findings"] == []
    assert document["baselined"] == 1


def test_allow_comment_only_on_neighbouring_line(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [f"line {n}" for n in range(1, 41)]
    repo.write("app.py", "\n".join(lines) + "\n")
    repo.commit("start")
    allowed, reported = github_token(), github_token()
    lines[4] = "# keyless: allow[github-token] fixture"
    lines[5] = f"ALLOWED = '{allowed}'"
    # The last added line of the first hunk; the next added line is 23 lines further.
    lines[6] = "# keyless: allow[github-token] another fixture"
    lines[29] = f"REPORTED = '{reported}'"
    repo.write("app.py", "\n".join(lines) + "\n")
    changed = repo.commit("two hunks")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == changed
    assert finding["line"] == 30
    assert document["suppressed"] == 1


def test_gitattributes_cannot_hide_text(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write(".gitattributes", "*.env -diff\n")
    repo.write("app.env", f"# settings\nTOKEN={token}\n")
    repo.write("logo.png", b"\x89PNG\0" + b"\0" * 32)
    added = repo.commit("hide env files from diffs")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == added
    assert finding["path"] == "app.env"
    assert finding["line"] == 2
    assert finding["present_at_tip"] is True
    assert document["skipped"] == {"binary": 1}


def test_rotate_section_escapes_paths(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write("plain.env", f"GH={token}\n")
    repo.write("evil\n::warning::injected.env", f"GH={token}\n")
    repo.commit("add key twice")
    monkeypatch.chdir(repo.path)
    capsys.readouterr()

    code = main(["scan", "--history"])
    out = capsys.readouterr().out

    assert code == 1
    assert out.startswith("Rotate this secret:")
    assert not any(line.startswith("::") for line in out.splitlines())
