"""GitLab's Code Quality report (`gl-code-quality-report.json`).

Merge requests show these issues inline in the diff and in the Code Quality widget,
on every GitLab tier, when a job lists the file under `artifacts:reports:codequality`.
The format is a JSON array of Code Climate issues; GitLab reads `description`,
`check_name`, `fingerprint`, `severity`, `location.path` and `location.lines.begin`.
It suits audit findings, and takes secret findings too (previews redacted).
"""

from __future__ import annotations

from typing import Any

from keyless.findings import Finding
from keyless.report import json_text
from keyless.report.describe import finding_message, report_path, unique_fingerprints
from keyless.report.levels import CODE_QUALITY_SEVERITY
from keyless.report.model import Report


def render(report: Report) -> str:
    """Render the findings as a Code Quality issue list."""
    issues = [
        _issue(finding, fingerprint, report.kind, report.root)
        for finding, fingerprint in unique_fingerprints(report.sorted_findings())
    ]
    return json_text.dumps(issues, depth=1)


def _issue(finding: Finding, fingerprint: str, kind: str, root: str) -> dict[str, Any]:
    loc = finding.location
    return {
        "type": "issue",
        "check_name": finding.rule_id,
        "description": f"{finding.title}: {finding_message(finding)}",
        "content": {"body": finding.remediation},
        "categories": ["Security"],
        "severity": CODE_QUALITY_SEVERITY[finding.severity],
        "fingerprint": fingerprint,
        "location": {
            "path": report_path(loc.path, root),
            "lines": {
                "begin": loc.line,
                "end": loc.end_line if loc.end_line is not None else loc.line,
            },
        },
        "engine_name": f"keyless {kind}",
    }
