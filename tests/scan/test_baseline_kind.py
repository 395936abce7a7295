"""Baselines record whether they hold secret or audit findings, and warn on a mix-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyless.cli import main
from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import run

MISMATCH = "none of its entries can match"
# A workflow that passes static AWS keys, which `keyless audit` reports.
WORKFLOW = """\
on: push
permissions:
  contents: read
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
          aws-region: eu-central-1
"""


@pytest.fixture
def project(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A work tree with one fake secret and one workflow that the audit flags."""
    repo.write("a.py", f"TOKEN = '{fakes.github_token()}'\n")
    repo.write(".github/workflows/deploy.yml", WORKFLOW)
    monkeypatch.chdir(repo.path)
    return repo


def update(capsys: pytest.CaptureFixture[str], command: str, name: str) -> int:
    return run(capsys, command, "--baseline", name, "--update-baseline").code


@pytest.mark.parametrize(("command", "kind"), [("scan", "secrets"), ("audit", "audit")])
def test_new_baseline_records_kind(
    project: GitRepo, capsys: pytest.CaptureFixture[str], command: str, kind: str
) -> None:
    assert update(capsys, command, "baseline.json") == 0
    data = json.loads((project.path / "baseline.json").read_text())
    assert data["version"] == 1
    assert data["kind"] == kind
    assert data["findings"]


@pytest.mark.parametrize(("writer", "reader"), [("scan", "audit"), ("audit", "scan")])
def test_other_kind_of_baseline_warns(
    project: GitRepo, capsys: pytest.CaptureFixture[str], writer: str, reader: str
) -> None:
    assert update(capsys, writer, "baseline.json") == 0
    result = run(capsys, reader, "--baseline", "baseline.json")
    assert result.code == 1
    assert MISMATCH in result.err
    assert f"Give `keyless {reader}` its own baseline file" in result.err


@pytest.mark.parametrize("command", ["scan", "audit"])
def test_same_kind_of_baseline_is_quiet(
    project: GitRepo, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    assert update(capsys, command, "baseline.json") == 0
    result = run(capsys, command, "--baseline", "baseline.json")
    assert result.code == 0
    assert MISMATCH not in result.err


def test_baseline_without_kind_is_read_quietly(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert update(capsys, "scan", "baseline.json") == 0
    path = project.path / "baseline.json"
    data = json.loads(path.read_text())
    del data["kind"]
    path.write_text(json.dumps(data))
    assert run(capsys, "scan", "--baseline", "baseline.json").code == 0
    result = run(capsys, "audit", "--baseline", "baseline.json")
    assert result.code == 1
    assert MISMATCH not in result.err


def test_detect_secrets_baseline_in_audit_warns(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"version": "1.5.0", "plugins_used": [], "results": {}}
    (project.path / ".secrets.baseline").write_text(json.dumps(document))
    result = run(capsys, "audit", "--baseline", ".secrets.baseline")
    assert "this is a baseline of secrets findings" in result.err


def test_update_over_other_kind_is_error(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert update(capsys, "scan", "baseline.json") == 0
    before = (project.path / "baseline.json").read_text()
    result = run(capsys, "audit", "--baseline", "baseline.json", "--update-baseline")
    assert result.code == 2
    assert "baseline.json: is a baseline of secrets findings" in result.err
    assert "give `keyless audit` its own baseline file" in result.err
    assert (project.path / "baseline.json").read_text() == before


def test_invalid_kind_is_config_error(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    Path("baseline.json").write_text(json.dumps({"version": 1, "kind": 3, "findings": []}))
    result = run(capsys, "scan", "--baseline", "baseline.json")
    assert result.code == 2
    assert "baseline kind must be a string" in result.err


def test_history_baseline_records_kind(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("app.py", f'TOKEN = "{fakes.github_token()}"\n')
    repo.commit("add a token")
    baseline = repo.path / "history.baseline.json"
    assert main(["scan", "--history", "--baseline", str(baseline), "--update-baseline"]) == 0
    assert json.loads(baseline.read_text())["kind"] == "secrets"
    capsys.readouterr()
    main(["audit", "--baseline", str(baseline)])
    assert "Give `keyless audit` its own baseline file" in capsys.readouterr().err
