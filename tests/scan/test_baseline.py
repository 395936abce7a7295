"""Baselines: written, read back, stable under edits, and read from detect-secrets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, run, scan_json

FIRST, SECOND, THIRD = fakes.github_token(), fakes.slack_token(), fakes.stripe_key()


@pytest.fixture
def project(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo.write("a.py", f"x = 1\nTOKEN = '{FIRST}'\n")
    repo.write("b.py", f"SLACK = '{SECOND}'\n")
    monkeypatch.chdir(repo.path)
    return repo


def write_baseline(capsys: pytest.CaptureFixture[str], *paths: str) -> None:
    result = run(capsys, "scan", "--baseline", "baseline.json", "--update-baseline", *paths)
    assert result.code == 0


def test_round_trip(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(capsys)
    result, document = scan_json(capsys, "--baseline", "baseline.json")
    assert result.code == 0
    assert document["findings"] == []
    assert document["baselined"] == 2


def test_file_format(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(capsys)
    raw = (project.path / "baseline.json").read_text()
    data = json.loads(raw)
    assert data["version"] == 1
    assert [(e["rule_id"], e["path"]) for e in data["findings"]] == [
        ("github-token", "a.py"),
        ("slack-token", "b.py"),
    ]
    for entry in data["findings"]:
        assert set(entry) == {"rule_id", "path", "hash"}
    assert FIRST not in raw
    assert SECOND not in raw
    assert "line" not in raw
    write_baseline(capsys)
    assert (project.path / "baseline.json").read_text() == raw


def test_edits_above_secret_keep_it_baselined(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(capsys)
    before = (project.path / "baseline.json").read_text()
    project.write("a.py", f"import os\n\n\ndef f():\n    pass\n\nx = 1\nTOKEN = '{FIRST}'\n")
    result, document = scan_json(capsys, "--baseline", "baseline.json")
    assert result.code == 0
    assert document["baselined"] == 2
    write_baseline(capsys)
    assert (project.path / "baseline.json").read_text() == before


def test_new_secret_is_reported(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(capsys)
    project.write("a.py", f"x = 1\nTOKEN = '{FIRST}'\nSTRIPE = '{THIRD}'\n")
    result, document = scan_json(capsys, "--baseline", "baseline.json")
    assert result.code == 1
    assert located(document) == [("stripe-key", "a.py", 3, 11)]
    assert document["baselined"] == 2


def test_same_secret_moved_to_other_file_is_new(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(capsys)
    project.write("c.py", f"COPY = '{FIRST}'\n")
    result, document = scan_json(capsys, "--baseline", "baseline.json")
    assert result.code == 1
    assert located(document) == [("github-token", "c.py", 1, 9)]


def test_partial_update_keeps_other_entries(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(capsys)
    project.write("a.py", "x = 1\n")
    write_baseline(capsys, "a.py")
    data = json.loads((project.path / "baseline.json").read_text())
    assert [(e["rule_id"], e["path"]) for e in data["findings"]] == [("slack-token", "b.py")]
    result, document = scan_json(capsys, "--baseline", "baseline.json")
    assert result.code == 0
    assert document["baselined"] == 1


def test_staged_update_keeps_other_entries(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(capsys)
    project.write("d.py", f"S = '{THIRD}'\n")
    project.git("add", "d.py")
    result = run(capsys, "scan", "--staged", "--baseline", "baseline.json", "--update-baseline")
    assert result.code == 0
    data = json.loads((project.path / "baseline.json").read_text())
    assert [e["path"] for e in data["findings"]] == ["a.py", "b.py", "d.py"]


def test_update_needs_baseline_path(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "scan", "--update-baseline")
    assert result.code == 2
    assert "--update-baseline needs --baseline FILE" in result.err


def test_detect_secrets_baseline(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    detect_secrets = Path(sys.executable).with_name("detect-secrets")
    proc = subprocess.run(
        [str(detect_secrets), "scan", "--all-files", "--no-verify"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=True,
    )
    (project.path / ".secrets.baseline").write_text(proc.stdout)
    recorded = json.loads(proc.stdout)["results"]
    assert sorted(recorded) == ["a.py", "b.py"]
    project.write("a.py", f"# moved down\nx = 1\nTOKEN = '{FIRST}'\nNEW = '{THIRD}'\n")
    result, document = scan_json(capsys, "--baseline", ".secrets.baseline")
    assert result.code == 1
    assert located(document) == [("stripe-key", "a.py", 4, 8)]
    assert document["baselined"] == 2
