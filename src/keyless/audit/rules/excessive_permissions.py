"""excessive-permissions: GITHUB_TOKEN and ID-token permissions wider than the jobs need."""

from __future__ import annotations

import re

from keyless.audit.github import Job, Workflow, permission_scopes
from keyless.audit.nodes import Mapping, Node, Scalar
from keyless.audit.rules.base import AuditRule, Context
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "excessive-permissions",
    "GITHUB_TOKEN or ID-token permissions wider than needed",
    Severity.MEDIUM,
    Confidence.HIGH,
    "Without a `permissions:` block the GITHUB_TOKEN gets the repository's default, which "
    "may be read-write on everything. `write-all`, write scopes at workflow level (every "
    "job gets them) and `id-token: write` where no step exchanges the token let any "
    "compromised step do more than its job needs.",
    "Set `permissions: {}` or `contents: read` at workflow level and grant each job only "
    "the scopes it uses; put `id-token: write` only on the jobs that exchange the token.",
)

# Actions that request the job's OIDC token (with the inputs that make them do so).
OIDC_ACTIONS: dict[str, tuple[str, ...]] = {
    "aws-actions/configure-aws-credentials": ("role-to-assume",),
    "google-github-actions/auth": ("workload_identity_provider",),
    "azure/login": ("client-id",),
    "hashicorp/vault-action": ("method", "role"),
    "pypa/gh-action-pypi-publish": (),
    "rust-lang/crates-io-auth-action": (),
    "rubygems/release-gem": (),
    "rubygems/configure-rubygems-credentials": (),
    "actions/attest-build-provenance": (),
    "actions/attest-sbom": (),
    "actions/attest": (),
    "sigstore/gh-action-sigstore-python": (),
    "sigstore/cosign-installer": (),
    "docker/login-action": (),
    "actions/deploy-pages": (),
    "slsa-framework/slsa-github-generator": (),
}
_OIDC_COMMANDS = re.compile(
    r"ACTIONS_ID_TOKEN_REQUEST_(?:URL|TOKEN)|\bkeyless\s+(?:aws|gcp|azure|vault|token|exchange)"
    r"|\bcosign\s+(?:sign|attest)|\bgh\s+attestation\b|\bnpm\s+publish\b"
    r"|\buv\s+publish\b[^\n]*trusted|\bcore\.getIDToken\b|\bgetIDToken\("
)


# Modes of keyless's own GitHub Action that request the job's OIDC token. The action
# may live under any owner (a fork or a mirror), so only the repository name is read.
_KEYLESS_TOKEN_MODES = frozenset({"vault", "aws", "gcp", "azure", "token"})


def _is_keyless_exchange(repository: str, mode: Scalar | None) -> bool:
    """Return whether a step runs keyless's action in a mode that uses the OIDC token."""
    if repository.rsplit("/", 1)[-1].lower() != "keyless" or mode is None:
        return False
    return str(mode.value).strip().lower() in _KEYLESS_TOKEN_MODES


class ExcessivePermissions(AuditRule):
    """Check workflow- and job-level `permissions:` against what the jobs use."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        top = workflow.permissions
        scopes = permission_scopes(top)
        # A workflow with one job: workflow-level scopes are that job's scopes.
        single = workflow.jobs[0] if len(workflow.jobs) == 1 else None
        if top is None:
            if set(workflow.triggers) != {"workflow_call"}:
                _report_missing_blocks(workflow, context)
        else:
            _check_block(top, scopes, "permissions", None, context, workflow_level=single is None)
        for job in workflow.jobs:
            block = job.permissions
            if block is not None:
                _check_block(
                    block,
                    permission_scopes(block),
                    f"{job.describe}.permissions",
                    job,
                    context,
                    workflow_level=False,
                )
        if isinstance(scopes, dict) and scopes.get("id-token") == "write":
            if single is not None and single.permissions is None:
                _check_id_token_use(single, top, context)
            return
        for job in workflow.jobs:
            job_scopes = permission_scopes(job.permissions)
            if isinstance(job_scopes, dict) and job_scopes.get("id-token") == "write":
                _check_id_token_use(job, job.permissions, context)


def _report_missing_blocks(workflow: Workflow, context: Context) -> None:
    """Report jobs without `permissions:` in a workflow without one.

    A workflow triggered only by `workflow_call` is skipped: its token's permissions
    come from the calling job, which is audited in the caller's workflow.
    """
    for job in workflow.jobs:
        if job.permissions is None:
            context.report(
                RULE,
                job.anchor,
                key=f"{job.describe}.permissions",
                message=f"job {job.id} has no permissions block, so its GITHUB_TOKEN "
                "gets the repository default (read-write unless restricted)",
                confidence=Confidence.MEDIUM,
            )


def _check_block(
    node: Node,
    scopes: dict[str, str] | str | None,
    place: str,
    job: Job | None,
    context: Context,
    *,
    workflow_level: bool,
) -> None:
    anchors = (job.anchor,) if job is not None else ()
    if scopes == "write-all":
        context.report(
            RULE,
            node,
            key=f"{place}:write-all",
            message="`write-all` grants every GITHUB_TOKEN scope, including id-token",
            severity=Severity.HIGH,
            anchors=anchors,
        )
        return
    if not isinstance(node, Mapping) or not isinstance(scopes, dict):
        return
    for key, value in node.entries:
        name = key.value
        if not isinstance(value, Scalar) or value.value != "write":
            continue
        if name == "id-token" and workflow_level:
            context.report(
                RULE,
                key,
                key=f"{place}.id-token",
                message="`id-token: write` at workflow level lets every job mint OIDC tokens",
                anchors=anchors,
            )
        elif workflow_level:
            context.report(
                RULE,
                key,
                key=f"{place}.{name}",
                message=f"`{name}: write` at workflow level applies to every job; grant it "
                "on the jobs that need it",
                severity=Severity.LOW if len(scopes) == 1 else Severity.MEDIUM,
                confidence=Confidence.MEDIUM,
            )


def _check_id_token_use(job: Job, block: Node | None, context: Context) -> None:
    if job.uses is not None:
        return  # A reusable workflow may need the token; its own audit decides.
    unknown_actions = False
    for step in job.steps:
        action = step.action
        if action is not None and not action.local:
            if _is_keyless_exchange(action.repository, step.input("mode")):
                return
            inputs = OIDC_ACTIONS.get(action.name) or OIDC_ACTIONS.get(action.repository)
            if inputs is not None:
                if not inputs or any(step.input(i) is not None for i in inputs):
                    return
                continue
            if not action.github_owned:
                unknown_actions = True
        elif action is not None:
            unknown_actions = True
        run = step.run
        if run is not None and _OIDC_COMMANDS.search(run.value):
            return
    if not isinstance(block, Mapping):
        return
    key = block.key_node("id-token")
    target: Scalar | Node = key if key is not None else block
    place = "permissions" if job.permissions is None else f"{job.describe}.permissions"
    context.report(
        RULE,
        target,
        key=f"{place}.id-token",
        message=f"job {job.id} can mint OIDC tokens (`id-token: write`) but no step uses one",
        severity=Severity.LOW,
        confidence=Confidence.LOW if unknown_actions else Confidence.MEDIUM,
        anchors=(job.anchor,),
    )


CHECK = ExcessivePermissions()
