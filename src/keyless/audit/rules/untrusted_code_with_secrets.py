"""untrusted-code-with-secrets: privileged triggers that fetch and run pull request code."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyless.audit.github import ActionRef, Job, Step, Workflow, permission_scopes
from keyless.audit.nodes import Mapping, Mark, Node, Scalar, Sequence
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import job_uses_secrets
from keyless.audit.shell import script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "untrusted-code-with-secrets",
    "Pull request code runs with secrets or a write token",
    Severity.CRITICAL,
    Confidence.HIGH,
    "`pull_request_target` and `workflow_run` jobs run with the base repository's secrets "
    "and a GITHUB_TOKEN that can write. A job that checks out the pull request's code and "
    "then builds, tests or runs it lets anyone who opens a pull request from a fork run "
    'code with those credentials (a "pwn request").',
    "Run untrusted code in a `pull_request` workflow, which gets no secrets and a read-only "
    "token, and pass results to a privileged workflow as data (an artifact read, never "
    "executed). If the privileged job must see the code, do not run it, and keep "
    "`permissions:` read-only with no secrets in that job.",
)

PRIVILEGED_TRIGGERS = ("pull_request_target", "workflow_run")
# Expressions that name the pull request's head or merge commit, branch or fork.
PR_CODE = re.compile(
    r"github\.event\.pull_request\.(?:head\.(?:sha|ref|repo\.full_name|repo\.clone_url)"
    r"|merge_commit_sha|number)"
    r"|github\.head_ref|github\.event\.number"
    r"|github\.event\.workflow_run\.(?:head_sha|head_branch|head_repository\.full_name"
    r"|pull_requests)"
    r"|refs/pull/"
)
_SHELL_FETCH = re.compile(
    r"\bgh\s+pr\s+checkout\b"
    r"|\bgit\s+fetch\b[^\n]*(?:\bpull/|refs/pull/|head\.sha|head_ref|head\.ref|head_sha)"
    r"|\bgit\s+(?:checkout|switch|reset\s+--hard|pull)\b[^\n]*"
    r"(?:github\.head_ref|pull_request\.head|workflow_run\.head|\bFETCH_HEAD\b|refs/pull/)"
    r"|\bgit\s+clone\b[^\n]*pull_request\.head\.repo"
)
# `if:` conditions that keep fork pull requests out.
_SAME_REPOSITORY = re.compile(
    r"\.head\.repo\.full_name\s*==\s*github\.repository\b"
    r"|\bgithub\.repository\s*==\s*github\.event\.pull_request\.head\.repo\.full_name"
    r"|\.head\.repo\.fork\s*==\s*false|!\s*github\.event\.pull_request\.head\.repo\.fork\b"
)
_ARTIFACT_ACTIONS = ("actions/download-artifact", "dawidd6/action-download-artifact")


@dataclass(frozen=True)
class Fetch:
    """A place where a job fetches pull request code."""

    step: Step
    node: Node
    span: tuple[Mark, Mark] | None
    description: str
    confidence: Confidence
    # Index of the first step that can run the code; a run: script runs it itself.
    runs_from: int
    # For a checkout the action may refuse: why keyless assumes it does not.
    assumed_unguarded: str = ""
    # Artifacts are data: a later script that only unpacks or reads them does not run them.
    artifact: bool = False


class UntrustedCodeWithSecrets(AuditRule):
    """Find jobs on privileged triggers that fetch pull request code and then run code."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        triggers = [t for t in PRIVILEGED_TRIGGERS if t in workflow.triggers]
        if not triggers:
            return
        reported = False
        for job in workflow.jobs:
            credentials = _credentials(workflow, job)
            if credentials is None:
                continue
            for fetch in _fetches(job):
                reported = True
                _report_fetch(workflow, triggers, job, fetch, credentials, context)
        if not reported:
            _report_trigger(workflow, triggers, context)


