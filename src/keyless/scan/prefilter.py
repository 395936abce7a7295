r"""Pick the lines worth running detectors on, by keywords and line patterns.

Each detector lists keywords, one of which occurs (in any ASCII case) on every line it
can match. It may also list line patterns: regular expressions in hyperscan's syntax,
matched caseless, at least one of which matches somewhere on every line for which its
`find` can report a match. A detector that reads neighbouring lines (an AWS secret key
below its access key ID, the body of a PEM key) declares patterns for the line `find`
is called for, whatever the neighbours contain.

Line patterns are supersets of the detectors' own regular expressions, kept simple
because the database is compiled at the start of every scan (about 9 ms of CPU time
on a 2-core x86-64 machine, measured with benchmarks/prefilter.py). Where `re` matches
`\s`, they accept any byte of a non-ASCII character too, because `re` matches Unicode
spaces such as U+00A0. They are compiled in multiline mode, so `$` matches at the end
of each line. NOTE: like the keywords, they fold ASCII case only. A line that a
detector matches only through Unicode case folding (the Kelvin sign for `k`, `ſ` for
`s`) is not passed to it.

A line with none of a detector's keywords or patterns is never passed to it; lines
with none at all are never looked at again. This changes speed only, never results:
the tests compare findings with and without the prefilter on files and on git history.

The search reads every byte of every scanned file and of every line added in git
history, so it decides how fast a history scan runs. Where the `hyperscan` package
imports (its PyPI wheels are built for x86-64), one compiled database does the search,
with the line patterns of the detectors that have them and the keywords of the others.
Elsewhere a pure-Python search looks for the keywords in a lowercased copy. It passes
more lines to the detectors and gives the same findings, more slowly: on pytest's
history, 47,655 of 898,244 added lines contain a keyword and 70 match a line pattern.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from keyless.logs import logger
from keyless.scan.detectors.base import Detector
from keyless.termination import lost_interrupt

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
    """A line `data[start:end]` of a byte string and what the search found on it.

    `keywords` is a bit set over the prefilter's search expressions: keywords, and with
    the hyperscan backend line patterns too. `Prefilter.detectors_for` maps it to
    detectors.
    """

    start: int
    end: int
    keywords: int


@dataclass(frozen=True)
class Expression:
    """A search expression: a lowercase keyword, or a line pattern in hyperscan syntax."""

    source: bytes
    literal: bool


class Prefilter:
    """Map keywords and line patterns to detectors and find the lines that match any."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        *,
        enabled: bool = True,
        backend: str | None = None,
    ) -> None:
        self.detectors = tuple(detectors)
        self.enabled = enabled
        self.backend = _resolve_backend(backend)
        self.expressions: list[Expression] = []
        # Expression index -> indexes of the detectors it selects.
        self._detectors_of: list[list[int]] = []
        self._always: list[int] = []
        positions: dict[Expression, int] = {}
        for index, detector in enumerate(self.detectors):
            expressions = self._expressions_of(detector)
            if not expressions:
                self._always.append(index)
            for expression in expressions:
                if expression not in positions:
                    positions[expression] = len(self.expressions)
                    self.expressions.append(expression)
                    self._detectors_of.append([])
                self._detectors_of[positions[expression]].append(index)
        self._search = self._make_search()
        self._chosen: dict[int, tuple[Detector, ...]] = {}

    def _expressions_of(self, detector: Detector) -> list[Expression]:
        if self.backend == "hyperscan" and detector.line_patterns:
            return [Expression(p.encode("ascii"), literal=False) for p in detector.line_patterns]
        return [Expression(k.lower().encode("utf-8"), literal=True) for k in detector.keywords]

    def _make_search(self) -> _Search:
        if not self.expressions:
            return _NoSearch()
        if self.backend == "hyperscan":
            return _HyperscanSearch(self.expressions)
        return _PythonSearch([e.source for e in self.expressions])

    @property
    def filters(self) -> bool:
        """Return whether lines that match no expression are skipped, not scanned."""
        return self.enabled and not self._always

    def prepare(self) -> None:
        """Compile the search now instead of at the first search.

        It is idempotent and thread-safe. The hyperscan compile releases the GIL (checked
        with the 0.9.1 wheel), so a caller may run this in a thread of its own while it
        does other start-up work.
        """
        self._search.prepare()

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
        """Return the lines of `data` that contain a keyword or line pattern, in order."""
        found = self._search(data)
        if not found:
            return []
        found.sort()
        hits: list[LineHit] = []
        line_start = line_end = -1
        mask = 0
        for position, expression in found:
            # A position on a newline belongs to the line that the newline ends.
            if position > line_end or position < line_start:
                if line_end >= 0:
                    hits.append(LineHit(line_start, line_end, mask))
                line_start = data.rfind(b"\n", 0, position) + 1
                line_end = data.find(b"\n", position)
                if line_end < 0:
                    line_end = len(data)
                mask = 0
            mask |= 1 << expression
        hits.append(LineHit(line_start, line_end, mask))
        return hits

    def detectors_for(self, keywords: int) -> tuple[Detector, ...]:
        """Return the detectors, in priority order, selected by any expression in the bit set."""
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


