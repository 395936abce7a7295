"""The human-readable report for terminals and CI logs.

Each finding starts with `path:line:column:` so editors and CI log viewers link to
it, then the severity, the rule id, what was found and a redacted preview. The next
line gives the fix. A summary counts the files scanned and skipped, with reasons.
"""

from __future__ import annotations

from collections import Counter

from keyless.findings import Finding, Severity
from keyless.report.model import Report
from keyless.terminal import safe_line

# Skip reasons (the keys of Report.skipped) in words, singular and plural.
_SKIP_REASONS: dict[str, tuple[str, str]] = {
    "binary": ("binary file", "binary files"),
    "too-large": ("file over the size limit", "files over the size limit"),
    "excluded": ("excluded path", "excluded paths"),
    "symlink": ("symbolic link", "symbolic links"),
    "broken-symlink": ("broken symbolic link", "broken symbolic links"),
    "symlink-loop": ("symbolic link loop", "symbolic link loops"),
    "unreadable": ("unreadable file", "unreadable files"),
    "missing": ("missing file", "missing files"),
    "not-a-file": ("special file", "special files"),
    "submodule": ("submodule", "submodules"),
}


def render(report: Report) -> str:
    """Render findings, two lines each and worst first, then a summary.

    A history scan's report starts with the secrets to rotate, longest exposed first.
    """
    lines: list[str] = _rotate_section(report)
    for finding in report.sorted_findings():
        lines.extend(_finding_lines(finding))
    if lines:
        lines.append("")
    lines.extend(_summary(report))
    return "\n".join(lines) + "\n"


def _finding_lines(finding: Finding) -> list[str]:
    # Paths, messages and fix texts can carry a repository's content, so each piece
    # goes through safe_line: a file name must not start a CI workflow command.
    loc = finding.location
    head = f"{safe_line(loc.path)}:{loc.line}:{loc.column}: {finding.severity.value} "
    head += f"[{finding.rule_id}] {safe_line(finding.message or finding.title)}"
    if finding.preview:
        head += f": {safe_line(finding.preview)}"
    head += f" (confidence {finding.confidence.value})"
    lines = [head]
    if finding.commit is not None:
        seen = f"    in commit {finding.commit.sha[:12]} ({safe_line(finding.commit.date)})"
        if finding.history is not None and finding.history.present_at_tip:
            seen += ", still present at the tip"
        lines.append(seen)
    # Multi-line remediations (audit tips with YAML to paste) stay indented under "fix:".
    remediation = [safe_line(line) for line in finding.remediation.split("\n")]
    lines.append(f"    fix: {remediation[0]}")
    lines.extend(f"         {line}" for line in remediation[1:])
    return lines


def _summary(report: Report) -> list[str]:
    noun = "secret" if report.kind == "secrets" else "finding"
    count = len(report.findings)
    first = f"{_plural(count, noun, noun + 's')}{_by_severity(report.findings)} "
    unit = report.scanned_unit
    first += f"in {_plural(report.scanned, unit, unit + 's')} scanned."
    lines = [first]
    if report.skipped:
        total = sum(report.skipped.values())
        reasons = ", ".join(
            _plural(n, *_SKIP_REASONS.get(reason, (reason, reason)))
            for reason, n in sorted(report.skipped.items())
        )
        lines.append(f"Skipped {_plural(total, 'file', 'files')}: {reasons}.")
    hidden = []
    if report.suppressed:
        hidden.append(
            f"{report.suppressed} allowed by inline comments or the configuration "
            "(--no-inline-allow shows the inline ones)"
        )
    if report.ignored:
        hidden.append(f"{report.ignored} ignored by [[ignore]] entries in the configuration")
    if report.baselined:
        hidden.append(f"{report.baselined} already in the baseline")
    if hidden:
        lines.append("Not shown: " + "; ".join(hidden) + ".")
    lines.extend(f"Note: {safe_line(note)}" for note in report.notes)
    return lines


def _by_severity(findings: list[Finding]) -> str:
    if not findings:
        return ""
    counts = Counter(f.severity for f in findings)
    parts = [f"{counts[s]} {s.value}" for s in reversed(Severity) if counts[s]]
    return f" ({', '.join(parts)})"


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _rotate_section(report: Report) -> list[str]:
    """List secrets from history first, longest exposed first: each needs rotating."""
    leaked = [f for f in report.findings if f.history is not None]
    if not leaked:
        return []
    leaked.sort(key=lambda f: (-f.history.exposure_days if f.history else 0.0, f.sort_key()))
    heading = (
        "Rotate this secret"
        if len(leaked) == 1
        else f"Rotate these {len(leaked)} secrets, longest exposed first"
    )
    lines = [
        f"{heading}: a committed secret stays readable in every copy of the repository "
        "that has its commit until it is revoked."
    ]
    for finding in leaked:
        history = finding.history
        if history is None:
            continue
        loc = finding.location
        state = (
            "still present at the tip"
            if history.present_at_tip
            else f"last in {history.last_seen.sha[:12]}"
        )
        # Paths come from the repository, so they go through safe_line too.
        lines.append(
            f"  {finding.severity.value} {finding.rule_id} {safe_line(finding.preview)}: "
            f"exposed {history.exposure_days:g} days, first in {history.first_seen.sha[:12]} "
            f"({history.first_seen.date[:10]}) at {safe_line(loc.path)}:{loc.line}, {state}"
        )
        others = [safe_line(p) for p in history.paths if p != loc.path]
        if others:
            lines.append(f"    also at: {', '.join(others)}")
    lines.append("")
    return lines
