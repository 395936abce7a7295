"""High-entropy values assigned to password-, secret- and token-like names."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import LINE_SPACE, Match
from keyless.scan.detectors.patterns import ROTATE
from keyless.scan.lazy import LazyPattern
from keyless.scan.placeholders import (
    character_classes,
    is_identifier,
    is_placeholder,
    shannon_entropy,
)

RULE = Rule(
    "generic-secret-assignment",
    "Secret assigned to a variable",
    Severity.MEDIUM,
    Confidence.MEDIUM,
    "A high-entropy literal assigned to a name such as password, secret, token or api_key.",
    ROTATE,
)

# Every name the pattern accepts contains one of these, so they are safe prefilter keywords.
KEYWORDS = ("pass", "pwd", "secret", "token", "key", "credential")

_NAME_WORD = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_.\-]?key|apikey|access[_.\-]?key"
    r"|private[_.\-]?key|auth[_.\-]?key|signing[_.\-]?key|encryption[_.\-]?key|credentials?)"
)
_NAME = r"[A-Za-z0-9_.\-]*?" + _NAME_WORD + r"[A-Za-z0-9_.\-]*"
_NAME_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_.-")
_NAME_WORD_PATTERN = LazyPattern("(?i)" + _NAME_WORD)
_PATTERN = LazyPattern(
    r"(?i)(?<![A-Za-z0-9])[\"']?(" + _NAME + r")[\"']?\]?\s{0,4}(?:=|:=|:|=>|<-)(?!=)\s{0,4}"
    r"(?:(?P<quote>[\"'`])(?P<quoted>[^\"'`\s]{8,256})(?P=quote)"
    r"|(?P<bare>[A-Za-z0-9+/=_\-.~!@#%^&*]{12,256})(?=$|[\s,;)}\]]))"
)

# Every line `_PATTERN` matches contains a match of this line pattern. It has the end
# of a name word and the rest of the name, then a separator. Then comes a quote and the
# first 8 characters of the value, or at least 12 bare value characters and what may
# follow them. The words before `key` are cut to their last letters (`ess` of
# `access`), which hyperscan compiles several times faster and which still leaves out
# `monkey`.
LINE_PATTERN = (
    r"(?:pass(?:word|wd|phrase)|pwd|secret|token|credential|(?:api|ess|ate|uth|ing|ion)[_.\-]?key)"
    + r"[a-z0-9_.\-]*[\"'\]]*"
    + LINE_SPACE
    + r"*(?:=|:=|:|=>|<-)"
    + LINE_SPACE
    + r"*(?:[\"'`][^\"'`\s]{8}|[a-z0-9+/=_\-.~!@#%^&*]{12,}(?:[,;)}\]]|"
    + LINE_SPACE
    + "|$))"
)

_MIN_ENTROPY_QUOTED = 3.0
_MIN_ENTROPY_BARE = 3.5
_BARE_ENTROPY_RATIO = 0.85
_HIGH_ENTROPY = 4.0


@dataclass
class AssignmentDetector:
    """Find `name = "value"` where the name suggests a secret and the value looks random."""

    rule: Rule = RULE
    keywords: tuple[str, ...] = field(default=KEYWORDS)
    line_patterns: tuple[str, ...] = field(default=(LINE_PATTERN,))

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        for match in _assignments(text, start, end):
            quoted = match.group("quoted")
            value = quoted if quoted is not None else match.group("bare")
            confidence = _judge(value, quoted=quoted is not None)
            if confidence is None:
                continue
            group = "quoted" if quoted is not None else "bare"
            yield Match(match.start(group), match.end(group), value, confidence)


def _assignments(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    """Yield what `_PATTERN.finditer(text, start, end)` yields, several times faster.

    A match can only start where a run of name characters around a keyword begins, or
    at a quote just before it. So the pattern is tried only there, once per run: when
    it fails at the run's start, no position inside the run can match either, because
    the pattern's lazy name prefix could have absorbed the characters before it.
    """
    position = start
    for hit in _keyword_offsets(text, start, end):
        if hit < position:
            continue
        run_start = hit
        while run_start > position and text[run_start - 1] in _NAME_CHARACTERS:
            run_start -= 1
        if run_start == position and position > start:
            # The run began before `position`, where finditer would not look, so
            # search from `position` exactly as finditer does.
            match = _PATTERN.search(text, position, end)
        else:
            match = None
            if run_start > position and text[run_start - 1] in "\"'":
                match = _PATTERN.match(text, run_start - 1, end)
            if match is None:
                match = _PATTERN.match(text, run_start, end)
        if match is None:
            position = hit
            while position < end and text[position] in _NAME_CHARACTERS:
                position += 1
            continue
        yield match
        position = match.end()


def _keyword_offsets(text: str, start: int, end: int) -> list[int]:
    """Return the sorted offsets in text[start:end] where a keyword of KEYWORDS begins."""
    line = text[start:end]
    if not line.isascii():
        return [found.start() for found in _NAME_WORD_PATTERN.finditer(text, start, end)]
    # ASCII lowercasing keeps offsets, so str.find on the lowered line is exact.
    lowered = line.lower()
    offsets: list[int] = []
    for keyword in KEYWORDS:
        found = lowered.find(keyword)
        while found >= 0:
            offsets.append(start + found)
            found = lowered.find(keyword, found + 1)
    offsets.sort()
    return offsets


# Lowercase words joined by '-', '_' or '.', with at most a short number: a readable
# name such as `deploy-bot` or `account-59`, not a generated secret.
_SLUG = LazyPattern(r"^[a-z]+(?:[-_.][a-z]+)*(?:[-_.]?\d{1,4})?$")


def _judge(value: str, *, quoted: bool) -> Confidence | None:
    if is_placeholder(value) or is_identifier(value) or _SLUG.match(value):
        return None
    if value.lower().startswith(("http://", "https://", "file:", "urn:", "/", "./", "../")):
        return None
    entropy = shannon_entropy(value)
    if character_classes(value) < 2:
        return None
    if quoted:
        if entropy < _MIN_ENTROPY_QUOTED:
            return None
        return (
            Confidence.HIGH if entropy >= _HIGH_ENTROPY and len(value) >= 20 else Confidence.MEDIUM
        )
    # A short value cannot reach a fixed threshold: 12 distinct characters give at most
    # log2(12) = 3.58 bits. Scale the bar down with the length so short random values count.
    threshold = min(_MIN_ENTROPY_BARE, _BARE_ENTROPY_RATIO * math.log2(len(value)))
    if entropy < threshold or not any(c.isdigit() for c in value):
        return None
    return Confidence.LOW
