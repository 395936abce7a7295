"""Helpers that run `keyless scan` in-process and check its JSON against the schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyless.cli import main

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"
_validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    """Run `keyless argv...` and return its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def validate(document: Any) -> None:
    """Fail with every schema error when `document` is not a valid JSON report."""
    errors = sorted(_validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []


def scan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[Run, dict[str, Any]]:
    """Run `keyless scan --format json argv...`, validate the report and return it."""
    result = run(capsys, "scan", "--format", "json", *argv)
    document = json.loads(result.out)
    validate(document)
    return result, document


def located(document: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    """Return (rule id, path, line, column) of each finding in a JSON report."""
    return [(f["rule_id"], f["path"], f["line"], f["column"]) for f in document["findings"]]
