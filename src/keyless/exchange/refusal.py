"""Errors for refused exchanges, and the token claims shown beside them.

A refusal names what the target rejected, shows the token's non-secret claims that
the target compared, and hints at what to change on the target's side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from keyless.errors import Error
from keyless.identity.claims import audiences, format_value
from keyless.terminal import safe_line

if TYPE_CHECKING:
    from keyless.identity.token import IdentityToken

__all__ = ["ExchangeError", "TransientError", "audiences", "format_claims", "format_time_window"]

_SHOWN_CLAIMS = ("iss", "aud", "sub")


class ExchangeError(Error):
    """The target rejected the token, or could not be reached."""


class TransientError(ExchangeError):
    """A failure that may pass on retry: throttling, an unreachable issuer, a 5xx."""


def format_claims(claims: Mapping[str, Any], names: Iterable[str] = _SHOWN_CLAIMS) -> str:
    """Return `name: value` lines for the named claims, `(missing)` when absent."""
    lines = []
    for name in names:
        value = claims.get(name)
        shown = "(missing)" if value is None else safe_line(format_value(value))
        lines.append(f"  {name}: {shown}")
    return "\n".join(lines)


def format_time_window(token: IdentityToken) -> str:
    """Return the token's iss, sub and time claims, the local time, and any measured skew."""
    lines = [format_claims(token.claims, ("iss", "sub", "nbf", "iat", "exp"))]
    lines.append(f"  now: {int(datetime.now(timezone.utc).timestamp())} (this machine's clock)")
    if token.clock_skew is not None:
        source = token.clock_skew_source or "the CI platform"
        lines.append(f"  this machine's clock runs {token.clock_skew:+.0f} s ahead of {source}'s")
    return "\n".join(lines)
