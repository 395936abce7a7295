"""id-token-misuse: GitLab ID tokens without an audience, or one audience for several services."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from keyless.audit.gitlab import Job, Pipeline
from keyless.audit.nodes import Mapping, Node, Scalar, Sequence, string_items
from keyless.audit.rules.base import AuditRule, Context
from keyless.audit.shell import variable_uses
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "id-token-misuse",
    "ID token without a specific audience",
    Severity.MEDIUM,
    Confidence.HIGH,
    "An ID token is meant for the one service named in its `aud` claim. A token without "
    "`aud`, with several audiences, or with an audience that several services accept can "
    "be replayed: whichever service receives it can use it at the others. With several "
    "ID tokens, `secrets:` needs `token:` to say which one Vault gets.",
    "Give each ID token one audience that only its service accepts, one token per "
    "service, and name the token in each `secrets:` entry with `token: $NAME`.",
)

_SERVICES = (
    ("Vault", re.compile(r"\bvault\b|VAULT_|/auth/jwt|auth/gitlab")),
    ("AWS", re.compile(r"\baws\b|assume-role-with-web-identity|AWS_WEB_IDENTITY")),
    ("Google Cloud", re.compile(r"\bgcloud\b|googleapis|workload-identity")),
    ("Azure", re.compile(r"\baz\s+login\b|--federated-token|AZURE_FEDERATED")),
    ("keyless", re.compile(r"\bkeyless\s+(\w+)")),
)


@dataclass
class Token:
    """One `id_tokens:` entry and the services its variable is sent to."""

    job: Job
    name: str
    key: Scalar
    audiences: list[Scalar]
    services: set[str] = field(default_factory=set)


class IdTokenMisuse(AuditRule):
    """Check each job's `id_tokens:` and `secrets:` against how the tokens are used."""

    rule = RULE

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        by_audience: dict[str, list[Token]] = defaultdict(list)
        for job in pipeline.jobs:
            tokens = _tokens(job, pipeline, context)
            _check_secrets(job, tokens, context)
            for token in tokens:
                for audience_node in token.audiences:
                    by_audience[audience_node.value.strip()].append(token)
        for audience, tokens in by_audience.items():
            services = set().union(*(t.services for t in tokens))
            if len(services) < 2:
                continue
            reported: set[int] = set()
            for token in tokens:
                node = next(a for a in token.audiences if a.value.strip() == audience)
                if id(node) in reported:
                    continue
                reported.add(id(node))
                context.report(
                    RULE,
                    node,
                    key=f"{token.job.describe}.id_tokens.{token.name}.aud:shared",
                    message=f"audience {audience!r} is used for {', '.join(sorted(services))}; "
                    "each of them can replay the token to the others",
                    anchors=(token.key, token.job.key),
                )


def _tokens(job: Job, pipeline: Pipeline, context: Context) -> list[Token]:
    mapping = job.id_tokens
    if mapping is None and pipeline.default is not None:
        mapping = pipeline.default.mapping("id_tokens")
    if mapping is None:
        return []
    scripts = [line for _, line in job.scripts()]
    tokens: list[Token] = []
    for key, spec in mapping.entries:
        name = key.value
        audiences: list[Scalar] = []
        aud = spec.get("aud") if isinstance(spec, Mapping) else None
        if aud is None:
            context.report(
                RULE,
                key,
                key=f"{job.describe}.id_tokens.{name}",
                message=f"ID token {name} has no `aud`; set the audience of the one service "
                "that reads it",
                anchors=(job.key,),
            )
        else:
            audiences = list(string_items(aud))
            if isinstance(aud, Sequence) and len(audiences) > 1:
                aud_key = spec.key_node("aud") if isinstance(spec, Mapping) else None
                context.report(
                    RULE,
                    aud_key or aud,
                    key=f"{job.describe}.id_tokens.{name}.aud:several",
                    message=f"ID token {name} is valid for {len(audiences)} audiences; any of "
                    "them can replay it to the others",
                    anchors=(key, job.key),
                )
        token = Token(job, name, key, audiences)
        for line in scripts:
            if any(True for _ in variable_uses(line.value, name)):
                token.services.update(_services(line.value))
        tokens.append(token)
    _vault_secrets(job, tokens)
    return tokens


def _services(text: str) -> set[str]:
    found: set[str] = set()
    for service, pattern in _SERVICES:
        match = pattern.search(text)
        if match is None:
            continue
        if service == "keyless":
            found.add(
                {"aws": "AWS", "gcp": "Google Cloud", "azure": "Azure"}.get(match.group(1), "Vault")
            )
        else:
            found.add(service)
    return found


def _vault_secrets(job: Job, tokens: list[Token]) -> None:
    secrets = job.node.mapping("secrets")
    if secrets is None:
        return
    for _, spec in secrets.items():
        if not isinstance(spec, Mapping):
            continue
        named = spec.text("token").lstrip("$").strip("{}")
        for token in tokens:
            if token.name == named or (not named and len(tokens) == 1):
                token.services.add("Vault")


def _check_secrets(job: Job, tokens: list[Token], context: Context) -> None:
    secrets = job.node.mapping("secrets")
    if secrets is None or len(tokens) < 2:
        return
    for key, spec in secrets.entries:
        name = key.value
        if isinstance(spec, Mapping) and "token" in spec:
            continue
        target: Node = key
        context.report(
            RULE,
            target,
            key=f"{job.describe}.secrets.{name}.token",
            message=f"secret {name} has no `token:` but the job defines {len(tokens)} ID "
            f"tokens ({', '.join(t.name for t in tokens)}); name the one Vault should get",
            anchors=(job.key,),
            confidence=Confidence.HIGH,
            severity=Severity.MEDIUM,
        )


CHECK = IdTokenMisuse()
