"""template-injection: attacker-controlled expressions expanded into scripts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyless.audit.github import CompositeAction, Step, Workflow, expressions
from keyless.audit.nodes import Scalar
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import jobs_of
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "template-injection",
    "Attacker-controlled value expanded into a script",
    Severity.HIGH,
    Confidence.HIGH,
    "`${{ ... }}` is replaced before the shell or JavaScript runs, so a pull request title, "
    "issue body, branch name or commit message containing quotes and commands becomes "
    "part of the script, and runs with the job's secrets and token.",
    "Pass the value through an environment variable and quote it in the script:\n"
    "  env:\n    TITLE: ${{ github.event.pull_request.title }}\n"
    '  run: echo "$TITLE"',
)

# Contexts anyone who can open an issue, pull request or comment (or push a fork
# branch) controls, matched on the expression after `_normalize`. Anchored at a word
# boundary so `github.event.issue.title` matches but `github.event.issue.number` does not.
_UNTRUSTED = re.compile(
    r"\bgithub\.(?:head_ref"
    r"|event\.(?:issue\.(?:title|body)"
    r"|pull_request\.(?:title|body|head\.ref|head\.label|head\.repo\.default_branch"
    r"|head\.repo\.description|head\.repo\.homepage)"
    r"|comment\.body|review\.body|review_comment\.body"
    r"|discussion\.(?:title|body)|discussion_comment\.body"
    r"|pages\.[\w*]+\.page_name"
    r"|commits\.[\w*]+\.(?:message|author\.(?:email|name))"
    r"|(?:merge_group\.)?head_commit\.(?:message|author\.(?:email|name))"
    r"|merge_group\.head_ref"
    r"|workflow_run\.(?:head_branch|head_commit\.(?:message|author\.(?:email|name))"
    r"|display_title|pull_requests\.[\w*]+\.head\.ref)"
    r"|release\.(?:name|body)|inputs\.\w+|client_payload\.[\w.]+"
    r"|(?:pull_request|issue)\.user\.login))"
)
# A whole event object (or all of `github`) serialized into the script contains every
# title, body and branch name in it.
_WHOLE_EVENT = re.compile(
    r"(?i)\btojson\(\s*github(?:\.event(?:\.(?:issue|pull_request|comment|review"
    r"|review_comment|discussion|discussion_comment|head_commit|commits|workflow_run"
    r"|merge_group|release|pages|client_payload))?)?\s*\)"
)
_ENV_REFERENCE = re.compile(r"\benv\.([A-Za-z_][A-Za-z0-9_]*)")
_ACTION_INPUT = re.compile(r"\binputs\.([A-Za-z_][\w-]*)")
_SCRIPT_ACTIONS = ("actions/github-script",)


def _normalize(expression: str) -> str:
    """Rewrite index syntax as dots: `github['event']['issue']` and `commits[0]`.

    String indexes become `.name` and numeric or `*` indexes become `.*`, so one
    pattern covers every way of writing the same context.
    """
    text = re.sub(r"\[\s*'([^']*)'\s*\]", r".\1", expression)
    text = re.sub(r'\[\s*"([^"]*)"\s*\]', r".\1", text)
    return re.sub(r"\[\s*(?:\d+|\*)\s*\]", ".*", text)


def untrusted_context(expression: str) -> str | None:
    """Return the attacker-controlled context an expression reads, or None."""
    normal = _normalize(expression)
    match = _UNTRUSTED.search(normal) or _WHOLE_EVENT.search(normal)
    return match.group(0) if match is not None else None


class TemplateInjection(AuditRule):
    """Find untrusted contexts inside `run:` and `actions/github-script` scripts."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for job in workflow.jobs:
            for step in job.steps:
                _check_step(step, context, action=False)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            for step in job.steps:
                _check_step(step, context, action=True)


@dataclass(frozen=True)
class _Source:
    """An attacker-controlled value found in an expression, and how sure keyless is."""

    name: str
    description: str
    severity: Severity
    confidence: Confidence


def _check_step(step: Step, context: Context, *, action: bool) -> None:
    script: Scalar | None = step.run
    where = "run"
    if script is None and any(step.uses_action(a) for a in _SCRIPT_ACTIONS):
        script = step.input("script")
        where = "with.script"
    if script is None:
        return
    env = step.effective_env()
    for start, end, inner in expressions(script):
        source = _source(inner, env, action=action)
        if source is None:
            continue
        context.report(
            RULE,
            script,
            key=f"{step.describe}.{where}:{source.name}",
            message=f"`{inner.strip()}` is expanded into the {where} script; {source.description}",
            remediation=_remediation(source.name, inner.strip(), where),
            at=fragment_span(script, start, end),
            confidence=source.confidence,
            severity=source.severity,
            anchors=(step.node, step.job.anchor),
        )


def _source(inner: str, env: dict[str, Scalar], *, action: bool) -> _Source | None:
    name = untrusted_context(inner)
    if name is not None:
        if ".inputs." in name:
            # workflow_dispatch inputs come from users with write access.
            return _Source(
                name, "whoever starts the workflow controls it", Severity.MEDIUM, Confidence.LOW
            )
        return _Source(name, "its author controls it", RULE.severity, RULE.confidence)
    for match in _ENV_REFERENCE.finditer(inner):
        value = env.get(match.group(1))
        if value is None:
            # Not set in the file: an earlier step wrote it to GITHUB_ENV (or, in an
            # action, the caller set it), so keyless cannot see where it comes from.
            return _Source(
                match.group(0),
                "it is not set in this file, so an earlier step or the caller set it and "
                "keyless cannot tell whether an attacker controls it",
                Severity.LOW,
                Confidence.LOW,
            )
        origin = next((c for _, _, e in expressions(value) if (c := untrusted_context(e))), None)
        if origin is not None:
            return _Source(
                match.group(0),
                f"it is set from `{origin}`, which its author controls",
                RULE.severity,
                Confidence.MEDIUM,
            )
    if action:
        input_match = _ACTION_INPUT.search(_normalize(inner))
        if input_match is not None:
            return _Source(
                input_match.group(0),
                "the calling workflow decides what goes in it, which may be an issue title "
                "or a branch name",
                Severity.MEDIUM,
                Confidence.LOW,
            )
    return None


def _remediation(name: str, expression: str, where: str) -> str:
    """Return the fix for one expression: move it to an environment variable.

    `name` is the context read (normalized), `expression` the text inside `${{ }}`.
    """
    parts = re.split(r"[.\s()]+", name)
    words = [part for part in parts if part and part not in ("*", "github", "event", "env")]
    if name.lower().startswith("tojson"):
        words = ["event", "json"]
    variable = re.sub(r"[^A-Za-z0-9]+", "_", "_".join(words[-2:]) or "VALUE").upper()
    key = "run" if where == "run" else "script"
    if name.startswith("env."):
        variable = name.removeprefix("env.")
    use = f'"${variable}"' if key == "run" else f"process.env.{variable}"
    if name.startswith("env."):
        return (
            f"Read the variable from the environment in the script ({use}) instead of "
            f"expanding `${{{{ {expression} }}}}` into it."
        )
    return (
        "Pass the value through an environment variable and read it from there in the "
        f"script:\n  env:\n    {variable}: ${{{{ {expression} }}}}\n"
        f"  {key}: ... {use} ..."
    )


CHECK = TemplateInjection()
