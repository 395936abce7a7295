"""secrets-in-artifacts: credentials written to files that GitLab keeps as artifacts."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from keyless.audit.gitlab import Job, Pipeline
from keyless.audit.nodes import string_items
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.shell import expanded_variables, is_credential_name, script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "secrets-in-artifacts",
    "Credential written to a file kept as an artifact",
    Severity.HIGH,
    Confidence.HIGH,
    "Job artifacts can be downloaded by everyone with access to the pipeline (on public "
    "projects, by anyone), and `reports: dotenv` variables are passed to later jobs and "
    "shown in the UI. A token or key written to such a file outlives the job.",
    "Keep credentials in variables, not files; if a tool needs a file, write it outside "
    "the artifact paths (for example under `$CI_BUILDS_DIR/../tmp` or `/tmp`) and delete "
    "it in `after_script`. Pass only non-secret values through `reports: dotenv`.",
)

_GITLAB_CREDENTIALS = {
    "CI_JOB_TOKEN",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V1",
    "CI_JOB_JWT_V2",
    "CI_DEPENDENCY_PROXY_PASSWORD",
}
_WRITE = re.compile(r"(?:>>?|\btee\s+(?:-a\s+)?)\s*\"?([^\s\"'&|;>]+)")
_DUMP = re.compile(r"^\s*(?:env|printenv|export\s+-p|set|declare\s+-p[x]?)\s*(?:>>?|\|\s*tee)")


class SecretsInArtifacts(AuditRule):
    """Match files written with credentials against `artifacts:` paths and dotenv reports."""

    rule = RULE

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        for job in pipeline.jobs:
            if job.hidden:
                continue
            _check_job(job, context)


def _artifact_patterns(job: Job) -> list[tuple[str, str]]:
    artifacts = job.node.mapping("artifacts")
    if artifacts is None:
        return []
    patterns = [(p.value.strip(), "artifacts:paths") for p in string_items(artifacts.get("paths"))]
    reports = artifacts.mapping("reports")
    if reports is not None:
        patterns.extend(
            (p.value.strip(), "artifacts:reports:dotenv")
            for p in string_items(reports.get("dotenv"))
        )
    untracked = artifacts.scalar("untracked")
    if untracked is not None and untracked.is_true():
        patterns.append(("*", "artifacts:untracked"))
    return patterns


def _credential_variables(job: Job) -> set[str]:
    names = {n for n in _GITLAB_CREDENTIALS}
    if job.id_tokens is not None:
        names.update(name for name, _ in job.id_tokens.items())
    secrets = job.node.mapping("secrets")
    if secrets is not None:
        names.update(name for name, _ in secrets.items())
    return names


def _check_job(job: Job, context: Context) -> None:
    patterns = _artifact_patterns(job)
    if not patterns:
        return
    credentials = _credential_variables(job)
    for keyword, line in job.scripts():
        for part in script_lines(line):
            code = part.code
            write = _WRITE.search(code)
            if write is None:
                continue
            target = write.group(1)
            dump = _DUMP.search(code) is not None
            used = [
                v
                for v in expanded_variables(code[: write.start()] + code[write.end() :])
                if v in credentials or is_credential_name(v)
            ]
            if not dump and not used:
                continue
            matched = _matching(target, patterns)
            if matched is None:
                continue
            what = "every variable" if dump else f"${used[0]}"
            context.report(
                RULE,
                line,
                key=f"{job.describe}.{keyword}:{target}",
                message=f"{what} is written to {target}, which {matched[1]} keeps ({matched[0]!r})",
                at=fragment_span(line, part.offset, part.offset + len(part.text)),
                anchors=(job.key,),
                confidence=Confidence.HIGH if dump or used[0] in credentials else Confidence.MEDIUM,
            )


def _matching(target: str, patterns: list[tuple[str, str]]) -> tuple[str, str] | None:
    path = (
        target.removeprefix("./")
        .removeprefix("$CI_PROJECT_DIR/")
        .removeprefix("${CI_PROJECT_DIR}/")
    )
    if path.startswith(("/", "~", "$")):
        return None
    for pattern, where in patterns:
        cleaned = pattern.removeprefix("./").rstrip("/")
        if cleaned in ("", ".", "*", "**") or fnmatchcase(path, cleaned):
            return pattern, where
        if path.startswith(cleaned + "/") or fnmatchcase(path, cleaned + "/*"):
            return pattern, where
    return None


CHECK = SecretsInArtifacts()
