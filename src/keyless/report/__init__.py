"""Output formats: one module per format, registered in FORMATS."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from keyless.report.model import Report

Renderer = Callable[[Report], str]

# Format name -> module with `render(report) -> str`. Modules are imported on use.
FORMATS: dict[str, str] = {
    "text": "keyless.report.text",
    "json": "keyless.report.json",
}


def render(format_name: str, report: Report) -> str:
    """Render `report` in the named format."""
    module = importlib.import_module(FORMATS[format_name])
    renderer: Renderer = module.render
    return renderer(report)
