"""No format ever contains a full secret: planted values never reach any output."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyless.cli import main
from keyless.report import FORMATS, render
from keyless.report.model import Report
from tests.report.conftest import PlantedRepo
from tests.report.support import history_finding


def test_no_secret_in_any_format(
    planted: PlantedRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    outputs = tmp_path / "out"
    outputs.mkdir()
    argv = ["scan", "--format", "github", "-v"]
    for name in FORMATS:
        if name != "github":
            argv += [f"--{name}-output", str(outputs / f"report.{name}")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    texts = {path.name: path.read_text(encoding="utf-8") for path in outputs.iterdir()}
    texts["stdout"] = captured.out
    texts["stderr"] = captured.err
    # The summary backslash-escapes Markdown characters, which could hide a leaked value
    # from a plain substring check, so the check reads it with the escapes removed.
    texts["summary"] = summary.read_text(encoding="utf-8").replace("\\", "")
    assert len(texts) == len(FORMATS) + 2
    for name, text in texts.items():
        for value in planted.secrets:
            assert value not in text, f"{name} contains a planted secret"
    # The reports did carry the findings, only redacted.
    for name in ("report.sarif", "report.gitlab", "report.json", "stdout", "summary"):
        assert "ghp_****" in texts[name], name


def test_no_history_secret_in_any_format() -> None:
    value = "ghp_" + "L" * 30 + "abcdef"
    report = Report(kind="secrets", findings=[history_finding(value)], commit="f" * 40)
    for name in FORMATS:
        text = render(name, report)
        assert value not in text, name
        assert value[:8] not in text, name
