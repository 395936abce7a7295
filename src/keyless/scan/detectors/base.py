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
    lines. `find` looks at the line `text[start:end]` and may read neighbouring lines,
    and returns matches with offsets into `text`.
    """

    rule: Rule
    keywords: tuple[str, ...]

    def find(self, text: str, start: int, end: int) -> Iterator[Match]: ...
