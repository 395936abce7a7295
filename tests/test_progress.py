"""The progress bar: drawn on terminals only, never in CI or with --quiet."""

from __future__ import annotations

import io
import logging

import pytest

from keyless import logs
from keyless.progress import Progress, wanted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_shows_done_total_rate_and_eta() -> None:
    progress = Progress(200, "commits", stream=Terminal(), enabled=True)
    progress.done = 50

    line = progress.line(elapsed=2.0)

    assert line.startswith("[######------------------] 50/200 commits")
    assert "25/s" in line
    assert line.endswith("ETA 6s")


def test_bar_drawn_and_cleared_on_terminal() -> None:
    stream = Terminal()
    progress = Progress(3, "commits", stream=stream, enabled=True)
    progress.advance(3)
    progress.close()

    output = stream.getvalue()
    assert "3/3 commits" in output
    assert output.endswith("\r")


def test_not_wanted_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    logs.setup()
    monkeypatch.setenv("CI", "true")
    assert not wanted(Terminal())


def test_not_wanted_when_quiet() -> None:
    logs.setup(quiet=True)
    try:
        assert not wanted(Terminal())
    finally:
        logs.setup()


def test_wanted_on_terminal_only() -> None:
    logs.setup()
    assert logs.logger.getEffectiveLevel() == logging.WARNING
    assert wanted(Terminal())
    assert not wanted(io.StringIO())


def test_disabled_bar_writes_nothing() -> None:
    stream = io.StringIO()
    progress = Progress(10, "commits", stream=stream)
    progress.advance(10)
    progress.close()
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("value", "drawn"),
    [("", True), ("0", True), ("false", True), ("FALSE", True), ("1", False), ("yes", False)],
)
def test_ci_values(monkeypatch: pytest.MonkeyPatch, value: str, drawn: bool) -> None:
    # The rule docs/history-scanning.md states: CI set to anything but empty, 0 or false.
    logs.setup()
    monkeypatch.setenv("CI", value)
    assert wanted(Terminal()) is drawn
