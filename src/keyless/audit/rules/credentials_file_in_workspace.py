"""credentials-file-in-workspace: a credentials file in the workspace that a later step ships."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyless.audit.github import CompositeAction, Job, Step, Workflow
from keyless.audit.nodes import Mark, Node
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import jobs_of
from keyless.audit.rules.secret_exposure import FILE_WRITE, secret_pattern
from keyless.audit.shell import script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "credentials-file-in-workspace",
    "Credentials file in the workspace is uploaded, built into an image or committed",
    Severity.HIGH,
    Confidence.MEDIUM,
    "Some steps write credentials into the workspace: google-github-actions/auth writes "
    "`gha-creds-*.json` there by default, and scripts write key files. A later step that "
    "uploads the workspace, builds an image from it or commits it publishes the file.",
    "Write credentials outside the workspace (`$RUNNER_TEMP`), set "
    "`create_credentials_file: false` on google-github-actions/auth when no tool needs the "
    "file, or upload, build and commit only explicit paths; add the file to .gitignore "
    "and .dockerignore.",
)

_WIDE = {".", "./", "*", "**", "./**", "**/*", "${{ github.workspace }}", "$GITHUB_WORKSPACE"}
_SHELL_SINKS = re.compile(
    r"\bdocker\s+(?:buildx\s+)?build\b[^\n]*\s\.(?:\s|$)"
    r"|\bgit\s+add\s+(?:-A|--all|\.)(?:\s|$)"
    r"|\bgit\s+commit\b[^\n]*\s-[a-zA-Z]*a"
    r"|\b(?:tar|zip)\b[^\n]*\s\.(?:\s|$)"
)
_COMMIT_ACTIONS = (
    "stefanzweifel/git-auto-commit-action",
    "peter-evans/create-pull-request",
    "endbug/add-and-commit",
)
_OUTSIDE_WORKSPACE = (
    "/",
    "~",
    "$RUNNER_TEMP",
    "${RUNNER_TEMP}",
    "$HOME",
    "${HOME}",
    "${{ runner.temp }}",
)


@dataclass(frozen=True)
class CredentialsFile:
    """A credentials file a step left in the workspace."""

    name: str
    step: Step


class CredentialsFileInWorkspace(AuditRule):
    """Track credential files written into the workspace and the steps that ship them."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for job in workflow.jobs:
            _check_job(job, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            _check_job(job, context)


def _check_job(job: Job, context: Context) -> None:
    files: list[CredentialsFile] = []
    for step in job.steps:
        if files:
            sink = _sink(step)
            if sink is not None:
                node, span, what, from_action = sink
                names = ", ".join(sorted({f.name for f in files}))
                first = files[0]
                context.report(
                    RULE,
                    node,
                    key=f"{step.describe}:{names}",
                    message=f"{what}, including {names} written by {first.step.title}",
                    at=span,
                    anchors=(step.node, job.anchor),
                    confidence=Confidence.HIGH if from_action else Confidence.MEDIUM,
                )
        files.extend(_written(step))


def _written(step: Step) -> list[CredentialsFile]:
    if step.uses_action("google-github-actions/auth"):
        create = step.input("create_credentials_file")
        if create is None or create.is_true():
            return [CredentialsFile("gha-creds-*.json", step)]
        return []
    run = step.run
    if run is None:
        return []
    secrets = secret_pattern(step)
    found: list[CredentialsFile] = []
    for line in script_lines(run):
        if secrets.search(line.code) is None:
            continue
        write = FILE_WRITE.search(line.code)
        if write is None:
            continue
        target = write.group(1)
        if target.startswith(_OUTSIDE_WORKSPACE) or target.startswith("$GITHUB_"):
            continue
        found.append(CredentialsFile(target, step))
    return found


def _sink(step: Step) -> tuple[Node, tuple[Mark, Mark] | None, str, bool] | None:
    """Return (node, span, description, is-an-action) when the step ships the workspace."""
    if step.uses_action("actions/upload-artifact"):
        path = step.input("path")
        if path is not None:
            entries = {p.strip() for p in path.value.splitlines() if p.strip()}
            if entries & _WIDE or any("gha-creds" in e for e in entries):
                return path, None, "the artifact uploads the workspace", True
    if step.uses_action("docker/build-push-action"):
        context_input = step.input("context")
        if context_input is not None and context_input.value.strip() in _WIDE:
            return context_input, None, "the image is built from the workspace", True
    if any(step.uses_action(a) for a in _COMMIT_ACTIONS):
        return step.uses or step.node, None, "the step commits the workspace", True
    run = step.run
    if run is not None:
        for line in script_lines(run):
            match = _SHELL_SINKS.search(line.code)
            if match is not None:
                span = fragment_span(run, line.offset + match.start(), line.offset + match.end())
                return run, span, f"`{match.group(0).strip()}` ships the workspace", False
    return None


CHECK = CredentialsFileInWorkspace()
