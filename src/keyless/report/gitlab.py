"""GitLab's secret-detection report (`gl-secret-detection-report.json`).

GitLab shows it in the merge request widget, the pipeline security tab and the
vulnerability report when a job lists it under `artifacts:reports:secret_detection`.
The document follows GitLab's security report schema, version `SCHEMA_VERSION`, and
GitLab rejects a whole report that does not validate. It carries no source excerpt,
so unlike GitLab's own analyzer it never contains the secret.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from typing import Any

from keyless.findings import Finding
from keyless.logs import logger
from keyless.report import check_kind, json_text
from keyless.report.describe import (
    finding_commit,
    finding_message,
    report_path,
    unique_fingerprints,
)
from keyless.report.levels import GITLAB_SEVERITY
from keyless.report.model import Report

SCHEMA_VERSION = "15.2.4"
SCHEMA_URI = (
    "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/"
    f"v{SCHEMA_VERSION}/dist/secret-detection-report-format.json"
)
KINDS = ("secrets",)

# Vulnerability ids are UUIDs derived from the finding's fingerprint in this namespace,
# so the same finding gets the same id in every run.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://keyless.invalid/gitlab/secret-detection")
# Written when no commit is known (a folder outside git, with no CI_COMMIT_SHA),
# because the schema requires a `commit.sha` for every vulnerability.
_NO_COMMIT = "0000000"
_MAX_NAME = 255
_MAX_SOLUTION = 7000


def render(report: Report) -> str:
    """Render the report as a GitLab secret-detection report."""
    check_kind("gitlab", report.kind)
    return json_text.dumps(build(report))


def build(report: Report) -> dict[str, Any]:
    """Return the report as a dict."""
    fallback_commit = report.commit or os.environ.get("CI_COMMIT_SHA") or None
    if fallback_commit is None and any(
        f.commit is None and f.history is None for f in report.findings
    ):
        logger.warning(
            "GitLab: no git commit is known for this scan, so the report names commit %s",
            _NO_COMMIT,
        )
    tool = {
        "id": "keyless",
        "name": "keyless",
        "version": report.tool_version,
        "vendor": {"name": "keyless"},
    }
    now = datetime.now(timezone.utc)
    scan: dict[str, Any] = {
        "analyzer": dict(tool),
        "scanner": dict(tool),
        "type": "secret_detection",
        "start_time": _timestamp(report.started or now),
        "end_time": _timestamp(report.finished or now),
        "status": "success",
    }
    messages = [{"level": "info", "value": note} for note in report.notes]
    if report.skipped:
        detail = ", ".join(f"{count} {reason}" for reason, count in report.skipped.items())
        messages.append({"level": "info", "value": f"skipped files: {detail}"})
    if messages:
        scan["messages"] = messages
    return {
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URI,
        "scan": scan,
        "vulnerabilities": [
            _vulnerability(finding, fingerprint, report, fallback_commit)
            for finding, fingerprint in unique_fingerprints(report.sorted_findings())
        ],
    }


def _timestamp(moment: datetime) -> str:
    # The schema wants UTC as yyyy-mm-ddThh:mm:ss, with no zone suffix.
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


# NOTE: GitLab matches vulnerabilities across pipelines by a location fingerprint it
# computes itself. Whether that includes line numbers for secret detection was not
# checked, so GitLab may show a moved secret as new although its `id` stays the same.
def _vulnerability(
    finding: Finding, fingerprint: str, report: Report, fallback_commit: str | None
) -> dict[str, Any]:
    loc = finding.location
    commit: dict[str, Any] = {
        "sha": finding_commit(finding, report) or fallback_commit or _NO_COMMIT
    }
    seen = finding.commit or (finding.history.last_seen if finding.history else None)
    if seen is not None:
        commit["date"] = seen.date
    vulnerability: dict[str, Any] = {
        "id": str(uuid.uuid5(_ID_NAMESPACE, fingerprint)),
        "name": finding.title[:_MAX_NAME],
        "description": finding_message(finding),
        "severity": GITLAB_SEVERITY[finding.severity],
        "solution": finding.remediation[:_MAX_SOLUTION],
        "identifiers": [
            {
                "type": "keyless_rule_id",
                "name": f"keyless rule {finding.rule_id}",
                "value": finding.rule_id,
            }
        ],
        "location": {
            "file": report_path(loc.path, report.root),
            "start_line": loc.line,
            "end_line": loc.end_line if loc.end_line is not None else loc.line,
            "commit": commit,
        },
    }
    vulnerability["details"] = _details(finding, fingerprint)
    return vulnerability


def _details(finding: Finding, fingerprint: str) -> dict[str, Any]:
    details: dict[str, Any] = {
        "fingerprint": {"name": "keyless fingerprint", "type": "text", "value": fingerprint}
    }
    history = finding.history
    if history is None:
        return details
    details["first_seen"] = {
        "name": f"First seen ({history.first_seen.date})",
        "type": "commit",
        "value": history.first_seen.sha,
    }
    details["last_seen"] = {
        "name": f"Last seen ({history.last_seen.date})",
        "type": "commit",
        "value": history.last_seen.sha,
    }
    details["present_at_tip"] = {
        "name": "Still present at the tip",
        "type": "value",
        "value": history.present_at_tip,
    }
    details["exposure_days"] = {
        "name": "Days exposed",
        "type": "value",
        "value": round(history.exposure_days, 1),
    }
    return details
