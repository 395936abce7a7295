"""Run `keyless audit` in-process and read its JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keyless.cli import main


def audit_json(
    capsys: pytest.CaptureFixture[str], *args: str | Path, expect: int | None = None
) -> dict[str, Any]:
    """Run `keyless audit --format json --fail-on never ARGS` and return the parsed report."""
    code = main(["audit", "--format", "json", "--fail-on", "never", *map(str, args)])
    captured = capsys.readouterr()
    if expect is not None:
        assert code == expect, captured.err
    report: dict[str, Any] = json.loads(captured.out)
    return report


def found(report: dict[str, Any], rule_id: str | None = None) -> set[tuple[int, str]]:
    """Return (line, rule id) of every finding, optionally of one rule."""
    return {
        (f["line"], f["rule_id"])
        for f in report["findings"]
        if rule_id is None or f["rule_id"] == rule_id
    }
