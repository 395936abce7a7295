"""The identity token type, its explicit sources, and `obtain_token`, which picks a source."""

from __future__ import annotations

import base64
import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from keyless.ci import github
from keyless.errors import Error
from keyless.secret import Secret

if TYPE_CHECKING:
    import requests

    from keyless.http import RetryPolicy


class IdentityError(Error):
    """The job's identity token could not be obtained or read."""


@dataclass
class IdentityToken:
    """A JWT from the CI platform: the raw value as a Secret, and its decoded claims.

    The claims are read without verifying the signature; they explain, they do not
    authenticate. The exchange targets verify the signature themselves.
    """

    raw: Secret
    provider: str
    claims: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    # Seconds the local clock runs ahead of the platform's, measured from the HTTP
    # `Date` header of the response that carried the token; None when not measured.
    clock_skew: float | None = None
    # Where the clock skew was measured: a host name.
    clock_skew_source: str | None = None


# Maximum token size in bytes. CI tokens are 1 to 2 KiB, and the limit keeps a
# wrong file (such as /dev/zero) or variable from filling memory.
MAX_TOKEN_BYTES = 64 * 1024

# A JWT in compact serialisation: three base64url parts, the last one empty for
# an unsigned token.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BASE64URL = frozenset(string.ascii_letters + string.digits + "-_.")


def decode_unverified(raw: Secret, source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (header, claims) of a JWT without checking its signature.

    The value must be exactly one JWT, with white space around it at most: extra
    lines or other characters are an error, not ignored.
    """
    value = raw.reveal().strip()
    if len(value) > MAX_TOKEN_BYTES:
        raise IdentityError(
            f"{source}: the value is not a JWT: it is longer than {MAX_TOKEN_BYTES // 1024} KiB"
        )
    if not _JWT_SHAPE.fullmatch(value):
        raise IdentityError(f"{source}: the value is not a JWT: {_shape_problem(value)}")
    parts = value.split(".")
    try:
        header = json.loads(_b64url(parts[0]), parse_constant=_reject_constant)
        claims = json.loads(_b64url(parts[1]), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers invalid base64, UTF-8 and JSON. RecursionError covers
        # JSON nested too deeply to parse.
        raise IdentityError(f"{source}: the JWT's header or claims are not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise IdentityError(f"{source}: the JWT's header and claims must be JSON objects")
    return header, claims


def _shape_problem(value: str) -> str:
    """Say why `value` is not one compact JWT, without showing any of it."""
    lines = len(value.splitlines())
    if lines > 1:
        return f"it has {lines} lines; a token file or variable must hold exactly one JWT"
    parts = value.split(".")
    if len(parts) != 3:
        return f"expected three dot-separated parts, found {len(parts)}"
    bad = next((index for index, char in enumerate(value) if char not in _BASE64URL), None)
    if bad is not None:
        return f"character {bad + 1} is not base64url"
    return "its header or claims part is empty"


def _reject_constant(name: str) -> Any:
    """Refuse NaN and Infinity, which Python's json accepts but JSON does not have."""
    raise ValueError(f"{name} is not JSON")


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def from_env(name: str, *, mask_stream: TextIO | None = None) -> IdentityToken:
    """Read a token from the environment variable `name`."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise IdentityError(
            f"environment variable {name} is not set or empty",
            hint="set it to the CI's OIDC token, or use --token-file",
        )
    return make_token(Secret(value), f"env:{name}", mask_stream=mask_stream)


def from_file(path: str, *, mask_stream: TextIO | None = None) -> IdentityToken:
    """Read a token from the file at `path`, at most MAX_TOKEN_BYTES of it.

    Regular files, pipes and devices are all read with the same bound, so
    `--token-file /dev/stdin` works and `--token-file /dev/zero` fails quickly.
    """
    try:
        with Path(path).open("rb") as stream:
            data = stream.read(MAX_TOKEN_BYTES + 1)
    except OSError as exc:
        raise IdentityError(f"{path}: cannot read token file: {exc.strerror or exc}") from exc
    if len(data) > MAX_TOKEN_BYTES:
        raise IdentityError(
            f"{path}: the token file is longer than {MAX_TOKEN_BYTES // 1024} KiB, "
            "so it does not hold a JWT",
            hint="point --token-file at a file that holds only the token",
        )
    try:
        value = data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise IdentityError(f"{path}: the token file is not UTF-8 text, so not a JWT") from exc
    if not value:
        raise IdentityError(f"{path}: token file is empty")
    return make_token(Secret(value), f"file:{path}", mask_stream=mask_stream)


def make_token(
    raw: Secret,
    provider: str,
    *,
    clock_skew: float | None = None,
    clock_skew_source: str | None = None,
    mask_stream: TextIO | None = None,
) -> IdentityToken:
    """Mask the raw token in GitHub logs, then decode it into an IdentityToken.

    Every provider calls this first with the value it read, before it logs anything.
    `mask_stream` is where the `::add-mask::` command goes (default stdout).
    """
    github.add_mask(raw, mask_stream)
    header, claims = decode_unverified(raw, provider)
    return IdentityToken(
        raw=raw,
        provider=provider,
        claims=claims,
        header=header,
        clock_skew=clock_skew,
        clock_skew_source=clock_skew_source,
    )


def obtain_token(
    audience: str | None,
    *,
    token_env: str | None = None,
    token_file: str | None = None,
    http: requests.Session | None = None,
    retry: RetryPolicy | None = None,
    mask_stream: TextIO | None = None,
) -> IdentityToken:
    """Return the job's identity token for `audience` from the first source that has one.

    `--token-file` wins over `--token-env`, which wins over the CI platform. `http` and
    `retry` override the session and retry policy of providers that make HTTP requests.
    `mask_stream` receives the GitHub `::add-mask::` command instead of stdout, for
    commands whose stdout is machine-readable.
    Raises IdentityError when no source has a token or a platform is misconfigured.
    """
    from keyless.http import DEFAULT_RETRY
    from keyless.identity.providers import PROVIDERS, TokenRequest

    if token_file:
        return from_file(token_file, mask_stream=mask_stream)
    if token_env:
        return from_env(token_env, mask_stream=mask_stream)
    request = TokenRequest(
        audience=audience, http=http, retry=retry or DEFAULT_RETRY, mask_stream=mask_stream
    )
    for provider in PROVIDERS.values():
        token = provider(request)
        if token is not None:
            return token
    raise IdentityError(
        "no identity token found: not running in GitHub Actions, GitLab CI, CircleCI or "
        "Buildkite, and no --token-env or --token-file given",
        hint="pass --token-file PATH or --token-env NAME",
    )
