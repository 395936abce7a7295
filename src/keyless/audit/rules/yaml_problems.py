"""invalid-yaml and duplicate-key: problems in the YAML itself, found by the loader."""

from __future__ import annotations

from keyless.audit.loader import Problem
from keyless.audit.rules.base import AuditRule, Context
from keyless.findings import Confidence, Location, Rule, Severity

INVALID_YAML = Rule(
    "invalid-yaml",
    "Pipeline file is not valid YAML",
    Severity.LOW,
    Confidence.HIGH,
    "The file could not be parsed from the reported line on, so the audit could not check "
    "what follows; the CI system rejects it too.",
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


INVALID_CHECK = InvalidYaml()
DUPLICATE_CHECK = DuplicateKey()