def _report_fetch(
    workflow: Workflow,
    triggers: list[str],
    job: Job,
    fetch: Fetch,
    credentials: str,
    context: Context,
) -> None:
    later = job.steps[fetch.runs_from :]
    runners = [s for s in later if _runs_code(s, artifact=fetch.artifact)]
    runs_inline = fetch.runs_from == fetch.step.index
    if runs_inline:
        severity, confidence = RULE.severity, fetch.confidence
        then = "and runs it"
    elif runners:
        severity, confidence = RULE.severity, fetch.confidence
        then = f"and {runners[0].title} runs it"
    else:
        # Nothing is seen to run the code. An artifact is then only data; a checkout
        # still puts the code where any later tool may read its config or hooks.
        severity = Severity.LOW if fetch.artifact else Severity.MEDIUM
        confidence = Confidence.LOW
        then = "; no later step is seen to run it"
        if not fetch.artifact:
            then += ", but any tool that reads the workspace can"
    if fetch.assumed_unguarded and severity == RULE.severity:
        severity, confidence = Severity.HIGH, Confidence.MEDIUM
    elif fetch.assumed_unguarded:
        severity, confidence = Severity.LOW, Confidence.LOW
    if _same_repository_only(job, fetch.step):
        severity, confidence = Severity.LOW, Confidence.LOW
        then += " (an `if:` limits it to pull requests from this repository)"
    separator = "" if then.startswith(";") else " "
    message = (
        f"{' and '.join(triggers)} job {job.id} {fetch.description}{separator}{then}, "
        f"with {credentials}"
    )
    if fetch.assumed_unguarded:
        message += f". {fetch.assumed_unguarded}"
    context.report(
        RULE,
        fetch.node,
        key=f"{fetch.step.describe}:{fetch.description}",
        message=message,
        severity=severity,
        confidence=confidence,
        at=fetch.span,
        anchors=(fetch.step.node, job.anchor),
    )


def _same_repository_only(job: Job, step: Step) -> bool:
    """Return whether a job or step `if:` admits only pull requests from this repository.

    The check is textual: a condition that also has `||` may still admit forks, so such
    findings keep their severity.
    """
    for node in (job.node, step.node):
        condition = node.text("if")
        if _SAME_REPOSITORY.search(condition) and "||" not in condition:
            return True
    return False


def _report_trigger(workflow: Workflow, triggers: list[str], context: Context) -> None:
    """Report the privileged trigger itself, at low severity, when no job fetches PR code."""
    on = workflow.root.get("on") or workflow.root.get("true")
    node: Node = workflow.on_node
    if isinstance(on, Mapping):
        node = on.key_node(triggers[0]) or node
    elif isinstance(on, Sequence):
        node = next((i for i in on.items if isinstance(i, Scalar) and i.value == triggers[0]), node)
    elif isinstance(on, Scalar):
        node = on
    context.report(
        RULE,
        node,
        key=f"on.{triggers[0]}",
        message=f"{triggers[0]} runs with the base repository's secrets and a token that can "
        "write; no job is seen to fetch pull request code, keep it that way",
        severity=Severity.LOW,
        confidence=Confidence.LOW,
    )


def _credentials(workflow: Workflow, job: Job) -> str | None:
    secrets = job_uses_secrets(job)
    scopes = permission_scopes(job.permissions)
    if scopes is None:
        scopes = permission_scopes(workflow.permissions)
    if scopes is None:
        token = "the default GITHUB_TOKEN (read-write unless the repository restricts it)"  # noqa: S105
    elif scopes == "write-all" or (isinstance(scopes, dict) and "write" in scopes.values()):
        token = "a GITHUB_TOKEN that can write"  # noqa: S105
    else:
        token = ""
    parts = [p for p in ("secrets" if secrets else "", token) if p]
    return " and ".join(parts) if parts else None


def _fetches(job: Job) -> list[Fetch]:
    found: list[Fetch] = []
    for step in job.steps:
        if step.uses_action("actions/checkout"):
            fetch = _checkout(step)
            if fetch is not None:
                found.append(fetch)
        elif any(step.uses_action(a) for a in _ARTIFACT_ACTIONS):
            run_id = step.input("run-id") or step.input("run_id")
            if run_id is not None and "workflow_run" in run_id.value:
                found.append(
                    Fetch(
                        step,
                        run_id,
                        None,
                        "downloads artifacts built from pull request code",
                        Confidence.MEDIUM,
                        step.index + 1,
                        artifact=True,
                    )
                )
        run = step.run
        if run is None:
            continue
        for part in script_lines(run):
            match = _SHELL_FETCH.search(part.text)
            if match is None:
                continue
            span = fragment_span(run, part.offset + match.start(), part.offset + match.end())
            found.append(
                Fetch(
                    step,
                    run,
                    span,
                    f"fetches pull request code (`{match.group(0).strip()}`)",
                    Confidence.HIGH,
                    step.index,
                )
            )
            break
    return found


