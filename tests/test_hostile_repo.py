"""Scanning a repository whose config points every program hook at a script runs nothing."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import github_token


def make_hostile(repo: GitRepo, marker: Path) -> None:
    """Point hooks, diff drivers, textconv, filters, fsmonitor and pagers at a script."""
    script = repo.path.parent / "evil.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\ncat\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    hooks = repo.path.parent / "hooks"
    hooks.mkdir()
    for hook in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction"):
        target = hooks / hook
        target.write_text(script.read_text())
        target.chmod(0o755)
    settings = {
        "core.hooksPath": str(hooks),
        "core.fsmonitor": str(script),
        "core.pager": str(script),
        "pager.log": str(script),
        "pager.diff": str(script),
        "diff.external": str(script),
        "diff.evil.command": str(script),
        "diff.evil.textconv": str(script),
        "diff.evil.cachetextconv": "false",
        "filter.evil.clean": str(script),
        "filter.evil.smudge": str(script),
        "filter.evil.process": str(script),
        "filter.evil.required": "true",
        "diff.renames": "copies",
    }
    for key, value in settings.items():
        repo.git("config", key, value)
    attributes = "* diff=evil filter=evil\n"
    (repo.path / ".gitattributes").write_text(attributes)
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "attributes").write_text(attributes)


@pytest.fixture
def hostile(repo: GitRepo, tmp_path: Path) -> tuple[GitRepo, Path]:
    """A repository with history, a staged change and a hostile config set afterwards."""
    repo.write(".gitattributes", "* diff=evil filter=evil\n")
    repo.write("app.env", f"TOKEN={github_token()}\n")
    repo.commit("add app")
    repo.write("app.env", f"TOKEN={github_token()}\nMORE=1\n")
    repo.commit("change app")
    repo.write("staged.env", f"STAGED={github_token()}\n")
    repo.git("add", "staged.env")
    repo.write("app.env", "edited in the work tree\n")
    marker = tmp_path / "marker"
    make_hostile(repo, marker)
    assert not marker.exists()
    return repo, marker


@pytest.mark.parametrize(
    "args",
    [
        ["--history"],
        ["--history", "--branch", "main"],
        [],
        ["--staged"],
    ],
    ids=["history", "history-branch", "work-tree", "staged"],
)
def test_hostile_config_runs_nothing(
    hostile: tuple[GitRepo, Path],
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, marker = hostile
    monkeypatch.chdir(repo.path)

    code = main(["scan", *args])

    output = capsys.readouterr().out
    assert code == 1, output
    assert not marker.exists(), marker.read_text()


def test_hostile_config_is_live(hostile: tuple[GitRepo, Path]) -> None:
    # Control: plain git runs the configured programs, so the test above can fail.
    repo, marker = hostile
    for command in (["log", "-p", "-1"], ["status"]):
        subprocess.run(["git", *command], cwd=repo.path, capture_output=True, check=False)
        assert marker.exists(), command
        marker.unlink()
