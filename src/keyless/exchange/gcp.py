"""Google Cloud: workload identity federation through Google STS, then optional impersonation.

Two stages can fail, and errors name the stage. Pool admission is the STS token
exchange, where the provider checks the token's issuer, audience and attribute
condition. Impersonation is IAM Credentials generateAccessToken, where the
federated principal needs iam.serviceAccounts.getAccessToken on the service account.
"""

from __future__ import annotations

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
from keyless.exchange.refusal import ExchangeError, TransientError, audiences, format_claims
from keyless.identity.token import IdentityToken
from keyless.logs import logger
from keyless.secret import Secret

if TYPE_CHECKING:
    import requests

STS_ENDPOINT = "https://sts.googleapis.com"
IAM_ENDPOINT = "https://iamcredentials.googleapis.com"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
DEFAULT_LIFETIME = 3600
# generateAccessToken accepts up to 12 hours once the organization policy
# constraints/iam.allowServiceAccountCredentialLifetimeExtension allows it, else 1 hour.
MAX_LIFETIME = 43200

PROVIDER_FORMAT = "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER"
_PROVIDER = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"workloadIdentityPools/(?P<pool>[^/]+)/providers/(?P<provider>[^/]+)$"
)
_POOL = re.compile(r"^projects/[^/]+/locations/[^/]+/workloadIdentityPools/[^/]+/?$")
_SERVICE_ACCOUNT = re.compile(r"^[^@\s/]+@[^@\s/]+\.iam\.gserviceaccount\.com$|^\d{21}$")
_RESOURCE_PREFIXES = ("//iam.googleapis.com/", "https://iam.googleapis.com/")


@dataclass(frozen=True)
class GcpOptions:
    """The provider to exchange at, and the service account to impersonate, if any."""

    workload_identity_provider: str
    service_account: str | None = None
    lifetime: int = DEFAULT_LIFETIME
    scopes: tuple[str, ...] = (CLOUD_PLATFORM_SCOPE,)
    delegates: tuple[str, ...] = ()
    sts_endpoint: str = STS_ENDPOINT
    iam_endpoint: str = IAM_ENDPOINT
    retry: shared_http.RetryPolicy = shared_http.DEFAULT_RETRY
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


@dataclass(frozen=True)
class GcpCredentials:
    """A Google OAuth 2.0 access token: federated, or the service account's when impersonating."""

    access_token: Secret
    expiration: datetime
    service_account: str | None


def parse_provider(value: str) -> str:
    """Return the provider's resource name, or raise UsageError naming what is wrong with it.

    Accepts the bare name and the `//iam.googleapis.com/` and `https://iam.googleapis.com/`
    forms.
    """
    name = value.strip()
    for prefix in _RESOURCE_PREFIXES:
        name = name.removeprefix(prefix)
    if _POOL.match(name):
        raise UsageError(
            f"--workload-identity-provider {value!r} names a workload identity pool, not a "
            "provider",
            hint=f"append /providers/PROVIDER; the full form is {PROVIDER_FORMAT}",
        )
    match = _PROVIDER.match(name)
    if match is None:
        raise UsageError(
            f"--workload-identity-provider {value!r} is not a provider resource name",
            hint=f"use {PROVIDER_FORMAT}",
        )
    if not match["project"].isdigit():
        raise UsageError(
            f"--workload-identity-provider {value!r} names the project by its ID "
            f"{match['project']!r}; Google STS requires the project number",
            hint=f"find it with: gcloud projects describe {match['project']} "
            "--format='value(projectNumber)'",
        )
    if match["location"] != "global":
        raise UsageError(
            f"--workload-identity-provider {value!r} has location {match['location']!r}; "
            "workload identity pools live in location global"
        )
    return name


def token_audience(provider: str) -> str:
    """Return the audience to request the CI token with: a provider's default allowed audience."""
    return f"https://iam.googleapis.com/{provider}"


def sts_audience(provider: str) -> str:
    """Return the `audience` parameter Google STS expects: the provider's full resource name."""
    return f"//iam.googleapis.com/{provider}"


