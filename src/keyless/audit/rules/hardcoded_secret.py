"""hardcoded-secret: secret values written into pipeline files."""

from __future__ import annotations

import re
from collections.abc import Iterator

from keyless.audit.github import CompositeAction, Job, Workflow
from keyless.audit.gitlab import Pipeline, variable_value
from keyless.audit.nodes import Mapping, Node, Scalar, Sequence, walk_scalars
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import jobs_of
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "hardcoded-secret",
    "Secret hardcoded in a pipeline file",
    Severity.HIGH,
    Confidence.HIGH,
    "A credential is written into the pipeline configuration, where everyone who can read "
    "the repository (and its history) can use it.",
    "Revoke or rotate it now, then store it as a CI secret (GitHub `secrets.NAME`, a masked "
    "and protected GitLab CI/CD variable) or, better, replace it with an OIDC exchange.",
)

_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
# Passwords given literally on a command line: `docker login -p VALUE` (also podman,
# buildah, helm registry, oras, skopeo) and `curl -u user:VALUE`. The value group is
# checked by `_literal` so that `$VAR` and placeholders are not reported.
_COMMAND_PASSWORD = re.compile(
    r"\b(?:docker|podman|buildah|skopeo|oras|helm\s+registry)\s+login\b[^\n]*?"
    r"(?:\s-p|\s--password)(?:\s+|=)(?P<quote>['\"]?)(?P<value>[^\s'\"]+)(?P=quote)"
    r"|\bcurl\b[^\n]*?(?:\s-u|\s--user)(?:\s+|=)(?P<quote2>['\"]?)[^\s:'\"]+:"
    r"(?P<value2>[^\s'\"]+)(?P=quote2)"
)
_MIN_PASSWORD_LENGTH = 4


