"""A wrapper that keeps secret values out of logs, reprs and tracebacks."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

MASK = "****"

# Raw values of every Secret made in this process. The log filter replaces them in
# log records, as a second line of defence behind the Secret type itself.
_registered: set[str] = set()

# Shorter values are too common to replace in text without mangling ordinary words.
_MIN_REDACTED_LENGTH = 6


def redact_text(text: str) -> str:
    """Return `text` with the value of every Secret made so far replaced by the mask."""
    for value in _registered:
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A secret value that formats as a mask; `reveal()` is the only way out.

    `str()`, `repr()` and f-strings give `****`, so a secret logged or printed by
    mistake stays hidden. Code that must send or write the value calls `reveal()`.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str, *, redact_in_logs: bool = True) -> None:
        self._value = value
        if redact_in_logs and len(value) >= _MIN_REDACTED_LENGTH:
            _registered.add(value)

    def reveal(self) -> str:
        """Return the raw value, for the code that sends or writes it."""
        return self._value

    def sha256(self) -> str:
        """Return the hex SHA-256 of the value: a stable identity that is safe to store."""
        return hashlib.sha256(self._value.encode("utf-8", "surrogatepass")).hexdigest()

    def sha1(self) -> str:
        """Return the hex SHA-1 of the value, the hash detect-secrets baselines store."""
        data = self._value.encode("utf-8", "surrogatepass")
        return hashlib.sha1(data, usedforsecurity=False).hexdigest()

    def preview(self) -> str:
        """Return a redacted preview: a short prefix or a URL's origin, then a fixed mask."""
        return redact(self._value)

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __reduce__(self) -> tuple[Callable[[str, bool], Secret], tuple[str, bool]]:
        # Unpickling (results from scan worker processes) goes through __init__, so the
        # value is registered for log redaction in the receiving process too, if it was
        # registered here.
        return (_unpickle, (self._value, self._value in _registered))

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self.sha256())


# The scheme and host of a URL, with no user info, followed by its path. The path must
# be at least 8 characters long, so the redacted part is never trivial.
# NOTE: a host that is itself secret (a custom detector matching token-named hosts)
# shows in full; no built-in detector reports such a URL.
_URL_ORIGIN = re.compile(r"([a-z][a-z0-9+.\-]*://[a-z0-9.\-]+(?::[0-9]{1,5})?/)[^\s]{8,}", re.I)


def redact(value: str) -> str:
    """Return a preview of `value` that never contains the whole of it.

    At most a quarter of the value, capped at 4 characters, is kept; values shorter
    than 8 characters keep nothing. A URL whose secret part is its path, such as a
    Slack webhook, keeps its scheme and host instead, because `http****` would not
    tell one service from another. The mask length is fixed so it does not leak the
    length either.
    """
    url = _URL_ORIGIN.fullmatch(value)
    if url is not None:
        return url.group(1) + MASK
    keep = min(4, len(value) // 4) if len(value) >= 8 else 0
    return value[:keep] + MASK


def _unpickle(value: str, redact_in_logs: bool) -> Secret:
    return Secret(value, redact_in_logs=redact_in_logs)