def _resolve_backend(backend: str | None) -> str:
    if backend not in (None, *BACKENDS):
        raise ValueError(f"unknown prefilter backend {backend!r}; use one of {BACKENDS}")
    if backend == "python":
        return backend
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        if backend == "hyperscan":
            raise
        logger.debug("prefilter: hyperscan is not installed; using the Python search")
        return "python"
    return "hyperscan"


class _Search(Protocol):
    """A search returns (offset inside a match, expression index) pairs, in any order.

    Each match gives at least one pair; more than one is harmless.
    """

    def prepare(self) -> None: ...

    def __call__(self, data: bytes) -> list[tuple[int, int]]: ...


class _NoSearch:
    def prepare(self) -> None:
        pass

    def __call__(self, data: bytes) -> list[tuple[int, int]]:
        return []


class _HyperscanSearch:
    def __init__(self, expressions: list[Expression]) -> None:
        self._expressions = expressions
        self._database: Any = None
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()
        # A scratch space serves one scan at a time, and scans run in several threads
        # (hyperscan releases the GIL), so each thread gets its own.
        self._local = threading.local()

    def prepare(self) -> None:
        if self._database is not None:
            return
        if self._lock_pid != os.getpid():
            # This process was forked while another thread held the lock to compile. That
            # thread does not exist here, so the lock would never be released.
            self._lock = threading.Lock()
            self._lock_pid = os.getpid()
        with self._lock:
            if self._database is None:
                self._database = _compile(self._expressions)

    def __call__(self, data: bytes) -> list[tuple[int, int]]:
        import hyperscan

        if self._database is None:
            self.prepare()
        found: list[tuple[int, int]] = []
        append = found.append
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)

        raised: list[BaseException] = []

        def on_match(
            expression: int, start: int, end: int, flags: int, context: Any
        ) -> bool | None:
            try:
                # `end` is one past the match, so `end - 1` is on the line where it ends.
                append((end - 1, expression))
            except BaseException as exc:  # a signal handler's KeyboardInterrupt, say
                raised.append(exc)
                return True  # stops the scan
            return None

        if not data:
            return found
        try:
            self._database.scan([data], match_event_handler=on_match, scratch=scratch)
        except hyperscan.ScanTerminated:
            # hyperscan replaces an exception raised in the callback with ScanTerminated.
            # Only a signal handler can raise there. One that runs as the callback starts,
            # before its `try`, leaves nothing in `raised`.
            if raised:
                raise raised[0] from None
            raise lost_interrupt() from None
        return found


def _compile(expressions: list[Expression]) -> Any:
    import hyperscan

    # Vectored mode, with one buffer per scan, finds what block mode finds. Block mode
    # also builds an extra automaton for small inputs, which made the compile of these
    # expressions three times as slow: 29 against 9 ms of CPU time with the hyperscan
    # 0.9.1 wheel on a 2-core x86-64 machine.
    database = hyperscan.Database(mode=hyperscan.HS_MODE_VECTORED)
    # In multiline mode `$` matches at the end of each line, as `re` does at the end
    # of the line that `find` is given.
    flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_MULTILINE
    database.compile(
        expressions=[re.escape(e.source) if e.literal else e.source for e in expressions],
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[flags] * len(expressions),
    )
    return database


class _PythonSearch:
    # bytes.lower() changes ASCII letters only, so offsets stay valid, and it matches
    # hyperscan's caseless mode, which also folds ASCII letters only.
    def __init__(self, keywords: list[bytes]) -> None:
        self._keywords = keywords

    def prepare(self) -> None:
        pass

    def __call__(self, data: bytes) -> list[tuple[int, int]]:
        lowered = data.lower()
        found: list[tuple[int, int]] = []
        for index, keyword in enumerate(self._keywords):
            position = lowered.find(keyword)
            while position >= 0:
                found.append((position, index))
                # One hit per line and keyword is enough: skip to the next line.
                line_end = lowered.find(b"\n", position)
                if line_end < 0:
                    break
                position = lowered.find(keyword, line_end)
        return found
