"""Values that look like secrets but are references, placeholders or identifiers."""

from __future__ import annotations

import math
import re
from collections import Counter

from keyless.scan.lazy import LazyPattern

_REFERENCE = LazyPattern(
    r"""
    \$\{\{.*\}\}            # GitHub Actions expression: ${{ secrets.X }}
    | \$\{[^}]*\}           # ${VAR}, ${VAR:-default}
    | \$\([^)]*\)           # $(command) or $(VAR) in Makefiles and Azure Pipelines
    | ^\$[A-Za-z_]\w*       # $VAR, or a value built on one: $CI_BUILDS_DIR/token
    | ^%[A-Za-z_]\w*%$      # %VAR% on Windows
    | \{\{.*\}\}            # Jinja, Helm, Mustache templates
    | \{[A-Za-z_][\w.()\[\]'"]*\}  # f-string, str.format and C# interpolation: {password}
    | ^\{[A-Za-z_][\w.]*[(\[]     # the start of a field with a call, cut at a quote: {f(
    | ^<[^<>]+>$            # <your-token>
    | ^\[[^\[\]]+\]$        # [YOUR_TOKEN]
    | ^os\.environ | ^process\.env | ^env\. | ^getenv\( | ^ENV\[
    """,
    re.VERBOSE,
)

_PLACEHOLDER_WORDS = LazyPattern(
    r"changeme|change_me|change-me|replace[_-]?me|your[_-]?(?:api[_-]?)?(?:key|token|secret|password)"
    r"|placeholder|redacted|example|dummy|sample|foobar|notreal|not[_-]a[_-]real|insert[_-]|"
    r"\*{3,}|x{4,}|\.{3,}|•{3,}",
    re.IGNORECASE,
)

_UUID = LazyPattern(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_GIT_SHA = LazyPattern(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")
_INTEGRITY = LazyPattern(r"^(?:sha1|sha256|sha384|sha512)-[A-Za-z0-9+/]+={0,2}$")
# One-way password hashes (bcrypt, argon2, sha-crypt): what a login stores instead of
# the password, and not usable as one.
_PASSWORD_HASH = LazyPattern(
    r"^\$(?:2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}"
    r"|argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
    r"|[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,86})$"
)
_IDENTIFIER = LazyPattern(r"^[A-Za-z_][A-Za-z_.]*(?:\(\)?)?$")
_CAMEL_CASE = LazyPattern(r"^(?:[a-z]+\d*|[A-Z][a-z]+\d*)(?:[A-Z][a-z]+\d*)+$")


def is_reference(value: str) -> bool:
    """Return whether `value` refers to a secret held elsewhere (${{ secrets.X }}, $VAR)."""
    return bool(_REFERENCE.search(value))


def is_placeholder(value: str, *, hex_ids: bool = True) -> bool:
    """Return whether `value` is a reference, a placeholder or not secret-shaped at all.

    With `hex_ids`, 40 or 64 hex digits (a git commit or a SHA-256 digest) count as
    not secret. Detectors whose secrets have that shape turn it off.
    """
    if is_reference(value):
        return True
    if len(set(value)) <= 2:
        return True
    if _PLACEHOLDER_WORDS.search(value):
        return True
    return bool(
        _UUID.match(value)
        or (hex_ids and _GIT_SHA.match(value))
        or _INTEGRITY.match(value)
        or _PASSWORD_HASH.match(value)
    )


def is_identifier(value: str) -> bool:
    """Return whether `value` reads as code: a name, dotted path, call or camelCase word.

    Letters in random case with no separator, such as `RhQtTVpXiXPiTCcFkl`, are not
    an identifier: generated passwords look like that.
    """
    if _CAMEL_CASE.match(value):
        return True
    if not _IDENTIFIER.match(value):
        return False
    return any(c in "_.(" for c in value) or value.islower() or value.isupper()


def shannon_entropy(value: str) -> float:
    """Return the Shannon entropy of `value` in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in counts.values())


def character_classes(value: str) -> int:
    """Return how many of lowercase, uppercase, digits and symbols `value` uses."""
    return sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
