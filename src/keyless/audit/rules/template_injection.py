"""template-injection: attacker-controlled expressions expanded into scripts."""

from __future__ import annotations

import re

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
# branch) controls. Anchored at a word boundary so `github.event.issue.title` matches
# but `github.event.issue.number` does not.
_UNTRUSTED = re.compile(
    r"\bgithub\.(?:head_ref"
    r"|event\.(?:issue\.(?:title|body)"
    r"|pull_request\.(?:title|body|head\.ref|head\.label|head\.repo\.default_branch"
    r"|head\.repo\.description|head\.repo\.homepage)"
    r"|comment\.body|review\.body|review_comment\.body"
    r"|discussion\.(?:title|body)|discussion_comment\.body"
    r"|pages\.[\w*\[\]]+\.page_name"
    r"|commits\.[\w*\[\]]+\.(?:message|author\.(?:email|name))"
    r"|head_commit\.(?:message|author\.(?:email|name))"
    r"|workflow_run\.(?:head_branch|head_commit\.(?:message|author\.(?:email|name))"
    r"|display_title|pull_requests\.[\w*\[\]]+\.head\.ref)"
    r"|release\.(?:name|body)|inputs\.\w+|client_payload\.[\w.]+"
    r"|(?:pull_request|issue)\.user\.login))"
)
_SCRIPT_ACTIONS = ("actions/github-script",)


class TemplateInjection(AuditRule):
    """Find untrusted contexts inside `run:` and `actions/github-script` scripts."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for job in workflow.jobs:
            for step in job.steps:
                _check_step(step, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            for step in job.steps:
                _check_step(step, context)


def _check_step(step: Step, context: Context) -> None:
    script: Scalar | None = step.run
    where = "run"
    if script is None and any(step.uses_action(a) for a in _SCRIPT_ACTIONS):
        script = step.input("script")
        where = "with.script"
    if script is None:
        return
    for start, end, inner in expressions(script):
        match = _UNTRUSTED.search(inner)
        if match is None:
            continue
        name = match.group(0)
        # workflow_dispatch inputs come from users with write access: lower confidence.
        confidence = Confidence.LOW if ".inputs." in name else RULE.confidence
        severity = Severity.MEDIUM if ".inputs." in name else RULE.severity
        context.report(
            RULE,
            script,
            key=f"{step.describe}.{where}:{name}",
            message=f"`{name}` is expanded into the {where} script; its author controls it",
            at=fragment_span(script, start, end),
            confidence=confidence,
            severity=severity,
            anchors=(step.node, step.job.anchor),
        )


CHECK = TemplateInjection()
