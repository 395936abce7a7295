"""deprecated-ci-job-jwt: jobs that still read CI_JOB_JWT, removed in GitLab 17.0."""

from __future__ import annotations

import re

from keyless.audit.gitlab import Pipeline
from keyless.audit.nodes import Mapping, Node, Scalar, Sequence, walk_scalars
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "deprecated-ci-job-jwt",
    "CI_JOB_JWT is removed; use id_tokens",
    Severity.MEDIUM,
    Confidence.HIGH,
    "GitLab 17.0 removed `CI_JOB_JWT`, `CI_JOB_JWT_V1` and `CI_JOB_JWT_V2`. The old tokens "
    "had one fixed audience, so any service that accepted one could replay it to every "
    "other; jobs that still read them fail or send an empty token.",
    "Declare an ID token with the audience of the one service that reads it:\n"
    "  id_tokens:\n    VAULT_ID_TOKEN:\n      aud: https://vault.example.com\n"
    "and read `$VAULT_ID_TOKEN` where the job used `$CI_JOB_JWT`.",
)

_OLD = re.compile(r"\bCI_JOB_JWT(?:_V[12])?\b")


class DeprecatedCiJobJwt(AuditRule):
    """Find every mention of the removed CI_JOB_JWT variables."""

    rule = RULE

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        for loaded in pipeline.files:
            for document in loaded.documents:
                if not isinstance(document, Mapping):
                    continue
                for scalar in walk_scalars(document):
                    _check(scalar, context)
                for key in _all_keys(document):
                    if _OLD.fullmatch(key.value):
                        _report(key, 0, len(key.value), key.value, context)


def _all_keys(node: Mapping) -> list[Scalar]:
    keys: list[Scalar] = []
    stack: list[Node] = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Mapping):
            for key, value in current.entries:
                keys.append(key)
                stack.append(value)
        elif isinstance(current, Sequence):
            stack.extend(current.items)
    return keys


def _check(scalar: Scalar, context: Context) -> None:
    for match in _OLD.finditer(scalar.value):
        _report(scalar, match.start(), match.end(), match.group(0), context)


def _report(scalar: Scalar, start: int, end: int, name: str, context: Context) -> None:
    line = scalar.locate(start).line
    context.report(
        RULE,
        scalar,
        key=f"{name}:{scalar.source.line(line).strip()}",
        message=f"{name} was removed in GitLab 17.0; declare an ID token with `id_tokens:`",
        at=fragment_span(scalar, start, end),
    )


CHECK = DeprecatedCiJobJwt()
