"""Run the detectors over text and turn matches into findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keyless.config import Config
from keyless.findings import Finding, Location
from keyless.scan.detectors.base import Detector, Match
from keyless.scan.prefilter import Prefilter
from keyless.scan.suppress import is_suppressed
from keyless.secret import Secret


@dataclass
class TextResult:
    """The findings in one text and how many were hidden, and by what."""

    findings: list[Finding]
    suppressed: int = 0
    allowlisted: int = 0


class Engine:
    """Scan texts with a fixed set of detectors, prefilter and config."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        config: Config,
        *,
        prefilter: bool = True,
        inline_allow: bool = True,
    ) -> None:
        self.config = config
        self.prefilter = Prefilter(detectors, enabled=prefilter)
        self.inline_allow = inline_allow

    def scan(self, path: str, text: str) -> TextResult:
        """Return the findings in `text`, reported at `path`."""
        result = TextResult(findings=[])
        seen: list[tuple[int, int]] = []
        lines = _LineIndex(text)
        for candidate in self.prefilter.candidates(text):
            for detector in candidate.detectors:
                for match in detector.find(text, candidate.start, candidate.end):
                    if _overlaps(match, seen):
                        continue
                    seen.append((match.start, match.end))
                    finding = self._finding(path, text, lines, detector, match, result)
                    if finding is not None:
                        result.findings.append(finding)
        result.findings.sort(key=lambda f: (f.location.line, f.location.column))
        return result

    def _finding(
        self,
        path: str,
        text: str,
        lines: _LineIndex,
        detector: Detector,
        match: Match,
        result: TextResult,
    ) -> Finding | None:
        line_number, line_start = lines.locate(match.start)
        line_text = lines.line(line_start)
        if self.config.is_allowlisted(match.value, line_text) or self.config.is_ignored(
            detector.rule.id, path, line_number
        ):
            result.allowlisted += 1
            return None
        if self.inline_allow:
            previous = lines.previous_line(line_start)
            if is_suppressed(detector.rule.id, line_text, previous):
                result.suppressed += 1
                return None
        end_line, end_start = lines.locate(max(match.end - 1, match.start))
        rule = detector.rule
        return Finding(
            rule_id=rule.id,
            title=rule.title,
            severity=rule.severity,
            confidence=match.confidence,
            location=Location(
                path=path,
                line=line_number,
                column=match.start - line_start + 1,
                end_line=end_line,
                end_column=match.end - end_start + 1,
            ),
            remediation=rule.remediation,
            secret=Secret(match.value),
            message=f"{rule.title} found",
        )


# Matches arrive roughly in text order, so an overlapping one is among the last few.
_OVERLAP_WINDOW = 64


def _overlaps(match: Match, seen: list[tuple[int, int]]) -> bool:
    recent = seen[-_OVERLAP_WINDOW:]
    return any(match.start < end and start < match.end for start, end in recent)


class _LineIndex:
    """Line numbers for offsets in a text, computed lazily from newline positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._offset = 0
        self._line = 1

    def locate(self, offset: int) -> tuple[int, int]:
        """Return (1-based line number, offset of that line's start) for `offset`."""
        if offset < self._offset:
            self._offset, self._line = 0, 1
        self._line += self.text.count("\n", self._offset, offset)
        self._offset = offset
        return self._line, self.text.rfind("\n", 0, offset) + 1

    def line(self, start: int) -> str:
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)]

    def previous_line(self, start: int) -> str | None:
        if start == 0:
            return None
        previous_start = self.text.rfind("\n", 0, start - 1) + 1
        return self.text[previous_start : start - 1]
