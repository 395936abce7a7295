"""Mappings from keyless severities to each output format's own scale.

keyless has five severities; the formats have fewer or differently named levels:

| keyless  | SARIF level | security-severity | GitLab   | Code Quality | annotation |
|----------|-------------|-------------------|----------|--------------|------------|
| critical | error       | 9.5               | Critical | blocker      | error      |
| high     | error       | 8.0               | High     | critical     | error      |
| medium   | warning     | 5.5               | Medium   | major        | warning    |
| low      | note        | 3.0               | Low      | minor        | notice     |
| info     | note        | 0.0               | Info     | info         | notice     |

GitHub code scanning turns `security-severity` into its own labels (SARIF support
documentation, reportingDescriptor object): over 9.0 critical, 7.0 to 8.9 high, 4.0
to 6.9 medium, 3.9 or less low. Each keyless value from low to critical sits inside the
matching band; info has no band of its own and shows as low.
"""

from __future__ import annotations

from keyless.findings import Severity

SARIF_LEVEL: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}

GITLAB_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "Critical",
    Severity.HIGH: "High",
    Severity.MEDIUM: "Medium",
    Severity.LOW: "Low",
    Severity.INFO: "Info",
}

CODE_QUALITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "blocker",
    Severity.HIGH: "critical",
    Severity.MEDIUM: "major",
    Severity.LOW: "minor",
    Severity.INFO: "info",
}

ANNOTATION_COMMAND: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}
