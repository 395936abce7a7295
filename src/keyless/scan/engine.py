"""Run the detectors over text and turn matches into findings."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
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

    def load(self) -> None:
        """Import what the detectors otherwise import on first use (detect-secrets).

        Forked workers then share the loaded modules instead of each importing them.
        """
        for detector in self.prefilter.detectors:
            load = getattr(detector, "load", None)
            if load is not None:
                load()

    def scan(self, path: str, text: str) -> TextResult:
        """Return the findings in `text`, reported at `path`."""
        result = TextResult(findings=[])
        seen = _Spans()
        lines = _LineIndex(text)
        for candidate in self.prefilter.candidates(text):
            for detector in candidate.detectors:
                for match in detector.find(text, candidate.start, candidate.end):
                    if not seen.add(match.start, match.end):
                        continue
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
        if self.config.is_allowlisted_value(match.value) or self.config.is_ignored(
            detector.rule.id, path, line_number
        ):
            result.allowlisted += 1
            return None
        # Checks of the whole line are cached per line, so many findings on one long
        # line cost time linear in its length.
        line_allowed = lines.cached(("allowlist", line_start), self.config.is_allowlisted_line)
        if line_allowed:
            result.allowlisted += 1
            return None
        if self.inline_allow:
            previous = lines.previous_line(line_start)
            suppressed = lines.cached(
                ("suppress", line_start, detector.rule.id),
                lambda line: is_suppressed(detector.rule.id, line, previous),
            )
            if suppressed:
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


class _Spans:
    """Disjoint spans of text already reported, sorted by start."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, start: int, end: int) -> bool:
        """Record [start, end) and return True, or return False if it overlaps a span."""
        index = bisect_left(self._starts, start)
        # The spans are disjoint, so only the neighbours on either side can overlap.
        if index > 0 and self._ends[index - 1] > start:
            return False
        if index < len(self._starts) and self._starts[index] < max(end, start + 1):
            return False
        self._starts.insert(index, start)
        self._ends.insert(index, end)
        return True


class _LineIndex:
    """Line numbers for offsets in a text, found by moving from the last line looked up.

    Moving forward counts only the newlines passed, and offsets on the current line
    cost nothing, so the findings of one text cost time linear in its length.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._number = 1
        self._start = 0
        self._end = self._line_end(0)
        self._line: str | None = None
        self._previous: str | None = None
        self._cache: dict[tuple[object, ...], bool] = {}

    def _line_end(self, offset: int) -> int:
        end = self.text.find("\n", offset)
        return end if end >= 0 else len(self.text)

    def locate(self, offset: int) -> tuple[int, int]:
        """Return (1-based line number, offset of that line's start) for `offset`."""
        if offset > self._end:
            self._number += self.text.count("\n", self._end, offset)
            self._move(self.text.rfind("\n", self._end, offset) + 1)
        elif offset < self._start:
            self._number -= self.text.count("\n", offset, self._start)
            self._move(self.text.rfind("\n", 0, offset) + 1)
        return self._number, self._start

    def _move(self, start: int) -> None:
        self._start = start
        self._end = self._line_end(start)
        self._line = self._previous = None
        self._cache.clear()

    def line(self, start: int) -> str:
        """Return the line starting at `start`, the one `locate` last returned."""
        if start != self._start:
            self.locate(start)
        if self._line is None:
            self._line = self.text[self._start : self._end]
        return self._line

    def previous_line(self, start: int) -> str | None:
        """Return the line before the one starting at `start`, or None on the first line."""
        if start == 0:
            return None
        if start != self._start:
            self.locate(start)
        if self._previous is None:
            previous_start = self.text.rfind("\n", 0, start - 1) + 1
            self._previous = self.text[previous_start : start - 1]
        return self._previous

    def cached(self, key: tuple[object, ...], check: Callable[[str], bool]) -> bool:
        """Return `check` of the current line, computed once per line and key."""
        value = self._cache.get(key)
        if value is None:
            value = check(self.line(self._start))
            self._cache[key] = value
        return value
