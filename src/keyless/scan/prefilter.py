"""Pick the lines worth running detectors on, by keywords the detectors declare.

Each detector lists keywords, one of which occurs on every line it can match. A line
with none of a detector's keywords is never passed to it; lines with no keyword at
all are never looked at again. This changes speed only, never results: the tests
compare findings with and without the prefilter on files and on git history.

The keyword search reads every byte of every scanned file and of every line added in
git history, so it decides how fast a history scan runs. Where the `hyperscan`
package imports (its PyPI wheels are built for x86-64), one compiled caseless
multi-literal database does the search; elsewhere a pure-Python search over a
lowercased copy gives the same hits, more slowly.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from keyless.logs import logger
from keyless.scan.detectors.base import Detector

# Search backends by name; None picks hyperscan when it imports.
BACKENDS = ("hyperscan", "python")


@dataclass(frozen=True)
class Candidate:
    """A line `text[start:end]` (end excludes the newline) and the detectors to run on it."""

    start: int
    end: int
    detectors: tuple[Detector, ...]


@dataclass(frozen=True)
class LineHit:
    """A line `data[start:end]` of a byte string and the keywords found on it, as a bit set."""

    start: int
    end: int
    keywords: int


class Prefilter:
    """Map keywords to detectors and find the lines that contain any keyword."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        *,
        enabled: bool = True,
        backend: str | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        self.enabled = enabled
        self.keywords: list[bytes] = []
        # Keyword index -> indexes of the detectors that declare it.
        self._detectors_of: list[list[int]] = []
        self._always: list[int] = []
        positions: dict[bytes, int] = {}
        for index, detector in enumerate(self.detectors):
            if not detector.keywords:
                self._always.append(index)
            for keyword in detector.keywords:
                encoded = keyword.lower().encode("utf-8")
                if encoded not in positions:
                    positions[encoded] = len(self.keywords)
                    self.keywords.append(encoded)
                    self._detectors_of.append([])
                self._detectors_of[positions[encoded]].append(index)
        self._search = _make_search(self.keywords, backend)
        self._chosen: dict[int, tuple[Detector, ...]] = {}

    @property
    def filters(self) -> bool:
        """Return whether lines without keywords are skipped (False: every line is scanned)."""
        return self.enabled and not self._always

    def candidates(self, text: str) -> Iterator[Candidate]:
        """Yield the candidate lines of `text` in order, each with its detectors."""
        if not self.filters:
            yield from self._every_line(text)
            return
        data = text.encode("utf-8", "surrogatepass")
        hits = self.line_hits(data)
        if not hits:
            return
        if len(data) == len(text):
            for hit in hits:
                yield Candidate(hit.start, hit.end, self.detectors_for(hit.keywords))
            return
        # Multi-byte characters: turn byte offsets into character offsets, decoding each
        # stretch between two hit boundaries once.
        previous_byte = 0
        previous_char = 0
        for hit in hits:
            start = previous_char + _char_length(data, previous_byte, hit.start)
            end = start + _char_length(data, hit.start, hit.end)
            previous_byte, previous_char = hit.end, end
            yield Candidate(start, end, self.detectors_for(hit.keywords))

    def line_hits(self, data: bytes) -> list[LineHit]:
        """Return the lines of `data` that contain a keyword (any ASCII case), in order."""
        found = self._search(data)
        if not found:
            return []
        found.sort()
        hits: list[LineHit] = []
        line_start = line_end = -1
        mask = 0
        for position, keyword in found:
            if position >= line_end or position < line_start:
                if line_end >= 0:
                    hits.append(LineHit(line_start, line_end, mask))
                line_start = data.rfind(b"\n", 0, position) + 1
                line_end = data.find(b"\n", position)
                if line_end < 0:
                    line_end = len(data)
                mask = 0
            mask |= 1 << keyword
        hits.append(LineHit(line_start, line_end, mask))
        return hits

    def detectors_for(self, keywords: int) -> tuple[Detector, ...]:
        """Return the detectors, in priority order, that declare any keyword in the bit set."""
        chosen = self._chosen.get(keywords)
        if chosen is None:
            indexes: set[int] = set()
            bit = 0
            remaining = keywords
            while remaining:
                if remaining & 1:
                    indexes.update(self._detectors_of[bit])
                remaining >>= 1
                bit += 1
            chosen = tuple(self.detectors[i] for i in sorted(indexes))
            self._chosen[keywords] = chosen
        return chosen

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


def _char_length(data: bytes, start: int, end: int) -> int:
    return len(data[start:end].decode("utf-8", "surrogatepass"))


# A search returns (offset inside a match, keyword index) pairs, in any order. Each
# occurrence of a keyword gives at least one pair; more than one is harmless.
Search = Callable[[bytes], list[tuple[int, int]]]


def _make_search(keywords: list[bytes], backend: str | None) -> Search:
    if not keywords:
        return lambda data: []
    if backend not in (None, *BACKENDS):
        raise ValueError(f"unknown prefilter backend {backend!r}; use one of {BACKENDS}")
    if backend in (None, "hyperscan"):
        try:
            return _hyperscan_search(keywords)
        except ImportError:
            if backend == "hyperscan":
                raise
            logger.debug("prefilter: hyperscan is not installed; using the Python search")
    return _python_search(keywords)


def _hyperscan_search(keywords: list[bytes]) -> Search:
    import hyperscan

    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[re.escape(k) for k in keywords],
        ids=list(range(len(keywords))),
        elements=len(keywords),
        flags=[hyperscan.HS_FLAG_CASELESS] * len(keywords),
    )

    # A scratch space serves one scan at a time, and scans run in several threads
    # (hyperscan releases the GIL), so each thread gets its own.
    local = threading.local()

    def search(data: bytes) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        append = found.append
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = hyperscan.Scratch(database)

        def on_match(keyword: int, start: int, end: int, flags: int, context: Any) -> None:
            # `end` is one past the match; the last byte of the match is on the line.
            append((end - 1, keyword))

        if data:
            database.scan(data, match_event_handler=on_match, scratch=scratch)
        return found

    return search


def _python_search(keywords: list[bytes]) -> Search:
    # bytes.lower() changes ASCII letters only, so offsets stay valid, and it matches
    # hyperscan's caseless mode, which also folds ASCII letters only.
    def search(data: bytes) -> list[tuple[int, int]]:
        lowered = data.lower()
        found: list[tuple[int, int]] = []
        for index, keyword in enumerate(keywords):
            position = lowered.find(keyword)
            while position >= 0:
                found.append((position, index))
                # One hit per line and keyword is enough: skip to the next line.
                line_end = lowered.find(b"\n", position)
                if line_end < 0:
                    break
                position = lowered.find(keyword, line_end)
        return found

    return search
