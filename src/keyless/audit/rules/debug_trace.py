"""debug-trace: GitLab debug logging that prints every variable into the job log."""

from __future__ import annotations

from keyless.audit.gitlab import Pipeline
from keyless.audit.nodes import Mapping, Scalar
from keyless.audit.rules.base import AuditRule, Context
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "debug-trace",
    "GitLab debug trace prints every variable",
    Severity.HIGH,
    Confidence.HIGH,
    '`CI_DEBUG_TRACE: "true"` runs every script line with shell tracing and prints the '
    "contents of every CI/CD variable of the job to the job log, which everyone with "
    "access to the job can read. `CI_DEBUG_SERVICES` does the same for service containers.",
    "Remove the variable from the file. To debug one run, set it for that pipeline only "
    "(Run pipeline > variables) on a branch with no production secrets, and delete the "
    "job log afterwards.",
)

_NAMES = ("CI_DEBUG_TRACE", "CI_DEBUG_SERVICES")


class DebugTrace(AuditRule):
    """Report CI_DEBUG_TRACE and CI_DEBUG_SERVICES set to true in any variables block."""

    rule = RULE

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        for place, mapping in pipeline.variable_mappings():
            for name in _NAMES:
                value = mapping.get(name)
                if isinstance(value, Mapping):
                    value = value.get("value")
                if isinstance(value, Scalar) and value.is_true():
                    context.report(
                        RULE,
                        value,
                        key=f"{place}.{name}",
                        message=f"{name} is true in {place}: every variable of the job, "
                        "secrets included, goes to the job log",
                        anchors=(mapping,),
                    )


CHECK = DebugTrace()