def pool_principal(provider: str, subject: str) -> str:
    """Return the IAM principal of one subject in the provider's pool."""
    pool = provider.split("/providers/", 1)[0]
    return f"principal://iam.googleapis.com/{pool}/subject/{subject}"


def validate_options(options: GcpOptions) -> None:
    """Raise UsageError for an option Google would reject, before any request is sent."""
    parse_provider(options.workload_identity_provider)
    if options.service_account is not None and not _SERVICE_ACCOUNT.match(options.service_account):
        raise UsageError(
            f"--service-account {options.service_account!r} is not a service account email",
            hint="use NAME@PROJECT.iam.gserviceaccount.com",
        )
    if not 1 <= options.lifetime <= MAX_LIFETIME:
        raise UsageError(f"--lifetime {options.lifetime} is out of range: 1 to {MAX_LIFETIME} s")
    if not options.scopes:
        raise UsageError("--scopes is empty; give at least one OAuth scope")
    endpoints = (("--sts-endpoint", options.sts_endpoint), ("--iam-endpoint", options.iam_endpoint))
    for name, endpoint in endpoints:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise UsageError(f"{name} {endpoint!r} is not an http(s) URL")


def exchange(token: IdentityToken, options: GcpOptions) -> GcpCredentials:
    """Return a federated access token, or the service account's when one is given."""
    validate_options(options)
    provider = parse_provider(options.workload_identity_provider)
    http = shared_http.session()
    federated = exchange_federated(http, token, provider, options)
    if options.service_account is None:
        return federated
    return impersonate(http, token, federated, provider, options)


def exchange_federated(
    http: requests.Session, token: IdentityToken, provider: str, options: GcpOptions
) -> GcpCredentials:
    """Exchange the CI token at Google STS for a federated access token (pool admission)."""
    # Impersonation needs cloud-platform on the federated token; without it the
    # federated token itself is the result and carries the requested scopes.
    scopes = (CLOUD_PLATFORM_SCOPE,) if options.service_account else options.scopes
    body = {
        "audience": sts_audience(provider),
        "grantType": TOKEN_EXCHANGE_GRANT,
        "requestedTokenType": ACCESS_TOKEN_TYPE,
        "scope": " ".join(scopes),
        "subjectTokenType": JWT_TOKEN_TYPE,
        "subjectToken": token.raw.reveal(),
    }
    url = options.sts_endpoint.rstrip("/") + "/v1/token"

    def attempt() -> GcpCredentials:
        response = transport.post(http, url, "Google STS", json=body)
        payload = _json(response)
        if response.status_code == 200:
            access = payload.get("access_token")
            if not isinstance(access, str) or not access:
                raise ExchangeError("Google STS: the response has no access_token")
            return GcpCredentials(
                access_token=Secret(access),
                expiration=_expires_in(payload.get("expires_in")),
                service_account=None,
            )
        raise explain_sts_error(response.status_code, payload, token, provider)

    logger.info("Google STS: token exchange for %s", provider)
    return transport.with_retries(attempt, options.retry, options.sleep)


def impersonate(
    http: requests.Session,
    token: IdentityToken,
    federated: GcpCredentials,
    provider: str,
    options: GcpOptions,
) -> GcpCredentials:
    """Exchange the federated token for the service account's access token (impersonation)."""
    account = options.service_account or ""
    url = (
        f"{options.iam_endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/"
        f"{quote(account, safe='@.')}:generateAccessToken"
    )
    body: dict[str, Any] = {"scope": list(options.scopes), "lifetime": f"{options.lifetime}s"}
    if options.delegates:
        body["delegates"] = [f"projects/-/serviceAccounts/{d}" for d in options.delegates]
    headers = {"Authorization": f"Bearer {federated.access_token.reveal()}"}

    def attempt() -> GcpCredentials:
        response = transport.post(http, url, "Google IAM Credentials", json=body, headers=headers)
        payload = _json(response)
        if response.status_code == 200:
            access = payload.get("accessToken")
            if not isinstance(access, str) or not access:
                raise ExchangeError("Google IAM Credentials: the response has no accessToken")
            return GcpCredentials(
                access_token=Secret(access),
                expiration=_parse_time(payload.get("expireTime")),
                service_account=account,
            )
        raise explain_iam_error(response.status_code, payload, token, provider, options)

    logger.info("Google IAM Credentials: generateAccessToken for %s", account)
    return transport.with_retries(attempt, options.retry, options.sleep)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _expires_in(value: object) -> datetime:
    seconds = value if isinstance(value, int) else DEFAULT_LIFETIME
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


