"""Text and rule lists shared by the formats, so every format words a finding alike."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator
from pathlib import Path

from keyless.findings import Finding, Rule
from keyless.report.model import Report

SHORT_SHA = 12


def report_rules(report: Report) -> list[Rule]:
    """Return each rule of the report once: the command's rules, then any rule a finding
    names that the command did not list, built from that finding."""
    rules: dict[str, Rule] = {}
    for rule in report.rules:
        rules.setdefault(rule.id, rule)
    for finding in report.sorted_findings():
        if finding.rule_id not in rules:
            rules[finding.rule_id] = Rule(
                id=finding.rule_id,
                title=finding.title,
                severity=finding.severity,
                confidence=finding.confidence,
                description=finding.message or finding.title,
                remediation=finding.remediation,
            )
    return list(rules.values())


def finding_message(finding: Finding) -> str:
    """Return one line: the message, the redacted preview and, for history findings,
    where the secret was seen. It never contains the secret itself."""
    text = finding.message or finding.title
    if finding.preview:
        text += f" ({finding.preview})"
    history = finding.history
    if history is not None:
        first = history.first_seen
        state = "still present" if history.present_at_tip else "removed"
        text += (
            f"; first seen in commit {first.sha[:SHORT_SHA]} ({first.date}), "
            f"{state} at the tip, exposed {history.exposure_days:.0f} days"
        )
    elif finding.commit is not None:
        text += f"; in commit {finding.commit.sha[:SHORT_SHA]} ({finding.commit.date})"
    return text


def finding_commit(finding: Finding, report: Report) -> str | None:
    """Return the commit a finding belongs to: the one it was seen in for history
    findings, else the commit checked out when the work tree was scanned."""
    if finding.commit is not None:
        return finding.commit.sha
    if finding.history is not None:
        return finding.history.last_seen.sha
    return report.commit


def unique_fingerprints(findings: Iterable[Finding]) -> Iterator[tuple[Finding, str]]:
    """Yield each finding with a fingerprint no earlier finding has.

    The same secret twice in one file under one rule is one identity, so the second
    and later occurrences get `-2`, `-3` and so on. GitLab keys entries by fingerprint
    and needs them unique. The order of `sorted_findings()` keeps the suffixes stable
    while the file does not change.
    """
    counts: dict[str, int] = {}
    for finding in findings:
        fingerprint = finding.fingerprint
        counts[fingerprint] = counts.get(fingerprint, 0) + 1
        if counts[fingerprint] > 1:
            fingerprint = f"{fingerprint}-{counts[fingerprint]}"
        yield finding, fingerprint


def root_relative_path(path: str, root: str) -> str | None:
    """Return a finding's path relative to the scan root, or None when it lies outside.

    Paths the scan found under its root are already relative to it. Any other path is
    absolute or relative to the working folder, as the user gave it, and is made
    relative to the root when it points below the root after all.
    """
    if not posixpath.isabs(path) and ".." not in path.split("/"):
        return posixpath.normpath(path)
    root_path = Path(os.path.realpath(root))
    for absolute in (os.path.abspath(path), os.path.realpath(path)):
        try:
            return Path(absolute).relative_to(root_path).as_posix()
        except ValueError:
            continue
    return None


def absolute_path(path: str) -> str:
    """Return a finding's path as an absolute path, for one outside the scan root."""
    return os.path.abspath(path)


def report_path(path: str, root: str) -> str:
    """Return a finding's path relative to the scan root, or absolute when outside it.

    GitLab resolves report paths against the repository, so a path relative to anything
    else would point at the wrong file.
    """
    relative = root_relative_path(path, root)
    return absolute_path(path) if relative is None else relative
