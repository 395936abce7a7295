"""persisted-checkout-credentials: the checkout token left in .git/config for later steps."""

from __future__ import annotations

import re

from keyless.audit.github import CompositeAction, Job, Step, Workflow
from keyless.audit.nodes import Node
from keyless.audit.rules.base import AuditRule, Context
from keyless.audit.rules.common import checkout_steps, jobs_of
from keyless.audit.rules.untrusted_code_with_secrets import (
    checks_out_pr_code,
    shell_fetches_pr_code,
)
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "persisted-checkout-credentials",
    "Checkout token persisted for steps that upload or run untrusted code",
    Severity.MEDIUM,
    Confidence.HIGH,
    "actions/checkout writes the job's GITHUB_TOKEN into .git/config unless "
    "`persist-credentials: false`. A later step that uploads the workspace (with hidden "
    "files) publishes the token, and a step that runs untrusted code can read it.",
    "Set `persist-credentials: false` on the checkout, and pass a token explicitly to "
    "the one step that pushes.",
)

_WIDE_PATHS = {".", "./", "*", "**", "./**", "**/*", "${{ github.workspace }}", "$GITHUB_WORKSPACE"}
_PIPE_TO_SHELL = re.compile(r"\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z)?sh\b")


class PersistedCheckoutCredentials(AuditRule):
    """Pair checkouts that keep the token with later uploads and untrusted code."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for job in workflow.jobs:
            _check_job(job, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            _check_job(job, context)


def _check_job(job: Job, context: Context) -> None:
    for checkout in checkout_steps(job):
        persist = checkout.input("persist-credentials")
        if persist is not None and not persist.is_true():
            continue
        target: Node = persist if persist is not None else (checkout.uses or checkout.node)
        reason = _exposure(checkout, job)
        if reason is None:
            context.report(
                RULE,
                target,
                key=f"{checkout.describe}.persist-credentials",
                message="checkout keeps the GITHUB_TOKEN in .git/config for every later step; "
                "no step is seen to upload it or run untrusted code",
                severity=Severity.LOW,
                confidence=Confidence.LOW,
                anchors=(checkout.node, job.anchor),
            )
            continue
        message, confidence = reason
        context.report(
            RULE,
            target,
            key=f"{checkout.describe}.persist-credentials",
            message=f"checkout keeps the GITHUB_TOKEN in .git/config, and {message}",
            confidence=confidence,
            anchors=(checkout.node, job.anchor),
        )


def _exposure(checkout: Step, job: Job) -> tuple[str, Confidence] | None:
    untrusted = checks_out_pr_code(checkout)
    for step in job.steps_after(checkout):
        upload = _uploads_git_folder(step)
        if upload is not None:
            return f"{step.title} uploads it", upload
        run = step.run
        if run is not None and shell_fetches_pr_code(run):
            return (
                f"{step.title} fetches and runs pull request code",
                Confidence.HIGH,
            )
        if run is not None and untrusted:
            return (
                f"{step.title} runs the checked-out pull request code",
                Confidence.HIGH,
            )
        if run is not None and _PIPE_TO_SHELL.search(run.value):
            return (
                f"{step.title} runs a downloaded script",
                Confidence.MEDIUM,
            )
    return None


def _uploads_git_folder(step: Step) -> Confidence | None:
    if not step.uses_action("actions/upload-artifact"):
        return None
    path = step.input("path")
    if path is None:
        return None
    entries = {p.strip() for p in path.value.splitlines() if p.strip()}
    if not entries & _WIDE_PATHS and not any(".git" in e for e in entries):
        return None
    hidden = step.input("include-hidden-files")
    if hidden is not None and hidden.is_true():
        return Confidence.HIGH
    # upload-artifact 4.4.0 and later leave out hidden files such as .git by default.
    action = step.action
    if action is None:
        return None
    version = action.major_version()
    if version is None:
        return Confidence.LOW if action.pinned else None
    if version[0] < 4 or (version[0] == 4 and len(version) > 1 and version[1] < 4):
        return Confidence.HIGH
    return None


CHECK = PersistedCheckoutCredentials()
