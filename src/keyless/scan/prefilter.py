"""Pick the lines worth running detectors on, by keywords the detectors declare.

Each detector lists keywords, one of which occurs on every line it can match. A line
with none of a detector's keywords is never passed to it; lines with no keyword at
all are never looked at again. This changes speed only, never results: the tests
compare findings with and without the prefilter on a corpus.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from keyless.scan.detectors.base import Detector

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Candidate:
    """A line `text[start:end]` (end excludes the newline) and the detectors to run on it."""

    start: int
    end: int
    detectors: tuple[Detector, ...]


class Prefilter:
    """Map keywords to detectors and find the lines that contain any keyword."""

    def __init__(self, detectors: Sequence[Detector], *, enabled: bool = True) -> None:
        self.detectors = tuple(detectors)
        self.enabled = enabled
        self._by_keyword: dict[str, list[int]] = {}
        self._always: list[int] = []
        for index, detector in enumerate(self.detectors):
            if not detector.keywords:
                self._always.append(index)
            for keyword in detector.keywords:
                self._by_keyword.setdefault(keyword.lower(), []).append(index)

    def candidates(self, text: str) -> Iterator[Candidate]:
        """Yield the candidate lines of `text` in order, each with its detectors."""
        if not self.enabled or self._always:
            yield from self._every_line(text)
            return
        lowered = _lower_ascii(text)
        hits: dict[int, set[int]] = {}
        line_ends: dict[int, int] = {}
        for keyword, indexes in self._by_keyword.items():
            position = lowered.find(keyword)
            while position >= 0:
                start = text.rfind("\n", 0, position) + 1
                end = text.find("\n", position)
                if end < 0:
                    end = len(text)
                hits.setdefault(start, set()).update(indexes)
                line_ends[start] = end
                position = lowered.find(keyword, end)
        for start in sorted(hits):
            chosen = tuple(self.detectors[i] for i in sorted(hits[start]))
            yield Candidate(start, line_ends[start], chosen)

    def _every_line(self, text: str) -> Iterator[Candidate]:
        start = 0
        length = len(text)
        while start <= length:
            end = text.find("\n", start)
            if end < 0:
                end = length
            if end > start:
                yield Candidate(start, end, self.detectors)
            start = end + 1


def _lower_ascii(text: str) -> str:
    """Lowercase ASCII letters only, so offsets in the result match offsets in `text`."""
    if text.isascii():
        return text.lower()
    return text.translate(_ASCII_LOWER)
