"""GitHub Actions annotations, and a Markdown table for the job summary.

Each finding becomes a workflow command such as
`::error file=app.py,line=3,col=9,title=GitHub token (github-token)::...` that the
runner turns into an annotation on that line. GitHub shows at most 10 annotations of
each kind (error, warning, notice) per step and 50 per job (actions/toolkit,
docs/problem-matchers.md). So findings are annotated worst first, 10 of each kind, and
the rest are counted and listed as plain log lines.

Every value taken from the scanned repository (file names, messages, rule ids from
custom config) is escaped, so it cannot end a command early or start a new one: the
properties escape `%`, CR, LF, `:` and `,`; the message escapes `%`, CR and LF. The
plain list is wrapped in `::stop-commands::` with a random token, because the runner
also reads the older `##[command]` syntax anywhere in a line.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from keyless.ci.github import escape_data, escape_property
from keyless.findings import Finding
from keyless.logs import logger
from keyless.report.describe import finding_message
from keyless.report.levels import ANNOTATION_COMMAND
from keyless.report.model import Report
from keyless.report.sarif import MAX_RESULTS

ANNOTATIONS_PER_KIND = 10
MAX_SUMMARY_ROWS = 100
SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def render(report: Report) -> str:
    """Render annotations, most severe first, then a count and a list of the rest."""
    annotated: list[str] = []
    rest: list[Finding] = []
    per_kind: dict[str, int] = {}
    for finding in report.sorted_findings():
        kind = ANNOTATION_COMMAND[finding.severity]
        if per_kind.get(kind, 0) < ANNOTATIONS_PER_KIND:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            annotated.append(annotation(finding))
        else:
            rest.append(finding)
    lines = list(annotated)
    lines.append(_count_line(report, len(annotated), len(rest)))
    if rest:
        token = secrets.token_hex(16)
        lines.append(f"::stop-commands::{token}")
        lines.extend(f"  {_plain_line(finding)}" for finding in rest)
        lines.append(f"::{token}::")
    return "\n".join(lines) + "\n"


def annotation(finding: Finding) -> str:
    """Return the workflow command that annotates one finding."""
    loc = finding.location
    properties = {
        "file": loc.path,
        "line": str(max(loc.line, 1)),
        "col": str(max(loc.column, 1)),
    }
    end_line = loc.end_line if loc.end_line is not None else loc.line
    if end_line > loc.line:
        properties["endLine"] = str(end_line)
    elif loc.end_column is not None and loc.end_column > loc.column:
        # GitHub reads endColumn only for an annotation on one line.
        properties["endColumn"] = str(loc.end_column)
    properties["title"] = f"{finding.title} ({finding.rule_id})"
    joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    message = f"{finding_message(finding)}. Fix: {finding.remediation}"
    return f"::{ANNOTATION_COMMAND[finding.severity]} {joined}::{escape_data(message)}"


def _count_line(report: Report, annotated: int, rest: int) -> str:
    total = len(report.findings)
    noun = "secret" if report.kind == "secrets" else "finding"
    found = f"keyless: {_count(total, noun)}"
    if not rest:
        return f"{found}, all annotated."
    return (
        f"{found}; annotated the {annotated} most severe. {rest} more are listed below, "
        f"because GitHub shows at most {ANNOTATIONS_PER_KIND} annotations of each kind per "
        f"step; {_full_reports(total)}"
    )


def _full_reports(total: int) -> str:
    """Name the reports that list all `total` findings; SARIF keeps only the first few."""
    if total > MAX_RESULTS:
        return (
            f"the JSON report has them all (SARIF keeps the {MAX_RESULTS:,} most severe, "
            "as GitHub code scanning does)."
        )
    return "the SARIF or JSON report has them all."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _plain_line(finding: Finding) -> str:
    loc = finding.location
    text = (
        f"{loc.path}:{loc.line}:{loc.column}: {finding.severity.value} {finding.rule_id}: "
        f"{finding_message(finding)}"
    )
    # One finding, one log line, whatever the file name holds.
    return escape_data(text)


def step_summary(report: Report) -> str:
    """Return a Markdown section with a table of the findings, worst first."""
    findings = report.sorted_findings()
    noun = "secret" if report.kind == "secrets" else "finding"
    lines = [f"### keyless {report.kind}: {_count(len(findings), noun)}", ""]
    if not findings:
        lines.append(f"No {noun}s in {report.scanned} files scanned.")
        return "\n".join(lines) + "\n\n"
    lines.append("| Severity | Rule | Location | Finding |")
    lines.append("| --- | --- | --- | --- |")
    for finding in findings[:MAX_SUMMARY_ROWS]:
        loc = finding.location
        cells = (
            finding.severity.value,
            finding.rule_id,
            f"{loc.path}:{loc.line}",
            finding_message(finding),
        )
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in cells) + " |")
    if len(findings) > MAX_SUMMARY_ROWS:
        lines.append("")
        lines.append(
            f"{len(findings) - MAX_SUMMARY_ROWS} more are left out of this table; "
            + _full_reports(len(findings))
        )
    return "\n".join(lines) + "\n\n"


# Characters that could start Markdown or HTML markup, or end a table cell.
_MARKDOWN_SPECIAL = set("\\`*_[]()<>&|~!#")


def _markdown_cell(text: str) -> str:
    flat = " ".join(text.splitlines())
    return "".join(f"\\{char}" if char in _MARKDOWN_SPECIAL else char for char in flat)


def append_step_summary(report: Report) -> None:
    """Append the Markdown summary to the file GITHUB_STEP_SUMMARY names, when set."""
    target = os.environ.get(SUMMARY_VARIABLE)
    if not target:
        return
    try:
        with Path(target).open("a", encoding="utf-8") as summary:
            summary.write(step_summary(report))
    except OSError as exc:
        # The findings still reach the log and the exit code, so this is not fatal.
        logger.warning("GitHub: failed to append the job summary to %s: %s", target, exc.strerror)
