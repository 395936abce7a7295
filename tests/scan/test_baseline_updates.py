"""Baseline updates drop entries of deleted files and keep those of disabled rules."""

from __future__ import annotations

import json

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import run


@pytest.fixture
def project(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo.write("a.py", f"print('{fakes.github_token()}')\n")
    repo.write("b.py", f"print('{fakes.slack_token()}')\n")
    monkeypatch.chdir(repo.path)
    return repo


def entries(repo: GitRepo) -> list[tuple[str, str]]:
    data = json.loads((repo.path / "base.json").read_text())
    return [(e["rule_id"], e["path"]) for e in data["findings"]]


def update(capsys: pytest.CaptureFixture[str], *argv: str) -> None:
    assert run(capsys, "scan", "--baseline", "base.json", "--update-baseline", *argv).code == 0


def test_partial_update_drops_deleted_file(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    update(capsys)
    assert entries(project) == [("github-token", "a.py"), ("slack-token", "b.py")]
    (project.path / "b.py").unlink()
    update(capsys, "a.py")
    assert entries(project) == [("github-token", "a.py")]


def test_update_keeps_disabled_rule(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    update(capsys)
    project.write(".keyless.toml", 'disable = ["slack-token"]\n')
    update(capsys)
    assert entries(project) == [("github-token", "a.py"), ("slack-token", "b.py")]
