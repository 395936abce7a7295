"""Microsoft Entra ID: client credentials with the job's token as a federated client assertion."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from keyless import http as shared_http
from keyless.errors import UsageError
from keyless.exchange import transport
from keyless.exchange.refusal import (
    ExchangeError,
    TransientError,
    format_claims,
    format_time_window,
)
from keyless.identity.claims import format_value
from keyless.identity.token import IdentityToken
from keyless.logs import logger
from keyless.secret import Secret

if TYPE_CHECKING:
    import requests

DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
AUDIENCE = "api://AzureADTokenExchange"
DEFAULT_SCOPE = "https://management.azure.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_AADSTS = re.compile(r"AADSTS(\d+)")
_CLAIMS = ("iss", "sub", "aud")


@dataclass(frozen=True)
class AzureOptions:
    """The app (or user-assigned managed identity) to sign in as, and the scope to request."""

    tenant_id: str
    client_id: str
    scope: str = DEFAULT_SCOPE
    authority_host: str | None = None
    retry: shared_http.RetryPolicy = shared_http.DEFAULT_RETRY
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


@dataclass(frozen=True)
class AzureCredentials:
    """An Entra ID access token for the requested scope."""

    access_token: Secret
    expiration: datetime


def authority_host(options: AzureOptions) -> str:
    """Return the authority host: the option, AZURE_AUTHORITY_HOST, or the public cloud's."""
    host = options.authority_host or os.environ.get("AZURE_AUTHORITY_HOST") or ""
    host = host.strip() or DEFAULT_AUTHORITY_HOST
    return host if "://" in host else f"https://{host}"


def validate_options(options: AzureOptions) -> None:
    """Raise UsageError for an option Entra ID would reject, before any request is sent."""
    if not (_GUID.match(options.tenant_id) or _DOMAIN.match(options.tenant_id)):
        raise UsageError(
            f"--tenant-id {options.tenant_id!r} is neither a GUID nor a domain name",
            hint="use the directory (tenant) ID shown on the app registration's overview",
        )
    if not _GUID.match(options.client_id):
        raise UsageError(
            f"--client-id {options.client_id!r} is not a GUID",
            hint="use the application (client) ID of the app registration or managed identity",
        )
    if not options.scope.strip():
        raise UsageError("--scope is empty")
    parts = urlsplit(authority_host(options))
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise UsageError(f"authority host {authority_host(options)!r} is not an http(s) URL")


def token_url(options: AzureOptions) -> str:
    """Return the tenant's OAuth 2.0 v2 token endpoint."""
    host = authority_host(options).rstrip("/")
    return f"{host}/{quote(options.tenant_id, safe='')}/oauth2/v2.0/token"


def exchange(token: IdentityToken, options: AzureOptions) -> AzureCredentials:
    """Return an access token for `options.scope`, using the CI token as client assertion."""
    validate_options(options)
    http = shared_http.session()
    url = token_url(options)
    form = {
        "client_id": options.client_id,
        "scope": options.scope,
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": token.raw.reveal(),
    }

    def attempt() -> AzureCredentials:
        response = transport.post(http, url, "Entra ID", data=form)
        payload = _json(response)
        if response.status_code == 200:
            access = payload.get("access_token")
            if not isinstance(access, str) or not access:
                raise ExchangeError("Entra ID: the token response has no access_token")
            expires_in = payload.get("expires_in")
            seconds = int(expires_in) if isinstance(expires_in, (int, str)) else 3600
            return AzureCredentials(
                access_token=Secret(access),
                expiration=datetime.now(timezone.utc) + timedelta(seconds=seconds),
            )
        raise explain_error(response.status_code, payload, token, options)

    logger.info(
        "Entra ID: client credentials for %s in tenant %s", options.client_id, options.tenant_id
    )
    return transport.with_retries(attempt, options.retry, options.sleep)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def error_code(payload: dict[str, Any]) -> int | None:
    """Return the AADSTS number from `error_codes`, or from the description text."""
    codes = payload.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    match = _AADSTS.search(str(payload.get("error_description", "")))
    return int(match.group(1)) if match else None


def _first_line(description: str) -> str:
    # Entra appends "Trace ID", "Correlation ID" and "Timestamp" lines; keep the reason.
    return description.strip().splitlines()[0] if description.strip() else ""


# AADSTS codes of a token that no federated credential on the app matches, with
# what failed and what to change. {iss}, {sub} and {aud} are the token's claims.
_MISMATCHES: dict[int, tuple[str, str]] = {
    70021: (
        "found no federated credential that matches the token",
        "add a federated credential whose issuer, subject and audience equal the token's "
        "iss, sub and aud exactly, under Certificates & secrets > Federated credentials.",
    ),
    700211: (
        "found no federated credential with the token's issuer",
        "set the federated credential's issuer to {iss} exactly, with no trailing slash.",
    ),
    700212: (
        "found no federated credential that lists the token's audience",
        f"request the token with --audience {AUDIENCE}, or add {{aud}} to the federated "
        "credential's audiences.",
    ),
    700213: (
        "found no federated credential with the token's subject",
        "add a federated credential whose subject is {sub}; GitHub's sub changes with the "
        "branch, tag, environment or pull request.",
    ),
    7002138: (
        "found a federated credential that matches the token's subject only when case is ignored",
        "Entra compares subjects case-sensitively, so change the credential's subject to "
        "{sub} with exactly this case.",
    ),
}


def explain_error(
    status: int, payload: dict[str, Any], token: IdentityToken, options: AzureOptions
) -> ExchangeError:
    """Return the error to raise for a failed token request, explained by its AADSTS code."""
    code = error_code(payload)
    reason = _first_line(str(payload.get("error_description") or "")) or str(
        payload.get("error") or f"HTTP {status}"
    )
    if status == 429 or status >= 500 or payload.get("error") == "temporarily_unavailable":
        return TransientError(f"Entra ID: {reason}", hint="retry the job later")

    claims = token.claims
    app = f"app {options.client_id} in tenant {options.tenant_id}"
    if code in _MISMATCHES:
        problem, fix = _MISMATCHES[code]
        values = {
            name: format_value(claims[name]) if name in claims else f"(no {name} claim)"
            for name in _CLAIMS
        }
        return ExchangeError(
            f"Entra ID {problem} on {app}: {reason}\n{format_claims(claims)}",
            hint=fix.format(**values),
        )
    if code == 700024:
        return ExchangeError(
            f"Entra ID: the token is outside its valid time window: {reason}\n"
            f"{format_time_window(token)}",
            hint="request the token right before the exchange, and check the runner's clock.",
        )
    if code == 700016:
        return ExchangeError(
            f"Entra ID: application {options.client_id} was not found in tenant "
            f"{options.tenant_id}: {reason}",
            hint="check --client-id and --tenant-id; the app must be registered, or consented "
            "to, in that tenant.",
        )
    return ExchangeError(
        f"Entra ID rejected the token request for {app}: {reason}\n{format_claims(claims)}"
    )
