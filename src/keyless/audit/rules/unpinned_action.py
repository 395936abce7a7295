"""unpinned-action: actions and reusable workflows referenced by a movable tag or branch."""

from __future__ import annotations

from keyless.audit.github import ActionRef, CompositeAction, Workflow
from keyless.audit.nodes import Node, Scalar
from keyless.audit.rules.base import AuditRule, Context
from keyless.audit.rules.common import jobs_of
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "unpinned-action",
    "Action not pinned to a commit SHA",
    Severity.MEDIUM,
    Confidence.HIGH,
    "A tag or branch can be moved to other code at any time. Whoever controls the action's "
    "repository (or steals its maintainer's token, as in the tj-actions/changed-files "
    "compromise of March 2025) then runs code in your job, with its secrets.",
    "Pin to the full commit SHA and keep the version in a comment, for example "
    "`uses: owner/action@<40-hex-sha> # v1.2.3`; Dependabot and Renovate update such pins.",
)


class UnpinnedAction(AuditRule):
    """Report `uses:` refs that are not full commit SHAs."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for job in workflow.jobs:
            if job.uses is not None:
                _check(job.uses, f"{job.describe}.uses", (job.anchor,), context)
            for step in job.steps:
                if step.uses is not None:
                    _check(step.uses, f"{step.describe}.uses", (step.node, job.anchor), context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            for step in job.steps:
                if step.uses is not None:
                    _check(step.uses, f"{step.describe}.uses", (step.node,), context)


def _check(uses: Scalar, place: str, anchors: tuple[Node, ...], context: Context) -> None:
    action = ActionRef.parse(uses.value)
    if action.local or "${{" in uses.value:
        return
    if action.docker:
        if "@sha256:" in action.raw:
            return
        context.report(
            RULE,
            uses,
            key=f"{place}:{action.raw.split(':')[0]}",
            message=f"container image `{action.raw}` is not pinned to a digest",
            severity=Severity.LOW,
            remediation="Pin the image by digest: `docker://image@sha256:<digest>`.",
            anchors=anchors,
        )
        return
    if action.pinned:
        return
    ref = action.ref or "(no ref)"
    if action.github_owned:
        severity = Severity.LOW
        owner = "GitHub-owned "
    else:
        severity = RULE.severity
        owner = "third-party "
    context.report(
        RULE,
        uses,
        key=f"{place}:{action.name}",
        message=f"{owner}action {action.name} is referenced by `{ref}`, not a commit SHA",
        severity=severity,
        confidence=Confidence.HIGH,
        anchors=anchors,
    )


CHECK = UnpinnedAction()