class HardcodedSecret(AuditRule):
    """Run the secret detectors over env, inputs, scripts, variables and credentials."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        if workflow.env is not None:
            _check_named(workflow.env, "env", context, ())
        for trigger, spec in workflow.triggers.items():
            inputs = spec.mapping("inputs") if isinstance(spec, Mapping) else None
            for name, definition in inputs.items() if inputs is not None else ():
                default = definition.scalar("default") if isinstance(definition, Mapping) else None
                if default is not None:
                    place = f"on.{trigger}.inputs.{name}.default"
                    _check_value(name, default, place, context, ())
        for job in workflow.jobs:
            self._check_job(job, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        inputs = action.root.mapping("inputs")
        if inputs is not None:
            for name, spec in inputs.items():
                default = spec.scalar("default") if isinstance(spec, Mapping) else None
                if default is not None:
                    _check_value(name, default, f"inputs.{name}.default", context, ())
        for job in jobs_of(action):
            self._check_job(job, context)

    def _check_job(self, job: Job, context: Context) -> None:
        anchors: tuple[Node, ...] = (job.anchor,)
        if job.kind == "workflow":
            for key in ("env", "with", "secrets"):
                mapping = job.node.mapping(key)
                if mapping is not None:
                    _check_named(mapping, f"{job.describe}.{key}", context, anchors)
            _check_credentials(job.node.get("container"), f"{job.describe}.container", context)
            services = job.node.mapping("services")
            if services is not None:
                for name, service in services.items():
                    _check_credentials(service, f"{job.describe}.services.{name}", context)
        for step in job.steps:
            step_anchors = (*anchors, step.node)
            for key in ("env", "with"):
                mapping = step.node.mapping(key)
                if mapping is not None:
                    _check_named(mapping, f"{step.describe}.{key}", context, step_anchors)
            run = step.run
            if run is not None:
                _check_text(run, run.value, f"{step.describe}.run", context, step_anchors)

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        for place, mapping in pipeline.variable_mappings(inputs=True):
            _check_named(mapping, place, context, ())
        for job in pipeline.jobs:
            for keyword, line in job.scripts():
                _check_text(line, line.value, f"{job.describe}.{keyword}", context, (job.key,))
            for _, service in _services(job.node.get("services")):
                variables = service.mapping("variables")
                if variables is not None:
                    _check_named(variables, f"{job.describe}.services", context, (job.key,))
        for key in ("before_script", "script", "after_script"):
            entry = pipeline.top.get(key)
            if entry is not None:
                for line in walk_scalars(entry[1]):
                    _check_text(line, line.value, key, context, ())
        default = pipeline.default
        if default is not None:
            for key in ("before_script", "after_script"):
                node = default.get(key)
                if node is not None:
                    for line in walk_scalars(node):
                        _check_text(line, line.value, f"default.{key}", context, ())


def _services(node: Node | None) -> Iterator[tuple[int, Mapping]]:
    if not isinstance(node, Sequence):
        return
    for index, item in enumerate(node.items):
        if isinstance(item, Mapping):
            yield index, item


def _check_named(mapping: Mapping, place: str, context: Context, anchors: tuple[Node, ...]) -> None:
    for name, node in mapping.items():
        value = variable_value(node)
        if isinstance(value, Scalar):
            _check_value(name, value, f"{place}.{name}", context, anchors)


def _check_value(
    name: str, value: Scalar, place: str, context: Context, anchors: tuple[Node, ...]
) -> None:
    # The name goes in front so that detectors keyed on names (password=...) see it.
    prefix = f"{name}="
    _check_text(value, prefix + value.value, place, context, anchors, shift=len(prefix))


def _check_credentials(node: Node | None, place: str, context: Context) -> None:
    if not isinstance(node, Mapping):
        return
    credentials = node.mapping("credentials")
    if credentials is not None:
        _check_named(credentials, f"{place}.credentials", context, (node,))


def _check_text(
    scalar: Scalar,
    text: str,
    place: str,
    context: Context,
    anchors: tuple[Node, ...],
    shift: int = 0,
) -> None:
    """Scan `text` (the scalar's value, maybe with a prefix of `shift` characters)."""
    if not text.strip():
        return
    # `${{ ... }}` expressions read secrets and vars, so they are blanked out (keeping
    # offsets) before the detectors run. `$VAR` references are placeholders already.
    masked = _EXPRESSION.sub(lambda m: " " * len(m.group(0)), text)
    result = context.engine.scan(scalar.path, masked)
    line_starts = _line_starts(masked)
    reported: set[int] = set()
    for found in result.findings:
        if found.secret is None:
            continue
        location = found.location
        start = line_starts[location.line - 1] + location.column - 1 - shift
        end = start + len(found.secret)
        if start < 0:
            continue
        reported.add(start)
        context.report(
            RULE,
            scalar,
            key="",
            message=f"{found.title} hardcoded in {place}",
            severity=found.severity,
            confidence=found.confidence,
            at=fragment_span(scalar, start, end),
            anchors=anchors,
            secret=found.secret,
            extra_rule_ids=(found.rule_id,),
        )
    _check_command_passwords(scalar, masked, shift, place, context, anchors, reported)


def _check_command_passwords(
    scalar: Scalar,
    masked: str,
    shift: int,
    place: str,
    context: Context,
    anchors: tuple[Node, ...],
    reported: set[int],
) -> None:
    """Report literal passwords passed to registry logins and curl, which no detector knows."""
    from keyless.secret import Secret

    for match in _COMMAND_PASSWORD.finditer(masked):
        group = "value" if match.group("value") is not None else "value2"
        value = match.group(group)
        start = match.start(group) - shift
        if start < 0 or start in reported or not _literal(value):
            continue
        command = "curl -u" if group == "value2" else "registry login -p"
        context.report(
            RULE,
            scalar,
            key="",
            message=f"password given literally to `{command}` in {place}",
            confidence=Confidence.MEDIUM,
            at=fragment_span(scalar, start, start + len(value)),
            anchors=anchors,
            secret=Secret(value),
        )


def _literal(value: str) -> bool:
    """Return whether a command-line value is a literal, not a variable or placeholder."""
    if len(value) < _MIN_PASSWORD_LENGTH or value.startswith(("$", "<", "%")):
        return False
    return value.strip("*x.") != "" and value.lower() not in {"password", "secret", "token"}


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for index, character in enumerate(text):
        if character == "\n":
            starts.append(index + 1)
    return starts


CHECK = HardcodedSecret()
