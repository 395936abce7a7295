"""The detector interface."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from keyless.findings import Confidence, Rule


@dataclass(frozen=True)
class Match:
    """A secret found in a text: `start` and `end` are offsets into that text."""

    start: int
    end: int
    value: str
    confidence: Confidence


class Detector(Protocol):
    """Finds one kind of secret.

    `keywords` are lowercase strings, at least one of which occurs (case-insensitively)
    on any line where the detector can match; the prefilter relies on that to skip
    lines. `line_patterns`, when not empty, are hyperscan regular expressions, matched
    caseless, at least one of which matches somewhere on every line for which `find`
    can report a match. With hyperscan the prefilter uses them instead of the keywords.
    `find` looks at the line `text[start:end]` and may read neighbouring lines, and
    returns matches with offsets into `text`.
    """

    rule: Rule
    keywords: tuple[str, ...]
    line_patterns: tuple[str, ...]

    def find(self, text: str, start: int, end: int) -> Iterator[Match]: ...


# For line patterns: one byte of a character that `re` matches with `\s` in a str
# pattern. Those are the ASCII spaces, the separators 0x1C to 0x1F, and non-ASCII
# spaces such as U+00A0, whose UTF-8 bytes are all 0x80 or above. Unlike `\s` it does
# not match a newline, so a pattern never spans two lines.
LINE_SPACE = r"[\t\x0b\x0c\r \x1c-\x1f\x80-\xff]"
