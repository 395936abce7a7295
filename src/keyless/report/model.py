"""The report model that commands pass to the output formats."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from keyless import __version__
from keyless.findings import Finding, Rule


@dataclass
class Report:
    """The findings of one run with what was scanned, skipped and hidden."""

    kind: str  # "secrets" or "audit"
    findings: list[Finding]
    rules: list[Rule] = field(default_factory=list)
    scanned: int = 0
    # What `scanned` counts: files, or commits for a history scan.
    scanned_unit: str = "file"
    skipped: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    # Findings hidden by the config's `[[ignore]]` entries (inline allows are `suppressed`).
    ignored: int = 0
    baselined: int = 0
    root: str = "."
    commit: str | None = None
    started: datetime | None = None
    finished: datetime | None = None
    notes: list[str] = field(default_factory=list)
    tool_version: str = __version__

    def sorted_findings(self) -> list[Finding]:
        """Return findings worst first, then by path and line."""
        return sorted(self.findings, key=Finding.sort_key)
