"""Ambient token providers, tried in PROVIDERS order.

A provider returns None when the job does not run on its platform, and raises
IdentityError when it does but the job cannot get a token. Every provider passes the
value it read to `make_token` (which masks it) before it logs anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from keyless.http import DEFAULT_RETRY, RetryPolicy
from keyless.identity.providers import buildkite, circleci, github, gitlab

if TYPE_CHECKING:
    import requests

    from keyless.identity.token import IdentityToken


@dataclass(frozen=True)
class TokenRequest:
    """A token request: the audience, and how to make HTTP requests and mask the token."""

    audience: str | None
    http: requests.Session | None = None
    retry: RetryPolicy = DEFAULT_RETRY
    # Seconds a child process such as buildkite-agent may run.
    command_timeout: float = 60.0
    # Where GitHub's `::add-mask::` command goes; None means stdout.
    mask_stream: TextIO | None = None


Provider = Callable[[TokenRequest], "IdentityToken | None"]

# Platform name -> provider, in the order they are tried.
PROVIDERS: dict[str, Provider] = {
    "github": github.fetch,
    "gitlab": gitlab.fetch,
    "circleci": circleci.fetch,
    "buildkite": buildkite.fetch,
}
