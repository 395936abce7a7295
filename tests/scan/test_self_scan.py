"""keyless's own repository scans clean, so its tests build fake secrets at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyless.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]


def test_repository_has_no_findings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not (REPOSITORY / ".git").exists():
        pytest.skip("not run from a git checkout of keyless")
    monkeypatch.chdir(REPOSITORY)
    code = main(["scan"])
    assert code == 0, capsys.readouterr().out
