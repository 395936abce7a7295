"""secret-exposure: secrets printed, traced, or written where later steps and logs see them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from keyless.audit.github import CompositeAction, Job, Step, Workflow
from keyless.audit.nodes import Mapping, Scalar
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import jobs_of, secret_env
from keyless.audit.shell import Line, script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "secret-exposure",
    "Secret printed, traced or written where others can read it",
    Severity.MEDIUM,
    Confidence.MEDIUM,
    "Log masking only hides the exact secret value: an echoed secret that was transformed "
    "(base64, split, JSON-escaped) or traced with `set -x` appears in the log. Secrets "
    "written to GITHUB_ENV or GITHUB_OUTPUT reach every later step, and files kept as "
    "artifacts or caches can be downloaded by anyone with read access. Debug logging "
    "variables print the internals of every step.",
    "Pass secrets to the one step that needs them through `env:`, never print them, do "
    "not trace commands in steps that use them, and keep credential files out of "
    "uploaded or cached paths.",
)

_PRINT = re.compile(r"^\s*(?:echo|printf|print|Write-Host|Write-Output|cat\s+<<)\b")
_TRACE = re.compile(r"(?:^|[;&|]\s*)set\s+(?:-[a-wyz]*x[a-z]*|-o\s+xtrace)\b|\bbash\s+-[a-z]*x")
_ENV_FILE = re.compile(r">>?\s*\"?\$\{?(GITHUB_ENV|GITHUB_OUTPUT|GITHUB_STATE)\b")
FILE_WRITE = re.compile(r"(?:>>?|\btee\s+(?:-a\s+)?)\s*\"?([^\s\"'&|;$>][^\s\"'&|;>]*)")
_REDIRECT = re.compile(r"(?<![0-9&])>>?\s*(?!&)|\btee\s")
_LOG_FILES = ("/dev/stderr", "/dev/stdout")
_PIPE = re.compile(r"(?<!\|)\|(?!\|)\s*([\w./-]+)")
# Commands that print what they read, so a secret piped into them still reaches the log.
_PRINTING_FILTERS = frozenset(
    (
        "base64",
        "xxd",
        "od",
        "hexdump",
        "rev",
        "sed",
        "tr",
        "cut",
        "awk",
        "jq",
        "tee",
        "cat",
        "head",
        "tail",
        "sort",
        "fold",
        "iconv",
    )
)
_DEBUG = ("ACTIONS_STEP_DEBUG", "ACTIONS_RUNNER_DEBUG")
_WIDE_PATHS = {".", "./", "*", "**", "./**", "**/*", "${{ github.workspace }}", "$GITHUB_WORKSPACE"}


@dataclass(frozen=True)
class WrittenFile:
    """A file a step wrote a secret into."""

    path: str
    step: Step
    line: int


class SecretExposure(AuditRule):
    """Check run scripts that read secrets, and debug switches in env."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        for mapping in _env_mappings(workflow):
            _check_debug(mapping, context)
        for job in workflow.jobs:
            _check_job(job, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            for step in job.steps:
                if step.env is not None:
                    _check_debug(step.env, context)
            _check_job(job, context)


def _env_mappings(workflow: Workflow) -> list[Mapping]:
    mappings = [m for m in (workflow.env,) if m is not None]
    for job in workflow.jobs:
        if job.env is not None:
            mappings.append(job.env)
        mappings.extend(step.env for step in job.steps if step.env is not None)
    return mappings


def _check_debug(mapping: Mapping, context: Context) -> None:
    for name in _DEBUG:
        value = mapping.scalar(name)
        if value is not None and value.is_true():
            context.report(
                RULE,
                value,
                key=f"env.{name}",
                message=f"{name} is set to true: debug logging prints every step's inputs "
                "and environment to the log",
                severity=Severity.MEDIUM,
                # NOTE: GitHub documents these names as secrets or configuration
                # variables; whether a workflow `env:` entry turns logging on is untested.
                confidence=Confidence.LOW,
            )


def _check_job(job: Job, context: Context) -> None:
    written: list[WrittenFile] = []
    for step in job.steps:
        run = step.run
        if run is not None:
            written.extend(_check_run(step, run, context))
        _check_upload(step, written, context)


def secret_pattern(step: Step) -> re.Pattern[str]:
    names = sorted(secret_env(step))
    parts = [r"\$\{\{\s*secrets\.", r"\$\{\{[^}]*\bsecrets\["]
    for name in names:
        escaped = re.escape(name)
        parts.append(r"\$\{?" + escaped + r"\b")
        parts.append(r"\$\{\{\s*env\." + escaped + r"\b")
    return re.compile("|".join(parts))


def _check_run(step: Step, run: Scalar, context: Context) -> list[WrittenFile]:
    secrets = secret_pattern(step)
    uses_secret = bool(secrets.search(run.value)) or bool(secret_env(step))
    written: list[WrittenFile] = []
    anchors = (step.node, step.job.anchor)
    shell = step.node.scalar("shell")
    if uses_secret and shell is not None and _TRACE.search(shell.value):
        context.report(
            RULE,
            shell,
            key=f"{step.describe}.shell:xtrace",
            message="the shell traces every command (`-x`) in a step that uses secrets",
            anchors=anchors,
        )
    for line in script_lines(run):
        code = line.code
        if uses_secret and (trace := _TRACE.search(code)) is not None:
            _report(
                context,
                step,
                run,
                line,
                trace.start(),
                trace.end(),
                "xtrace",
                "`set -x` traces every command of a step that uses secrets into the log",
            )
            continue
        found = secrets.search(code)
        if found is None:
            continue
        env_file = _ENV_FILE.search(code)
        if env_file is not None:
            _report(
                context,
                step,
                run,
                line,
                found.start(),
                found.end(),
                env_file.group(1),
                f"a secret is written to {env_file.group(1)}, so every later step "
                "(and any action it runs) can read it",
            )
            continue
        if _REDIRECT.search(code) is not None and "::add-mask::" not in code:
            # Output goes to a file, not the log; files in the workspace are tracked.
            file_write = FILE_WRITE.search(code)
            target = file_write.group(1) if file_write is not None else None
            if target not in _LOG_FILES:
                if target is not None and target != "/dev/null":
                    written.append(WrittenFile(target, step, run.locate(line.offset).line))
                continue
        if _PRINT.search(code) and "::add-mask::" not in code and _reaches_log(code):
            _report(
                context,
                step,
                run,
                line,
                found.start(),
                found.end(),
                "print",
                "a secret is printed; masking misses it once it is transformed",
            )
    return written


def _reaches_log(code: str) -> bool:
    """Return whether printed output reaches the log: not piped, or piped into a filter.

    `echo "$TOKEN" | docker login --password-stdin` hands the value to a program, but
    `echo "$TOKEN" | base64` prints it, transformed so that masking misses it.
    """
    commands = _PIPE.findall(code)
    return not commands or commands[-1] in _PRINTING_FILTERS


def _report(
    context: Context,
    step: Step,
    run: Scalar,
    line: Line,
    start: int,
    end: int,
    kind: str,
    message: str,
) -> None:
    context.report(
        RULE,
        run,
        key=f"{step.describe}.run:{kind}:{line.code.strip()}",
        message=message,
        at=fragment_span(run, line.offset + start, line.offset + end),
        anchors=(step.node, step.job.anchor),
    )


def _check_upload(step: Step, written: list[WrittenFile], context: Context) -> None:
    if not written:
        return
    if step.uses_action("actions/upload-artifact"):
        kind = "artifact"
    elif step.uses_action("actions/cache") or step.uses_action("actions/cache/save"):
        kind = "cache"
    else:
        return
    path = step.input("path")
    if path is None:
        return
    entries = [p.strip() for p in path.value.splitlines() if p.strip()]
    for item in written:
        for entry in entries:
            if entry.startswith("!"):
                continue
            if entry in _WIDE_PATHS or _covers(entry, item.path):
                context.report(
                    RULE,
                    path,
                    key=f"{step.describe}.with.path:{item.path}",
                    message=f"the {kind} includes {item.path}, which {item.step.title} wrote a "
                    "secret into",
                    severity=Severity.HIGH,
                    anchors=(step.node, step.job.anchor),
                )
                return


def _covers(entry: str, written: str) -> bool:
    from fnmatch import fnmatchcase

    entry = entry.removeprefix("./").rstrip("/")
    written = written.removeprefix("./")
    return (
        fnmatchcase(written, entry)
        or written.startswith(entry + "/")
        or fnmatchcase(written, entry + "/*")
    )


CHECK = SecretExposure()
