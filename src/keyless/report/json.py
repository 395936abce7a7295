"""The JSON report: versioned, documented in docs/json-report.md and docs/report.schema.json."""

from __future__ import annotations

from typing import Any

from keyless.findings import Commit, Finding
from keyless.report import json_text
from keyless.report.model import Report

SCHEMA_VERSION = 1


def render(report: Report) -> str:
    """Render the report as one JSON document."""
    document: dict[str, Any] = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "keyless", "version": report.tool_version},
        "kind": report.kind,
        "findings": [finding_to_dict(f) for f in report.sorted_findings()],
        "scanned": report.scanned,
        "skipped": report.skipped,
        "suppressed": report.suppressed,
        "ignored": report.ignored,
        "baselined": report.baselined,
    }
    if report.commit:
        document["commit"] = report.commit
    if report.notes:
        document["notes"] = report.notes
    return json_text.dumps(document)


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """Return the JSON object for one finding; it never contains the secret itself."""
    loc = finding.location
    data: dict[str, Any] = {
        "rule_id": finding.rule_id,
        "title": finding.title,
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
        "path": loc.path,
        "line": loc.line,
        "column": loc.column,
        "end_line": loc.end_line if loc.end_line is not None else loc.line,
        "end_column": loc.end_column,
        "fingerprint": finding.fingerprint,
        "preview": finding.preview,
        "message": finding.message or finding.title,
        "remediation": finding.remediation,
    }
    if finding.commit is not None:
        data["commit"] = {"sha": finding.commit.sha, "date": finding.commit.date}
    if finding.history is not None:
        history = finding.history
        data["first_seen"] = _commit_to_dict(history.first_seen)
        data["last_seen"] = _commit_to_dict(history.last_seen)
        data["paths"] = history.paths
        data["present_at_tip"] = history.present_at_tip
        data["exposure_days"] = history.exposure_days
    if finding.extra:
        data["extra"] = finding.extra
    return data


def _commit_to_dict(commit: Commit) -> dict[str, Any]:
    """Return a commit with its author, who may know where the secret is used."""
    data: dict[str, Any] = {"sha": commit.sha, "date": commit.date}
    if commit.author_name is not None or commit.author_email is not None:
        data["author"] = {"name": commit.author_name, "email": commit.author_email}
    return data
