"""script-injection: merge request and commit text re-parsed as shell code in GitLab jobs."""

from __future__ import annotations

import re

from keyless.audit.gitlab import Pipeline, variable_value
from keyless.audit.nodes import Mapping, Scalar
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.shell import script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "script-injection",
    "Merge request or commit text evaluated as code",
    Severity.HIGH,
    Confidence.HIGH,
    "Merge request titles and descriptions, branch names and commit messages are chosen "
    "by whoever opens the merge request or pushes the branch. The shell expands `$VAR` "
    "safely once, but `eval`, `sh -c` and similar parse the expanded text again as code, "
    "which then runs with the job's variables and tokens.",
    "Never pass such values to `eval`, `sh -c`, `bash -c`, `python -c` or `ssh`; use them "
    'only as quoted data ("$CI_COMMIT_MESSAGE"), or validate them against a strict '
    "pattern first.",
)

UNTRUSTED = (
    "CI_MERGE_REQUEST_TITLE",
    "CI_MERGE_REQUEST_DESCRIPTION",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
    "CI_COMMIT_MESSAGE",
    "CI_COMMIT_TITLE",
    "CI_COMMIT_DESCRIPTION",
    "CI_COMMIT_TAG_MESSAGE",
    "CI_COMMIT_AUTHOR",
)
_SINK = re.compile(
    r"\beval\b|\b(?:ba|z|da)?sh\s+-c\b|\bpython3?\s+-c\b|\bnode\s+-e\b|\bperl\s+-e\b"
    r"|\bruby\s+-e\b|\bssh\b|\bsource\s+<\(|\bxargs\b[^\n]*\bsh\b"
)

# Text piped into a shell is parsed as code too: `echo "$CI_MERGE_REQUEST_TITLE" | sh`.
_PIPE_TO_SHELL = re.compile(r"\|\s*(?:ba|z|da)?sh\b(?!\s+-c\b)|\|\s*source\b")


class ScriptInjection(AuditRule):
    """Find untrusted predefined variables (or variables set from them) in eval-like sinks."""

    rule = RULE

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        global_aliases = _aliases(pipeline.global_variables)
        for job in pipeline.jobs:
            aliases = dict(global_aliases)
            if job.variables is not None:
                aliases.update(_aliases([job.variables]))
            names = {*UNTRUSTED, *aliases}
            pattern = re.compile(
                r"\$\{?(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b"
            )
            for keyword, line in job.scripts():
                for part in script_lines(line):
                    sink = _SINK.search(part.code)
                    found = pattern.search(part.code, sink.end()) if sink else None
                    if found is None:
                        sink = _PIPE_TO_SHELL.search(part.code)
                        found = pattern.search(part.code, 0, sink.start()) if sink else None
                    if sink is None or found is None:
                        continue
                    name = found.group(1)
                    origin = aliases.get(name)
                    via = f" (set from ${origin})" if origin else ""
                    start = part.offset + found.start()
                    context.report(
                        RULE,
                        line,
                        key=f"{job.describe}.{keyword}:{name}:{sink.group(0)}",
                        message=f"${name}{via} is parsed as code by `{sink.group(0).strip()}`",
                        at=fragment_span(line, start, part.offset + found.end()),
                        anchors=(job.key,),
                        confidence=Confidence.MEDIUM if sink.group(0) == "ssh" else None,
                    )


def _aliases(mappings: list[Mapping]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for mapping in mappings:
        for name, node in mapping.items():
            value = variable_value(node)
            if not isinstance(value, Scalar):
                continue
            for untrusted in UNTRUSTED:
                if re.search(r"\$\{?" + untrusted + r"\b", value.value):
                    aliases[name] = untrusted
                    break
    return aliases


CHECK = ScriptInjection()
