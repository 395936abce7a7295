"""AWS secret access keys: named as such, or written next to an access key ID."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import Match
from keyless.scan.lazy import LazyPattern
from keyless.scan.placeholders import character_classes, is_placeholder

RULE = Rule(
    "aws-secret-access-key",
    "AWS secret access key",
    Severity.CRITICAL,
    Confidence.HIGH,
    "The secret half of an AWS access key, which signs requests as its IAM user or role.",
    "Deactivate and delete the access key in IAM, then use OIDC (`keyless aws`) so the "
    "pipeline needs no stored key.",
)

_NAMED = LazyPattern(
    r"(?i)aws.{0,24}?(?:secret|private).{0,24}?[\s\"'=:>]"
    r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)
_KEY_ID = LazyPattern(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_BARE = LazyPattern(r"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])")
# How many lines around an access key ID are searched for its secret key.
_NEIGHBOUR_LINES = 3


@dataclass
class AwsSecretKeyDetector:
    """Find secret access keys by name, or as 40-character values near an access key ID."""

    rule: Rule = RULE
    keywords: tuple[str, ...] = field(default=("aws", "akia", "asia"))
    # A line that `_NAMED` matches, or a line with an access key ID, whose neighbours
    # `find` then searches.
    line_patterns: tuple[str, ...] = field(default=(r"aws[^\n]*(?:secret|private)", "akia", "asia"))

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        for match in _NAMED.finditer(text, start, end):
            value = match.group(1)
            if _looks_random(value):
                yield Match(match.start(1), match.end(1), value, Confidence.HIGH)
        if _KEY_ID.search(text, start, end) is None:
            return
        window_start, window_end = _window(text, start, end)
        for match in _BARE.finditer(text, window_start, window_end):
            value = match.group(1)
            if _looks_random(value):
                yield Match(match.start(1), match.end(1), value, Confidence.HIGH)


def _looks_random(value: str) -> bool:
    return not is_placeholder(value) and character_classes(value) >= 3


def _window(text: str, start: int, end: int) -> tuple[int, int]:
    """Return offsets spanning a few lines before and after text[start:end]."""
    window_start = start
    for _ in range(_NEIGHBOUR_LINES):
        previous = text.rfind("\n", 0, max(window_start - 1, 0))
        if previous < 0:
            window_start = 0
            break
        window_start = previous + 1
    window_end = end
    for _ in range(_NEIGHBOUR_LINES):
        following = text.find("\n", window_end + 1)
        if following < 0:
            window_end = len(text)
            break
        window_end = following
    return window_start, window_end
