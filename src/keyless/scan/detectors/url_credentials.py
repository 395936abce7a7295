"""Passwords embedded in URLs: scheme://user:password@host, plain or percent-encoded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import Match
from keyless.scan.lazy import LazyPattern
from keyless.scan.placeholders import is_placeholder

RULE = Rule(
    "url-credentials",
    "Password in URL",
    Severity.HIGH,
    Confidence.MEDIUM,
    "A URL with a user name and password in it, such as a database or registry URL.",
    "Change the password, then pass it separately (an environment variable from a secret "
    "store, or a short-lived credential) instead of inside the URL.",
)

_PLAIN = LazyPattern(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,30}://"
    r"[^\s:/@\"'`<>]{1,128}:(?P<password>[^\s:/@\"'`<>]{3,256})@[A-Za-z0-9\[][^\s/\"'`<>@]*"
)
_ENCODED = LazyPattern(
    r"(?i)[A-Za-z][A-Za-z0-9+.\-]{1,30}%3A%2F%2F"
    r"[^\s:/@%\"'`<>]{1,128}%3A(?P<password>[^\s:/@\"'`<>]{3,256}?)%40[A-Za-z0-9]"
)
# Hosts reserved for documentation (RFC 2606): URLs with them are examples.
_DOCUMENTATION_HOST = LazyPattern(r"(?i)(?:[a-z0-9\-]+\.)*example\.(?:com|org|net)(?![a-z0-9\-])")
_TRIVIAL = {"password", "passwd", "pass", "pwd", "secret", "token", "user", "username"}
# Fixed, published passwords that mark the user name as the credential, such as
# GitHub's `https://TOKEN:x-oauth-basic@github.com`. The token detectors judge the
# user name; the password itself is no secret.
_WELL_KNOWN = {"x-oauth-basic"}
_NOT_SECRETS = _TRIVIAL | _WELL_KNOWN


@dataclass
class UrlCredentialsDetector:
    """Find the password part of credentials embedded in URLs."""

    rule: Rule = RULE
    keywords: tuple[str, ...] = field(default=("://", "%3a%2f%2f"))
    # A scheme separator, then a `:` and an `@` in the same run of characters without
    # `/` or spaces. Percent-encoded URLs are rare enough to pass on the keyword alone.
    line_patterns: tuple[str, ...] = field(default=(r"://[^\s/@]*:[^\s/@]*@", "%3a%2f%2f"))

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        # Most lines with a URL have no user info. Every match of _PLAIN contains "@"
        # and every match of _ENCODED contains "%40", so lines without them are skipped.
        patterns = []
        if text.find("@", start, end) >= 0:
            patterns.append(_PLAIN)
        if text.find("%40", start, end) >= 0:
            patterns.append(_ENCODED)
        for pattern in patterns:
            for match in pattern.finditer(text, start, end):
                value = match.group("password")
                decoded = unquote(value)
                if (
                    decoded.lower() in _TRIVIAL | _WELL_KNOWN
                    or is_placeholder(decoded)
                    or is_placeholder(value)
                ):
                    # The raw value is checked too: unquote() mangles `%DB_PASSWORD%`.
                    continue
                if decoded.startswith("$") or decoded.isdigit():
                    # $PASSWORD references, and host:port@ forms that are not passwords.
                    continue
                separator = 1 if text.startswith("@", match.end("password")) else len("%40")
                if _DOCUMENTATION_HOST.match(text, match.end("password") + separator):
                    continue
                yield Match(
                    match.start("password"), match.end("password"), value, self.rule.confidence
                )
