"""publish-with-token: package uploads with a stored token where trusted publishing exists."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyless.audit.github import CompositeAction, Step, Workflow, references_secrets
from keyless.audit.nodes import Scalar
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import jobs_of
from keyless.audit.shell import script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "publish-with-token",
    "Package published with a stored token",
    Severity.MEDIUM,
    Confidence.HIGH,
    "The workflow uploads a package to PyPI, npm, RubyGems or crates.io with a long-lived "
    "API token. These registries support trusted publishing: the registry accepts the "
    "job's OIDC token for this repository and workflow, so no token needs storing.",
    "Configure a trusted publisher for this repository and workflow on the registry, give "
    "the job `permissions: id-token: write`, remove the token, then revoke it.",
)


@dataclass(frozen=True)
class Registry:
    """A registry, how its token is passed, and its trusted-publishing fix."""

    name: str
    command: re.Pattern[str]
    env: tuple[str, ...]
    flags: re.Pattern[str] | None
    tip: str


REGISTRIES = (
    Registry(
        "PyPI",
        re.compile(
            r"\b(?:twine\s+upload|uv\s+publish|poetry\s+publish|hatch\s+publish|flit\s+publish)\b"
        ),
        (
            "TWINE_PASSWORD",
            "UV_PUBLISH_TOKEN",
            "UV_PUBLISH_PASSWORD",
            "POETRY_PYPI_TOKEN_PYPI",
            "HATCH_INDEX_AUTH",
            "FLIT_PASSWORD",
        ),
        re.compile(r"(?:-p|--password|--token)[=\s]+\S+|-u\s+__token__"),
        "Use PyPI trusted publishing: add this workflow as a trusted publisher on pypi.org, "
        "set `permissions: id-token: write` on the job and publish with "
        "`pypa/gh-action-pypi-publish` (no password input) or `uv publish --trusted-publishing "
        "always`. Then revoke the API token.",
    ),
    Registry(
        "npm",
        re.compile(r"\b(?:npm|pnpm|yarn)\s+(?:publish|npm\s+publish)\b"),
        ("NODE_AUTH_TOKEN", "NPM_TOKEN", "NPM_AUTH_TOKEN", "YARN_NPM_AUTH_TOKEN"),
        re.compile(r"--//registry\.npmjs\.org/:_authToken=\S+"),
        "Use npm trusted publishing (npm CLI 11.5.1 or later): add this workflow as a trusted "
        "publisher in the package settings on npmjs.com, set `permissions: id-token: write` "
        "on the job and run `npm publish` with no NODE_AUTH_TOKEN. Then revoke the token.",
    ),
    Registry(
        "RubyGems",
        re.compile(r"\bgem\s+push\b|\brake\s+release\b"),
        ("GEM_HOST_API_KEY", "RUBYGEMS_API_KEY"),
        re.compile(r"--key[=\s]+\S+"),
        "Use RubyGems trusted publishing: add this workflow as a trusted publisher on "
        "rubygems.org, set `permissions: id-token: write` and use `rubygems/release-gem` "
        "(or `rubygems/configure-rubygems-credentials`). Then revoke the API key.",
    ),
    Registry(
        "crates.io",
        re.compile(r"\bcargo\s+(?:publish|release)\b"),
        ("CARGO_REGISTRY_TOKEN", "CARGO_REGISTRIES_CRATES_IO_TOKEN"),
        re.compile(r"--token[=\s]+\S+"),
        "Use crates.io trusted publishing: add this workflow as a trusted publisher in the "
        "crate settings, set `permissions: id-token: write`, get a short-lived token with "
        "`rust-lang/crates-io-auth-action` and pass its output to `cargo publish`. Then revoke "
        "the API token.",
    ),
)

# (action, input holding the token, registry index into REGISTRIES)
ACTION_INPUTS = (
    ("pypa/gh-action-pypi-publish", "password", 0),
    ("js-devtools/npm-publish", "token", 1),
    ("cadeuh/publish-rubygems-action", "api_key", 2),
    ("katyo/publish-crates", "registry-token", 3),
)


class PublishWithToken(AuditRule):
    """Find publish steps and commands that read a token from secrets."""

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
    for action, name, index in ACTION_INPUTS:
        if not step.uses_action(action):
            continue
        key = step.input_key(name)
        value = step.input(name)
        if key is None or value is None or not value.value.strip():
            continue
        registry = REGISTRIES[index]
        context.report(
            RULE,
            key,
            key=f"{step.describe}.with.{name}",
            message=f"{action} publishes to {registry.name} with a stored token ({name})",
            remediation=registry.tip,
            anchors=(step.node, step.job.anchor),
        )
        return
    run = step.run
    if run is None:
        return
    env = step.effective_env()
    for part in script_lines(run):
        for registry in REGISTRIES:
            command = registry.command.search(part.code)
            if command is None:
                continue
            token = _token_source(registry, part.code, env)
            if token is None:
                continue
            start = part.offset + command.start()
            context.report(
                RULE,
                run,
                key=f"{step.describe}.run:{registry.name}",
                message=f"`{command.group(0)}` publishes to {registry.name} with {token}",
                remediation=registry.tip,
                at=fragment_span(run, start, part.offset + command.end()),
                anchors=(step.node, step.job.anchor),
            )
            break


def _token_source(registry: Registry, code: str, env: dict[str, Scalar]) -> str | None:
    for name in registry.env:
        value = env.get(name)
        if value is not None and references_secrets(value.value):
            return f"the stored token in {name}"
    if registry.flags is not None:
        flag = registry.flags.search(code)
        if flag is not None and ("secrets." in code or "$" in flag.group(0)):
            return "a token on the command line"
    return None


CHECK = PublishWithToken()
