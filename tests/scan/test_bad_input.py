"""Bad input: each gets a message naming the path, no traceback, and the scan goes on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import Run, located, run, scan_json

TOKEN = fakes.github_token()


def assert_clean_error(result: Run, *names: str) -> None:
    for name in names:
        assert name in result.err
    assert "Traceback" not in result.err
    assert "internal error" not in result.err


@pytest.fixture
def tree(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A repository with one real secret, so each test can check the scan went on."""
    repo.write("leak.py", f'TOKEN = "{TOKEN}"\n')
    monkeypatch.chdir(repo.path)
    return repo


def test_unreadable_file(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        # root reads any file whatever its mode; the kernel refuses reads of this one (EIO).
        target = "/proc/self/mem"
        result, document = scan_json(capsys, "leak.py", target)
    else:
        locked = tree.write("locked.txt", "x\n")
        locked.chmod(0)
        target = "locked.txt"
        result, document = scan_json(capsys)
    assert result.code == 1
    assert document["skipped"] == {"unreadable": 1}
    assert located(document) == [("github-token", "leak.py", 1, 10)]
    assert_clean_error(result, f"{target}: cannot read")


def test_broken_symlink(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    (tree.path / "dangling").symlink_to("does-not-exist")
    result, document = scan_json(capsys)
    assert result.code == 1
    assert document["skipped"] == {"broken-symlink": 1}
    assert len(document["findings"]) == 1
    assert_clean_error(result, "dangling: broken symbolic link")


def test_symlink_loop(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    (tree.path / "loop-a").symlink_to("loop-b")
    (tree.path / "loop-b").symlink_to("loop-a")
    result, document = scan_json(capsys)
    assert result.code == 1
    assert document["skipped"] == {"symlink-loop": 2}
    assert len(document["findings"]) == 1
    assert_clean_error(result, "loop-a: symbolic link loop", "loop-b: symbolic link loop")


def test_symlink_loop_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "up").symlink_to("..")
    (tmp_path / "leak.py").write_text(f"t = '{TOKEN}'\n")
    monkeypatch.chdir(tmp_path)
    result, document = scan_json(capsys)
    assert result.code == 1
    assert located(document) == [("github-token", "leak.py", 1, 6)]
    assert document["skipped"] == {"symlink": 1, "symlink-loop": 1}
    assert_clean_error(result, "loop: symbolic link loop")


def test_invalid_encoding(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    tree.write("latin1.txt", b"caf\xe9\n" + f"token {TOKEN}\n".encode())
    result, document = scan_json(capsys)
    assert result.code == 1
    assert ("github-token", "latin1.txt", 2, 7) in located(document)
    assert_clean_error(result, "latin1.txt: not valid utf-8")


def test_huge_single_line_is_skipped(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    tree.write("huge.min.js", b"a" * 50_000_000 + TOKEN.encode())
    result, document = scan_json(capsys)
    assert result.code == 1
    assert document["skipped"] == {"too-large": 1}
    assert located(document) == [("github-token", "leak.py", 1, 10)]
    assert_clean_error(result, "huge.min.js: skipped, 47.7 MiB is over the 2 MiB limit")
    assert "--max-file-size" in result.err


@pytest.mark.slow
def test_huge_single_line_scanned_when_allowed(
    tree: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    tree.write("huge.min.js", b"var a='" + b"a" * 50_000_000 + f"';t='{TOKEN}'".encode())
    result, document = scan_json(capsys, "--max-file-size", "64MiB")
    assert result.code == 1
    assert ("github-token", "huge.min.js", 1, 50_000_013) in located(document)
    assert document["skipped"] == {}


def test_missing_path_scans_the_rest(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    result, document = scan_json(capsys, "leak.py", "gone.py")
    assert result.code == 2
    assert located(document) == [("github-token", "leak.py", 1, 10)]
    assert_clean_error(result, "gone.py: no such file or directory")


def test_staged_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(capsys, "scan", "--staged")
    assert result.code == 2
    assert result.out == ""
    assert_clean_error(result, f"{tmp_path} is not in one", "Tip:")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (".keyless.toml", "exclude = [", "invalid TOML"),
        (".keyless.toml", 'exclude = "not-a-list"', "exclude must be a list of strings"),
        (".keyless.toml", 'allowlist = ["("]', "invalid regular expression"),
        (".keyless.toml", 'max-file-size = "lots"', "invalid size"),
        (".keyless.toml", '[[detectors]]\nid = "Bad Id"\nregex = "x"', "each detector needs an id"),
        ("pyproject.toml", "[tool.keyless]\nexclude = [1]", "exclude must be a list of strings"),
        ("pyproject.toml", "[tool.keyless\n", "invalid TOML"),
    ],
)
def test_malformed_config(
    tree: GitRepo, capsys: pytest.CaptureFixture[str], name: str, content: str, expected: str
) -> None:
    tree.write(name, content)
    result = run(capsys, "scan")
    assert result.code == 2
    assert_clean_error(result, f"{name}: ", expected)


def test_broken_pyproject_without_keyless_is_ignored(
    tree: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    tree.write("pyproject.toml", "[project\n")
    result, document = scan_json(capsys)
    assert result.code == 1
    assert len(document["findings"]) == 1


def test_missing_config_file(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "scan", "--config", "nope.toml")
    assert result.code == 2
    assert_clean_error(result, "nope.toml: config file not found")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "baseline is not valid JSON (line 1)"),
        ("[]", "baseline must be a JSON object"),
        ('{"version": 99, "findings": []}', "unsupported baseline version 99"),
        ('{"version": 1, "findings": [{"rule_id": 1}]}', "baseline entry 0 needs rule_id"),
        ('{"version": 1}', "baseline has no findings list"),
        ('{"results": [], "plugins_used": []}', "detect-secrets baseline has no results"),
        (b"\xff\xfe\x00", "cannot read baseline"),
    ],
)
def test_malformed_baseline(
    tree: GitRepo, capsys: pytest.CaptureFixture[str], content: str | bytes, expected: str
) -> None:
    tree.write("base.json", content)
    result = run(capsys, "scan", "--baseline", "base.json")
    assert result.code == 2
    assert_clean_error(result, "base.json: ", expected)


def test_missing_baseline(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "scan", "--baseline", "none.json")
    assert result.code == 2
    assert_clean_error(result, "none.json: baseline not found", "--update-baseline")


def test_invalid_max_file_size(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "scan", "--max-file-size", "huge")
    assert result.code == 2
    assert_clean_error(result, "--max-file-size: invalid size 'huge'")


def test_unwritable_output(tree: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    tree.write("blocker", "a file, not a folder\n")
    result = run(capsys, "scan", "--output", "blocker/report.txt")
    assert result.code == 2
    assert_clean_error(result, "blocker/report.txt: cannot write the text report")
