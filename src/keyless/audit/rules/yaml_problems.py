"""Problems with the files themselves: invalid-yaml, duplicate-key and file-not-audited.

The loader finds the first two; the runner finds pipeline files it could not read.
"""

from __future__ import annotations

from keyless.audit.loader import Problem
from keyless.audit.rules.base import AuditRule, Context
from keyless.findings import Confidence, Location, Rule, Severity

INVALID_YAML = Rule(
    "invalid-yaml",
    "Pipeline file is not valid YAML",
    Severity.MEDIUM,
    Confidence.HIGH,
    "The file could not be parsed from the reported line on, so the audit could not check "
    "what follows and its findings stay hidden; the CI system rejects it too.",
    "Fix the syntax at the reported line (a YAML linter such as yamllint shows the same "
    "error), then rerun the audit.",
)
DUPLICATE_KEY = Rule(
    "duplicate-key",
    "Key defined twice in one mapping",
    Severity.MEDIUM,
    Confidence.HIGH,
    "The same key appears twice in one mapping. GitLab and most YAML loaders keep the last "
    "value and GitHub rejects the file, so a reviewer can read a `permissions:` or "
    "`variables:` entry that never takes effect.",
    "Remove or merge the duplicate so each key appears once.",
)

FILE_NOT_AUDITED = Rule(
    "file-not-audited",
    "Pipeline file could not be audited",
    Severity.MEDIUM,
    Confidence.HIGH,
    "A pipeline file was found but not read, because it is larger than the max-file-size "
    "limit or cannot be opened. CI still runs it, and none of its findings are reported.",
    "Raise the limit with --max-file-size or `max-file-size` in the keyless config (or "
    "split the file), or fix its permissions, then rerun the audit.",
)


class InvalidYaml(AuditRule):
    """Marker for the loader's syntax errors; the runner reports them."""

    rule = INVALID_YAML


class DuplicateKey(AuditRule):
    """Marker for the loader's duplicate keys; the runner reports them."""

    rule = DUPLICATE_KEY


def report_problem(problem: Problem, context: Context) -> None:
    """Report a loader problem as a finding at its line."""
    from keyless.audit.rules.base import Reported
    from keyless.findings import Finding

    rule = INVALID_YAML if problem.kind == "invalid-yaml" else DUPLICATE_KEY
    finding = Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        confidence=rule.confidence,
        location=Location(problem.source.path, problem.mark.line, problem.mark.column),
        remediation=rule.remediation,
        key=f"{problem.kind}:{problem.key}",
        message=problem.message,
    )
    context.reported.append(Reported(finding, [(problem.source.path, problem.mark.line)]))


class FileNotAudited(AuditRule):
    """Marker for pipeline files the runner could not read; the runner reports them."""

    rule = FILE_NOT_AUDITED


def report_unaudited(path: str, detail: str, context: Context) -> None:
    """Report a discovered pipeline file that was not read, at its first line."""
    from keyless.audit.rules.base import Reported
    from keyless.findings import Finding

    rule = FILE_NOT_AUDITED
    finding = Finding(
        rule_id=rule.id,
        title=rule.title,
        severity=rule.severity,
        confidence=rule.confidence,
        location=Location(path, 1, 1),
        remediation=rule.remediation,
        key="file-not-audited",
        message=f"{path} was not audited: {detail}",
    )
    context.reported.append(Reported(finding, []))


INVALID_CHECK = InvalidYaml()
DUPLICATE_CHECK = DuplicateKey()
UNAUDITED_CHECK = FileNotAudited()
