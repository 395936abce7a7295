"""`scan --staged` reads the index, not the work tree."""

from __future__ import annotations

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, scan_json


@pytest.fixture
def staged_repo(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo.write("README.md", "hello\n")
    repo.commit("initial")
    monkeypatch.chdir(repo.path)
    return repo


def test_staged_secret_removed_from_work_tree(
    staged_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    staged_repo.write("app.py", f"x = 1\nTOKEN = '{fakes.github_token()}'\n")
    staged_repo.git("add", "app.py")
    staged_repo.write("app.py", "x = 1\nTOKEN = os.environ['TOKEN']\n")
    result, document = scan_json(capsys, "--staged")
    assert result.code == 1
    assert located(document) == [("github-token", "app.py", 2, 10)]
    work_tree, clean = scan_json(capsys, "app.py")
    assert work_tree.code == 0
    assert clean["findings"] == []


def test_secret_only_in_work_tree_is_not_staged(
    staged_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    staged_repo.write("app.py", "x = 1\n")
    staged_repo.git("add", "app.py")
    staged_repo.write("app.py", f"x = 1\nTOKEN = '{fakes.github_token()}'\n")
    result, document = scan_json(capsys, "--staged")
    assert result.code == 0
    assert document["findings"] == []
    assert document["scanned"] == 1


def test_staged_scans_only_staged_files(
    staged_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    staged_repo.write("committed.py", f"t = '{fakes.github_token()}'\n")
    staged_repo.commit("add a secret")
    staged_repo.write("untracked.py", f"t = '{fakes.github_token()}'\n")
    staged_repo.write("new.py", f"t = '{fakes.slack_token()}'\n")
    staged_repo.git("add", "new.py")
    result, document = scan_json(capsys, "--staged")
    assert result.code == 1
    assert located(document) == [("slack-token", "new.py", 1, 6)]


def test_staged_in_repository_without_commits(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("first.py", f"t = '{fakes.github_token()}'\n")
    repo.git("add", "first.py")
    result, document = scan_json(capsys, "--staged")
    assert result.code == 1
    assert located(document) == [("github-token", "first.py", 1, 6)]
    assert "commit" not in document


def test_staged_skips_deletions_binaries_and_excludes(
    staged_repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    staged_repo.git("rm", "-q", "README.md")
    staged_repo.write("logo.png", b"\x89PNG\x00\x00" + fakes.github_token().encode())
    staged_repo.write("vendor/lib.py", f"t = '{fakes.github_token()}'\n")
    staged_repo.git("add", "logo.png", "vendor/lib.py")
    result, document = scan_json(capsys, "--staged", "--exclude", "vendor/")
    assert result.code == 0
    assert document["skipped"] == {"binary": 1, "excluded": 1}
    assert document["scanned"] == 0


def test_staged_from_subdirectory(
    staged_repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    staged_repo.write("pkg/mod.py", f"t = '{fakes.github_token()}'\n")
    staged_repo.git("add", "pkg/mod.py")
    monkeypatch.chdir(staged_repo.path / "pkg")
    result, document = scan_json(capsys, "--staged")
    assert result.code == 1
    assert located(document) == [("github-token", "pkg/mod.py", 1, 6)]


def test_staged_oversize_blob(staged_repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    staged_repo.write("big.txt", "a" * 4096 + "\n")
    staged_repo.git("add", "big.txt")
    result, document = scan_json(capsys, "--staged", "--max-file-size", "1KiB")
    assert result.code == 0
    assert document["skipped"] == {"too-large": 1}
    assert "big.txt: skipped, 4 KiB is over the 1 KiB limit" in result.err
