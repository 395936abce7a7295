"""Output formats: one module per format, registered in FORMATS."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace

from keyless.errors import UsageError
from keyless.findings import escape_undecodable as escape
from keyless.report.model import Report

Renderer = Callable[[Report], str]

# Format name -> module with `render(report) -> str`. Modules are imported on use.
# A module may set `KINDS`, the report kinds ("secrets", "audit") it can hold.
FORMATS: dict[str, str] = {
    "text": "keyless.report.text",
    "json": "keyless.report.json",
    "sarif": "keyless.report.sarif",
    "gitlab": "keyless.report.gitlab",
    "codequality": "keyless.report.codequality",
    "github": "keyless.report.github",
}

# Formats that suit the other kind better, named in the error for a mismatch.
_ALTERNATIVES = {"gitlab": "codequality"}


def render(format_name: str, report: Report) -> str:
    """Render `report` in the named format."""
    module = importlib.import_module(FORMATS[format_name])
    renderer: Renderer = module.render
    return renderer(escaped(report))


def escaped(report: Report) -> Report:
    """Return a copy of `report` whose paths and notes write non-UTF-8 bytes as `\\xNN`."""
    findings = []
    for finding in report.findings:
        copy = replace(finding, location=replace(finding.location, path=escape(finding.path)))
        copy.message = escape(finding.message)
        if finding.history is not None:
            paths = [escape(path) for path in finding.history.paths]
            copy.history = replace(finding.history, paths=paths)
        findings.append(copy)
    notes = [escape(note) for note in report.notes]
    return replace(report, findings=findings, notes=notes, root=escape(report.root))


def check_kind(format_name: str, kind: str) -> None:
    """Raise UsageError when the named format cannot hold a report of `kind`."""
    module = importlib.import_module(FORMATS[format_name])
    kinds: tuple[str, ...] | None = getattr(module, "KINDS", None)
    if kinds is None or kind in kinds:
        return
    alternative = _ALTERNATIVES.get(format_name)
    raise UsageError(
        f"the {format_name} format accepts only {' and '.join(kinds)} findings, "
        f"not {kind} findings",
        hint=f"use the {alternative} format instead" if alternative else None,
    )
