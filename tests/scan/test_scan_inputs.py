"""What a scan reads: --staged limited to PATH arguments, reports kept off its inputs."""

from __future__ import annotations

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, run, scan_json


@pytest.fixture
def staged(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo.write("README.md", "hello\n")
    repo.commit("initial")
    repo.write("src/app.py", f"T = '{fakes.github_token()}'\n")
    repo.write("docs/notes.txt", f"T = '{fakes.github_token()}'\n")
    repo.git("add", ".")
    monkeypatch.chdir(repo.path)
    return repo


def test_staged_limited_to_paths(staged: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    _, document = scan_json(capsys, "--staged", "src")
    assert located(document) == [("github-token", "src/app.py", 1, 6)]
    _, document = scan_json(capsys, "--staged", "docs/notes.txt", "src/app.py")
    assert len(document["findings"]) == 2
    _, document = scan_json(capsys, "--staged", ".")
    assert len(document["findings"]) == 2


def test_staged_path_outside_repository(
    staged: GitRepo, capsys: pytest.CaptureFixture[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    result = run(capsys, "scan", "--staged", "src", str(outside))
    assert result.code == 2
    assert "is outside the repository" in result.err


@pytest.mark.parametrize("flag", ["-o", "--sarif-output", "--json-output"])
def test_report_onto_baseline(
    staged: GitRepo, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    assert run(capsys, "scan", "--baseline", "base.json", "--update-baseline").code == 0
    before = (staged.path / "base.json").read_text()
    result = run(capsys, "scan", "--baseline", "base.json", flag, "base.json")
    assert result.code == 2
    assert "would overwrite the baseline base.json" in result.err
    assert (staged.path / "base.json").read_text() == before


def test_report_onto_scanned_file(staged: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    before = (staged.path / "src/app.py").read_text()
    result = run(capsys, "scan", "src/app.py", "-o", "src/app.py")
    assert result.code == 2
    assert "would overwrite the scanned file src/app.py" in result.err
    assert (staged.path / "src/app.py").read_text() == before