def _parse_time(value: object) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ExchangeError(f"Google IAM Credentials: invalid expireTime {value!r} in the response")


# --- explanations -------------------------------------------------------------------------


def explain_sts_error(
    status: int, payload: dict[str, Any], token: IdentityToken, provider: str
) -> ExchangeError:
    """Return the error to raise for a failed token exchange at Google STS."""
    code = str(payload.get("error") or f"HTTP {status}")
    description = str(payload.get("error_description") or "")
    summary = f"{code}: {description}" if description else code
    stage = "Google STS (workload identity pool admission)"
    if status == 429 or status >= 500:
        return TransientError(f"{stage}: {summary}", hint="retry the job later")
    claims = token.claims
    shown = format_claims(claims)
    lowered = description.lower()
    # invalid_target mentions the "audience" parameter, so it is matched first.
    if code == "invalid_target" or status == 404:
        return ExchangeError(
            f"{stage}: the provider {provider} does not exist or is disabled ({summary})",
            hint="check the project number, pool and provider IDs, and that neither the "
            "pool nor the provider is disabled or deleted",
        )
    if "attribute condition" in lowered:
        return ExchangeError(
            f"{stage} rejected the token: the provider's attribute condition does not "
            f"accept it ({summary})\n{shown}",
            hint=f"compare the attribute condition of {provider} with the token's claims "
            "(keyless token shows them all); conditions are CEL expressions over "
            "assertion.CLAIM",
        )
    if "audience" in lowered:
        expected = token_audience(provider)
        return ExchangeError(
            f"{stage} rejected the token's audience ({summary})\n{shown}\n"
            f"  expected aud: {expected} (or one of the provider's allowed audiences)",
            hint=f"request the token with --audience {expected}, or add "
            f"{', '.join(audiences(claims)) or 'its audience'} to the provider's allowed "
            "audiences",
        )
    if "issuer" in lowered:
        return ExchangeError(
            f"{stage} rejected the token's issuer ({summary})\n{shown}",
            hint=f"set the issuer URI of {provider} to the token's iss exactly",
        )
    return ExchangeError(f"{stage} rejected the token ({summary})\n{shown}")


def explain_iam_error(
    status: int,
    payload: dict[str, Any],
    token: IdentityToken,
    provider: str,
    options: GcpOptions,
) -> ExchangeError:
    """Return the error to raise for a failed generateAccessToken call."""
    error = payload.get("error")
    details = error if isinstance(error, dict) else {}
    api_status = str(details.get("status") or f"HTTP {status}")
    message = str(details.get("message") or "")
    summary = f"{api_status}: {message}" if message else api_status
    account = options.service_account
    stage = "Google IAM Credentials (service account impersonation)"
    if status == 429 or status >= 500:
        return TransientError(f"{stage}: {summary}", hint="retry the job later")
    if status == 403 or api_status == "PERMISSION_DENIED":
        subject = str(token.claims.get("sub", "SUBJECT"))
        return ExchangeError(
            f"{stage}: the pool admitted the token, but iam.serviceAccounts.getAccessToken "
            f"on {account} was denied ({summary})\n{format_claims(token.claims)}",
            hint=f"grant roles/iam.workloadIdentityUser on {account} to "
            f"{pool_principal(provider, subject)} (or a principalSet:// for an attribute), "
            "and check that the service account exists",
        )
    if status == 404:
        return ExchangeError(
            f"{stage}: service account {account} was not found ({summary})",
            hint="check --service-account and --delegates",
        )
    if status == 400 and "lifetime" in message.lower():
        return ExchangeError(
            f"{stage}: --lifetime {options.lifetime} was rejected ({summary})",
            hint="lifetimes over 3600 s need the organization policy "
            "constraints/iam.allowServiceAccountCredentialLifetimeExtension for this account",
        )
    return ExchangeError(f"{stage}: {summary}")