def shell_fetches_pr_code(run: Scalar) -> bool:
    """Return whether a `run:` script fetches pull request code (gh pr checkout, git fetch)."""
    return any(_SHELL_FETCH.search(part.text) for part in script_lines(run))


def checks_out_pr_code(step: Step) -> bool:
    """Return whether a checkout step fetches pull request code and is not refused for it."""
    fetch = _checkout(step)
    return fetch is not None and not fetch.assumed_unguarded


def _checkout(step: Step) -> Fetch | None:
    ref = step.input("ref")
    repository = step.input("repository")
    target: Scalar | None = None
    for candidate in (ref, repository):
        if candidate is not None and PR_CODE.search(candidate.value):
            target = candidate
            break
    if target is None:
        return None
    unsafe = step.input("allow-unsafe-pr-checkout")
    action = step.action
    if action is None:
        return None
    if unsafe is not None and unsafe.is_true():
        return Fetch(
            step,
            unsafe,
            None,
            "checks out pull request code with `allow-unsafe-pr-checkout: true`",
            Confidence.HIGH,
            step.index + 1,
        )
    if _refuses_fork_code(action):
        return Fetch(
            step,
            target,
            None,
            f"checks out the pull request head (`{target.value.strip()}`) with "
            f"actions/checkout@{action.ref}",
            Confidence.MEDIUM,
            step.index + 1,
            assumed_unguarded=(
                f"Nothing in the workflow stops fork code: only the fork pull request guard "
                f"that GitHub says actions/checkout@{action.ref} has since 2026 would refuse "
                "it, which keyless cannot verify offline and which older actions on GitHub "
                "Enterprise Server lack"
            ),
        )
    return Fetch(
        step,
        target,
        None,
        f"checks out pull request code with actions/checkout@{action.ref or '?'}, which "
        "predates the fork pull request guard",
        Confidence.MEDIUM if action.pinned else Confidence.HIGH,
        step.index + 1,
    )


def _refuses_fork_code(action: ActionRef) -> bool:
    """Return whether this checkout ref refuses fork code under privileged triggers.

    actions/checkout v7 (GitHub changelog, 2026-06-18) refuses to fetch a fork pull
    request's code in pull_request_target and pull-request workflow_run jobs unless
    `allow-unsafe-pr-checkout: true`. GitHub announced that on 2026-07-16 it would move
    the floating tag of every supported major version (its example is `v4`) to a release
    with the same check, and v6 has it since 6.1.0. Refs pinned to a commit SHA or an
    older exact version keep the old behaviour.

    NOTE: whether `v2` and `v3` count as supported is unverified, so floating tags
    below `v4` are treated as unguarded (reported, never hidden).
    """
    version = action.major_version()
    if version is None:
        # TODO: a SHA pin may point at a release with the guard. Resolving it needs the
        # GitHub API, so it is treated as unguarded and reported at medium confidence.
        return False
    if len(version) == 1:
        return version[0] >= 4
    if version[0] >= 7:
        return True
    return version[0] == 6 and version[1] >= 1


def _runs_code(step: Step, *, artifact: bool = False) -> bool:
    if step.run is not None:
        return not (artifact and _only_reads_data(step.run))
    action = step.action
    if action is None:
        return False
    if action.local:
        return True
    # Build and test actions that execute the checked-out project's own scripts.
    return action.name in {
        "docker/build-push-action",
        "gradle/gradle-build-action",
        "gradle/actions/setup-gradle",
        "github/codeql-action/autobuild",
        "cypress-io/github-action",
    }


# Commands that unpack, read or post downloaded data without executing it, as in
# GitHub's recommended workflow_run pattern (download, unzip, comment).
_DATA_COMMANDS = frozenset(
    {"unzip", "tar", "cat", "jq", "head", "tail", "ls", "echo", "printf", "mkdir", "mv", "cp"}
    | {"test", "[", "wc", "grep", "sed", "awk", "gh", "curl", "set", "export", "cd", "true"}
)


def _only_reads_data(run: Scalar) -> bool:
    """Return whether every command of a script is a data command (no `./x`, no `sh x`)."""
    for line in script_lines(run):
        for command in re.split(r"&&|\|\||;|\|", line.code):
            words = command.split()
            if words and words[0] not in _DATA_COMMANDS:
                return False
    return True


CHECK = UntrustedCodeWithSecrets()
