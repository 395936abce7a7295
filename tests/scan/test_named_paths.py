"""PATH arguments are scanned as named: links followed, folders git ignores included."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, scan_json


@pytest.fixture
def project(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo.write("real/s.py", f"print('{fakes.github_token()}')\n")
    monkeypatch.chdir(repo.path)
    return repo


def test_link_to_file(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    Path("linkfile").symlink_to("real/s.py")
    result, document = scan_json(capsys, "linkfile")
    assert result.code == 1
    assert located(document) == [("github-token", "linkfile", 1, 8)]
    assert document["skipped"] == {}


def test_link_to_folder(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    Path("linkdir").symlink_to("real")
    result, document = scan_json(capsys, "linkdir")
    assert result.code == 1
    assert located(document) == [("github-token", "real/s.py", 1, 8)]


def test_link_to_folder_outside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "s.py").write_text(f"print('{fakes.github_token()}')\n")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "linkdir").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "work")
    result, document = scan_json(capsys, "linkdir")
    assert result.code == 1
    assert [f["rule_id"] for f in document["findings"]] == ["github-token"]


def test_folder_git_ignores(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(".gitignore", "secrets/\n")
    project.write("secrets/prod.env", f"X={fakes.github_token()}\n")
    result, document = scan_json(capsys, "secrets/")
    assert result.code == 1
    assert located(document) == [("github-token", "secrets/prod.env", 1, 3)]
    # A whole-repository scan still leaves out what git ignores.
    _, whole = scan_json(capsys)
    assert [f["path"] for f in whole["findings"]] == ["real/s.py"]
