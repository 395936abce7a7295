"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

GitHub reads the alert text and `security-severity` from `tool.driver.rules`. It
matches a result to the alert of an earlier run by `partialFingerprints`, and takes the
category from `automationDetails.id`, so a secrets run and an audit run of the same
commit keep separate alert sets. GitHub rejects a run with more than 25,000 results and
keeps only the 5,000 most severe (GitHub docs, "SARIF results exceed one or more
limits"). So keyless writes at most 5,000, worst first, and logs what it left out.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from keyless.findings import Finding, Rule
from keyless.logs import logger
from keyless.report import json_text
from keyless.report.describe import (
    absolute_path,
    finding_commit,
    finding_message,
    report_rules,
    root_relative_path,
)
from keyless.report.levels import SARIF_LEVEL, SECURITY_SEVERITY
from keyless.report.model import Report

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
MAX_RESULTS = 5000
FINGERPRINT_KEY = "keylessFingerprint/v1"
SOURCE_ROOT = "%SRCROOT%"

# CWE-798, "Use of Hard-coded Credentials", in the tag form GitHub shows as a CWE link.
_SECRET_TAGS = ["security", "secret", "external/cwe/cwe-798"]
_AUDIT_TAGS = ["security", "ci-config"]


def render(report: Report) -> str:
    """Render the report as a SARIF log with one run."""
    return json_text.dumps(build(report), depth=4)


def build(report: Report) -> dict[str, Any]:
    """Return the SARIF log as a dict."""
    rules = report_rules(report)
    index = {rule.id: i for i, rule in enumerate(rules)}
    findings = report.sorted_findings()
    written, dropped = findings[:MAX_RESULTS], findings[MAX_RESULTS:]
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if report.started is not None:
        invocation["startTimeUtc"] = _timestamp(report.started)
    if report.finished is not None:
        invocation["endTimeUtc"] = _timestamp(report.finished)
    notifications = [{"level": "note", "message": {"text": note}} for note in report.notes]
    if dropped:
        note = _truncation_note(len(findings), dropped)
        logger.warning("SARIF: %s", note)
        notifications.append({"level": "warning", "message": {"text": note}})
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "keyless",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "rules": [_rule(rule, report.kind) for rule in rules],
            }
        },
        "automationDetails": {"id": _automation_id(report)},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule_id], report) for f in written],
        "properties": {
            "kind": report.kind,
            "scanned": report.scanned,
            "skipped": report.skipped,
            "suppressed": report.suppressed,
            "ignored": report.ignored,
            "baselined": report.baselined,
            "omittedResults": len(dropped),
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _automation_id(report: Report) -> str:
    # GitHub takes the category from the id up to its last "/", so the time after it
    # names this run while "keyless/<kind>" stays the same from run to run.
    started = _timestamp(report.started) if report.started is not None else ""
    return f"keyless/{report.kind}/{started}"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _truncation_note(total: int, dropped: list[Finding]) -> str:
    counts = Counter(f.severity.value for f in dropped)
    detail = ", ".join(f"{n} {severity}" for severity, n in sorted(counts.items()))
    return (
        f"wrote the {MAX_RESULTS} most severe of {total} results, because GitHub code "
        f"scanning keeps at most {MAX_RESULTS} per run; left out {len(dropped)} ({detail}). "
        "The JSON report lists every finding."
    )


def _rule(rule: Rule, kind: str) -> dict[str, Any]:
    tags = _SECRET_TAGS if kind == "secrets" else _AUDIT_TAGS
    return {
        "id": rule.id,
        "name": _rule_name(rule),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description or rule.title},
        "help": {
            "text": f"{rule.description}\n\nRemediation: {rule.remediation}",
            "markdown": (
                f"**{rule.title}**\n\n{rule.description}\n\n## Remediation\n\n{rule.remediation}\n"
            ),
        },
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "precision": rule.confidence.value,
            "tags": list(tags),
        },
    }


def _rule_name(rule: Rule) -> str:
    # SARIF wants `name` to be a readable identifier that differs from `id`, such as
    # "GitHubToken" for the rule `github-token` titled "GitHub token".
    words = re.findall(r"[A-Za-z0-9]+", rule.title) or re.findall(r"[A-Za-z0-9]+", rule.id)
    name = "".join(word[:1].upper() + word[1:] for word in words)
    if name.lower() == rule.id.lower():
        name += "Rule"
    return name


def _result(finding: Finding, rule_index: int, report: Report) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": finding_message(finding)},
        "locations": [{"physicalLocation": _physical_location(finding, report.root)}],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": _result_properties(finding, report),
    }
    return result


def _physical_location(finding: Finding, root: str) -> dict[str, Any]:
    loc = finding.location
    region: dict[str, Any] = {"startLine": max(loc.line, 1), "startColumn": max(loc.column, 1)}
    end_line = loc.end_line if loc.end_line is not None else loc.line
    if end_line >= region["startLine"]:
        region["endLine"] = end_line
        # SARIF's endColumn is the column after the last character, as keyless counts it.
        if loc.end_column is not None and (
            end_line > region["startLine"] or loc.end_column > region["startColumn"]
        ):
            region["endColumn"] = loc.end_column
    return {"artifactLocation": _artifact_location(loc.path, root), "region": region}


def _artifact_location(path: str, root: str) -> dict[str, Any]:
    # A path below the scan root is relative to %SRCROOT%, which GitHub resolves to the
    # repository checkout. Any other path gets an absolute file URI and no uriBaseId,
    # because a base would make a SARIF reader resolve it below the root.
    relative = root_relative_path(path, root)
    if relative is None:
        return {"uri": Path(absolute_path(path)).as_uri()}
    return {"uri": quote(relative, safe="/"), "uriBaseId": SOURCE_ROOT}


def _result_properties(finding: Finding, report: Report) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "severity": finding.severity.value,
        "confidence": finding.confidence.value,
    }
    commit = finding_commit(finding, report)
    if commit:
        properties["commit"] = commit
    history = finding.history
    if history is not None:
        properties["firstSeen"] = {"sha": history.first_seen.sha, "date": history.first_seen.date}
        properties["lastSeen"] = {"sha": history.last_seen.sha, "date": history.last_seen.date}
        properties["paths"] = history.paths
        properties["presentAtTip"] = history.present_at_tip
        properties["exposureDays"] = history.exposure_days
    return properties
