"""The human-readable report for terminals and CI logs."""

from __future__ import annotations

from keyless.report.model import Report


def render(report: Report) -> str:
    """Render findings as `path:line:col  severity  rule  preview`, then a summary."""
    lines: list[str] = []
    for finding in report.sorted_findings():
        loc = finding.location
        where = f"{loc.path}:{loc.line}:{loc.column}"
        preview = f"  {finding.preview}" if finding.preview else ""
        lines.append(
            f"{where}: {finding.severity.value} {finding.rule_id}: "
            f"{finding.message or finding.title}{preview}"
        )
        # Multi-line remediations (audit tips with YAML to paste) stay under "fix:".
        remediation = finding.remediation.replace("\n", "\n         ")
        lines.append(f"    fix: {remediation}")
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def _summary(report: Report) -> str:
    noun = "secret" if report.kind == "secrets" else "finding"
    count = len(report.findings)
    parts = [
        f"{count} {noun}{'' if count == 1 else 's'} in {report.scanned} "
        f"file{'' if report.scanned == 1 else 's'} scanned"
    ]
    if report.skipped:
        detail = ", ".join(f"{n} {reason}" for reason, n in report.skipped.items())
        parts.append(f"skipped {sum(report.skipped.values())} ({detail})")
    if report.suppressed:
        parts.append(f"{report.suppressed} allowed inline")
    if report.baselined:
        parts.append(f"{report.baselined} in baseline")
    summary = "; ".join(parts) + "."
    for note in report.notes:
        summary += f"\nnote: {note}"
    return summary
