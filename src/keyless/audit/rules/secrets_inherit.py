"""secrets-inherit: reusable workflow calls that pass every secret."""

from __future__ import annotations

from keyless.audit.github import Workflow
from keyless.audit.rules.base import AuditRule, Context
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "secrets-inherit",
    "Reusable workflow receives every secret",
    Severity.MEDIUM,
    Confidence.HIGH,
    "`secrets: inherit` hands the called workflow every secret the caller can read, "
    "including ones it never uses; a compromise of that workflow, or of any action it "
    "runs, exposes them all.",
    "Pass only the secrets the called workflow declares, by name:\n"
    "  secrets:\n    NAME: ${{ secrets.NAME }}",
)


class SecretsInherit(AuditRule):
    """Report `secrets: inherit` on jobs that call a reusable workflow."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for job in workflow.jobs:
            value = job.node.scalar("secrets")
            if job.uses is None or value is None or value.value.strip() != "inherit":
                continue
            context.report(
                RULE,
                value,
                key=f"{job.describe}.secrets",
                message=f"job {job.id} passes every secret to {job.uses.value}",
                anchors=(job.anchor,),
            )


CHECK = SecretsInherit()
