"""overprovisioned-secrets: expressions that read the whole `secrets` context."""

from __future__ import annotations

import re

from keyless.audit.github import CompositeAction, Workflow, expressions
from keyless.audit.nodes import Mapping, Node, walk_scalars
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "overprovisioned-secrets",
    "Every secret exposed to one step",
    Severity.MEDIUM,
    Confidence.HIGH,
    "`toJSON(secrets)` serialises every secret the workflow can read, and `secrets[...]` "
    "with a computed name makes the runner send all of them to the job. Either way one "
    "step can see secrets it has no use for.",
    "Name each secret the step needs: `${{ secrets.NAME }}`.",
)

_WHOLE = re.compile(r"(?i)\b(?:toJSON|fromJSON|join|format)\s*\(\s*secrets\s*[),]")
_DYNAMIC = re.compile(r"\bsecrets\s*\[\s*(?!['\"][A-Za-z_][\w-]*['\"]\s*\])")


class OverprovisionedSecrets(AuditRule):
    """Find `toJSON(secrets)` and `secrets[<expression>]` anywhere in the file."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        _check(workflow.root, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        _check(action.root, context)


def _check(root: Node, context: Context) -> None:
    if not isinstance(root, Mapping):
        return
    for scalar in walk_scalars(root):
        for start, end, inner in expressions(scalar):
            match = _WHOLE.search(inner) or _DYNAMIC.search(inner)
            if match is None:
                continue
            text = scalar.value[start:end].strip()
            context.report(
                RULE,
                scalar,
                key=f"expression:{text}",
                message=f"`{text}` exposes every secret, not only the ones this step needs",
                at=fragment_span(scalar, start, end),
            )


CHECK = OverprovisionedSecrets()
