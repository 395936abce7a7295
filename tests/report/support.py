"""Reports for the format tests: synthetic audit and history findings, schema loading."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from keyless.findings import Commit, Confidence, Finding, History, Location, Rule, Severity
from keyless.report.model import Report
from keyless.secret import Secret

SCHEMAS = Path(__file__).parent / "schemas"
STARTED = datetime(2026, 12, 4, 10, 0, 0, tzinfo=timezone.utc)


def load_schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return data


def audit_rule(rule_id: str, severity: Severity) -> Rule:
    return Rule(
        id=rule_id,
        title=f"Audit rule {rule_id}",
        severity=severity,
        confidence=Confidence.HIGH,
        description=f"What {rule_id} checks in a pipeline config.",
        remediation=f"Change the pipeline so {rule_id} no longer applies.",
    )


def audit_finding(
    rule: Rule, path: str = ".github/workflows/ci.yml", line: int = 3, node: str = "jobs.build"
) -> Finding:
    """An audit finding: no secret, so no preview; its key describes the config node."""
    return Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        confidence=rule.confidence,
        location=Location(path=path, line=line, column=5, end_line=line, end_column=20),
        remediation=rule.remediation,
        key=node,
        message=f"{rule.title} at {node}",
    )


def audit_report(findings: list[Finding], rules: list[Rule]) -> Report:
    return Report(
        kind="audit",
        findings=findings,
        rules=rules,
        scanned=4,
        commit="a" * 40,
        started=STARTED,
        finished=STARTED + timedelta(seconds=2),
    )


def history_finding(value: str, path: str = "deploy/old.env", line: int = 7) -> Finding:
    """A secret found in git history, as history scanning reports one."""
    first = Commit(sha="1" * 40, date="2025-01-02T03:04:05+00:00")
    last = Commit(sha="2" * 40, date="2025-03-04T05:06:07+00:00")
    return Finding(
        rule_id="github-token",
        title="GitHub token",
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        location=Location(path=path, line=line, column=7, end_line=line, end_column=47),
        remediation="Revoke it.",
        secret=Secret(value),
        message="GitHub token found",
        commit=first,
        history=History(
            first_seen=first,
            last_seen=last,
            paths=[path, "old/name.env"],
            present_at_tip=False,
            exposure_days=61.1,
        ),
    )


def secret_finding(
    value: str, path: str, line: int, severity: Severity = Severity.HIGH, rule_id: str = "rule"
) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=f"Title of {rule_id}",
        severity=severity,
        confidence=Confidence.MEDIUM,
        location=Location(path=path, line=line, column=1),
        remediation="Rotate it.",
        secret=Secret(value),
        message=f"{rule_id} found",
    )
