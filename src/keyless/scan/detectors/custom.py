"""Detectors defined as regular expressions in the configuration."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from keyless.config import CustomDetector
from keyless.findings import Confidence, Rule
from keyless.scan.detectors.base import Match
from keyless.scan.detectors.patterns import ROTATE
from keyless.scan.placeholders import is_placeholder


@dataclass
class ConfiguredDetector:
    """Run a configured regex; with no keywords it runs on every line."""

    definition: CustomDetector
    rule: Rule
    keywords: tuple[str, ...]
    line_patterns: tuple[str, ...] = ()

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        group = self.definition.secret_group
        for match in self.definition.regex.finditer(text, start, end):
            value = match.group(group)
            if value and not is_placeholder(value):
                yield Match(match.start(group), match.end(group), value, self.rule.confidence)


def configured_detectors(definitions: list[CustomDetector]) -> list[ConfiguredDetector]:
    """Return a detector for each `[[detectors]]` entry of the configuration."""
    return [
        ConfiguredDetector(
            definition=d,
            rule=Rule(
                d.id,
                d.title,
                d.severity,
                Confidence.MEDIUM,
                f"{d.title} (a detector defined in the keyless configuration).",
                ROTATE,
            ),
            keywords=d.keywords,
        )
        for d in definitions
    ]
