"""AWS STS: AssumeRoleWithWebIdentity with the job's token, then optional role chaining.

AssumeRoleWithWebIdentity goes through STS's query API as an unsigned form POST,
the token being the only credential. Role chaining (AssumeRole with the first
credentials) is signed with SigV4 by keyless.exchange.sigv4.
"""

from __future__ import annotations

import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from keyless import http as shared_http
from keyless.errors import UsageError
from keyless.exchange import sigv4, transport
from keyless.exchange.refusal import (
    ExchangeError,
    TransientError,
    audiences,
    format_claims,
    format_time_window,
)
from keyless.identity import issuers
from keyless.identity.claims import platform_of
from keyless.identity.token import IdentityToken
from keyless.logs import logger
from keyless.secret import Secret

if TYPE_CHECKING:
    import requests

STS_API_VERSION = "2011-06-15"
DEFAULT_AUDIENCE = "sts.amazonaws.com"
MIN_DURATION = 900
MAX_DURATION = 43200
# AWS ends a chained role session after at most one hour, whatever the role allows.
MAX_CHAINED_DURATION = 3600
MAX_POLICY_ARNS = 10

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$", re.ASCII)
_SESSION_NAME_INVALID = re.compile(r"[^\w+=,.@-]+", re.ASCII)
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+)+-\d+$")
_RETRIED_CODES = frozenset({"IDPCommunicationError", "Throttling", "ThrottlingException"})


@dataclass(frozen=True)
class AwsOptions:
    """The role and session parameters of an STS request; `validate_options` checks them."""

    role_arn: str
    region: str | None = None
    sts_endpoint: str | None = None
    duration: int | None = None
    session_name: str = "keyless"
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    chain_role_arn: str | None = None
    retry: shared_http.RetryPolicy = shared_http.DEFAULT_RETRY
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


@dataclass(frozen=True)
class AwsCredentials:
    """Temporary STS credentials; the key ID is a Secret because AWS's own tools mask it."""

    access_key_id: Secret
    secret_access_key: Secret
    session_token: Secret
    expiration: datetime
    assumed_role_arn: str
    region: str | None


def validate_options(options: AwsOptions) -> None:
    """Raise UsageError for an option STS would reject, before any request is sent."""
    arns = (("--role-arn", options.role_arn), ("--chain-role-arn", options.chain_role_arn))
    for name, arn in arns:
        if arn is not None and not _ROLE_ARN.match(arn):
            raise UsageError(
                f"{name} {arn!r} is not an IAM role ARN",
                hint="use the form arn:aws:iam::123456789012:role/NAME",
            )
    if options.region is not None and not _REGION.match(options.region):
        raise UsageError(f"--region {options.region!r} is not an AWS region name such as us-east-1")
    if options.duration is not None:
        if not MIN_DURATION <= options.duration <= MAX_DURATION:
            raise UsageError(
                f"--duration {options.duration} is out of range: STS accepts "
                f"{MIN_DURATION} to {MAX_DURATION} seconds"
            )
        if options.chain_role_arn and options.duration > MAX_CHAINED_DURATION:
            raise UsageError(
                f"--duration {options.duration} is too long for role chaining: AWS limits "
                f"a chained session to {MAX_CHAINED_DURATION} seconds"
            )
    if options.policy is not None:
        _validate_policy(options.policy)
    if len(options.policy_arns) > MAX_POLICY_ARNS:
        raise UsageError(
            f"{len(options.policy_arns)} --policy-arn values given; STS accepts at most "
            f"{MAX_POLICY_ARNS}"
        )
    if options.sts_endpoint is not None:
        parts = urlsplit(options.sts_endpoint)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query:
            raise UsageError(
                f"--sts-endpoint {options.sts_endpoint!r} is not an http(s) URL without a query"
            )


def _validate_policy(policy: str) -> None:
    import json

    try:
        document = json.loads(policy)
    except ValueError as exc:
        raise UsageError(f"--policy is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UsageError("--policy must be a JSON object (an IAM policy document)")


def clean_session_name(raw: str) -> str:
    """Return `raw` reduced to the characters STS allows in a session name, 2 to 64 long."""
    name = _SESSION_NAME_INVALID.sub("-", raw).strip("-")[:64]
    return name if len(name) >= 2 else "keyless"


def default_session_name(environ: dict[str, str] | None = None) -> str:
    """Return a session name from the CI's repository and run id, for CloudTrail."""
    env = dict(os.environ) if environ is None else environ
    if env.get("GITHUB_REPOSITORY"):
        parts = [env["GITHUB_REPOSITORY"], env.get("GITHUB_RUN_ID", "")]
    elif env.get("CI_PROJECT_PATH"):
        parts = [env["CI_PROJECT_PATH"], env.get("CI_JOB_ID") or env.get("CI_PIPELINE_ID", "")]
    else:
        return "keyless"
    return clean_session_name("keyless-" + "-".join(p for p in parts if p))


def endpoint_for(region: str | None, override: str | None) -> str:
    """Return the STS endpoint: the override, the regional endpoint, or the global one."""
    if override:
        return override
    if region is None:
        return "https://sts.amazonaws.com"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


def exchange(token: IdentityToken, options: AwsOptions) -> AwsCredentials:
    """Return credentials for `options.role_arn`, chained to `chain_role_arn` when set."""
    validate_options(options)
    http = shared_http.session()
    first = assume_role_with_web_identity(http, token, options)
    if options.chain_role_arn is None:
        return first
    return assume_role(http, first, options.chain_role_arn, options)


def assume_role_with_web_identity(
    http: requests.Session, token: IdentityToken, options: AwsOptions
) -> AwsCredentials:
    """Call STS AssumeRoleWithWebIdentity, retrying transient failures."""
    url = endpoint_for(options.region, options.sts_endpoint)
    form: list[tuple[str, str]] = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", STS_API_VERSION),
        ("RoleArn", options.role_arn),
        ("RoleSessionName", options.session_name),
        ("WebIdentityToken", token.raw.reveal()),
    ]
    form += _session_parameters(options, options.duration)

    def attempt() -> AwsCredentials:
        response = transport.post(
            http,
            url,
            "AWS STS",
            data=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        if response.status_code == 200:
            return _parse_credentials(response.text, "AssumeRoleWithWebIdentity", options.region)
        error = StsError.parse(response.status_code, response.text)
        raise explain_web_identity_error(error, token, options, url)

    logger.info("AWS STS: AssumeRoleWithWebIdentity for %s at %s", options.role_arn, url)
    return transport.with_retries(attempt, options.retry, options.sleep)


def assume_role(
    http: requests.Session, source: AwsCredentials, role_arn: str, options: AwsOptions
) -> AwsCredentials:
    """Call STS AssumeRole for `role_arn`, signed with the `source` credentials."""
    url = endpoint_for(options.region, options.sts_endpoint)
    form: list[tuple[str, str]] = [
        ("Action", "AssumeRole"),
        ("Version", STS_API_VERSION),
        ("RoleArn", role_arn),
        ("RoleSessionName", options.session_name),
    ]
    form += _session_parameters(options, options.duration)
    body = urlencode(form).encode("utf-8")
    signing_region = options.region or "us-east-1"

    def attempt() -> AwsCredentials:
        headers = sigv4.sign_form_post(
            url,
            body,
            access_key_id=source.access_key_id,
            secret_access_key=source.secret_access_key,
            session_token=source.session_token,
            region=signing_region,
            service="sts",
            now=datetime.now(timezone.utc),
        )
        response = transport.post(http, url, "AWS STS", data=body, headers=headers)
        if response.status_code == 200:
            return _parse_credentials(response.text, "AssumeRole", options.region)
        error = StsError.parse(response.status_code, response.text)
        raise explain_chain_error(error, source, role_arn)

    logger.info("AWS STS: AssumeRole %s chained from %s", role_arn, source.assumed_role_arn)
    return transport.with_retries(attempt, options.retry, options.sleep)


def _session_parameters(options: AwsOptions, duration: int | None) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if duration is not None:
        params.append(("DurationSeconds", str(duration)))
    if options.policy is not None:
        params.append(("Policy", options.policy))
    for index, arn in enumerate(options.policy_arns, start=1):
        params.append((f"PolicyArns.member.{index}.arn", arn))
    return params


# --- responses ---------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element, *path: str) -> ET.Element | None:
    current: ET.Element | None = element
    for name in path:
        if current is None:
            return None
        current = next((child for child in current if _local(child.tag) == name), None)
    return current


def _text(element: ET.Element, *path: str) -> str | None:
    found = _find(element, *path)
    return None if found is None or found.text is None else found.text.strip()


def _parse_xml(body: str) -> ET.Element | None:
    try:
        # ElementTree parses with expat, which expands no external entities.
        return ET.fromstring(body)  # noqa: S314
    except ET.ParseError:
        return None


def _parse_credentials(body: str, action: str, region: str | None) -> AwsCredentials:
    root = _parse_xml(body)
    result = None if root is None else _find(root, f"{action}Result")
    if result is None:
        raise ExchangeError(f"AWS STS: the {action} response is not the expected XML")
    values = {
        name: _text(result, "Credentials", name)
        for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ExchangeError(f"AWS STS: the {action} response lacks {', '.join(missing)}")
    expiration = _parse_time(values["Expiration"] or "")
    return AwsCredentials(
        access_key_id=Secret(values["AccessKeyId"] or ""),
        secret_access_key=Secret(values["SecretAccessKey"] or ""),
        session_token=Secret(values["SessionToken"] or ""),
        expiration=expiration,
        assumed_role_arn=_text(result, "AssumedRoleUser", "Arn") or "",
        region=region,
    )


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ExchangeError(f"AWS STS: invalid Expiration {value!r} in the response") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class StsError:
    """An STS error response: HTTP status, and the code and message of its ErrorResponse XML."""

    status: int
    code: str
    message: str
    request_id: str | None

    @classmethod
    def parse(cls, status: int, body: str) -> StsError:
        """Read the first `<Error>` element's Code and Message from `body`.

        STS nests it as ErrorResponse/Error; some STS-compatible servers (moto) add an
        Errors level, so the element is searched at any depth. A body that is not XML
        (a proxy's HTML error page) gives code `HTTP<status>` and no message.
        """
        root = _parse_xml(body)
        if root is None:
            return cls(status, f"HTTP{status}", "", None)
        error = next((node for node in root.iter() if _local(node.tag) == "Error"), None)
        code = (_text(error, "Code") if error is not None else None) or f"HTTP{status}"
        message = (_text(error, "Message") if error is not None else None) or ""
        request_id = _text(root, "RequestId") or _text(root, "ResponseMetadata", "RequestId")
        return cls(status, code, message, request_id)

    @property
    def transient(self) -> bool:
        """Return whether a retry may succeed."""
        return self.code in _RETRIED_CODES or self.status >= 500

    def summary(self) -> str:
        """Return `Code: message (request id …)` for error messages."""
        text = f"{self.code}: {self.message}" if self.message else self.code
        return f"{text} (request id {self.request_id})" if self.request_id else text


# --- explanations -------------------------------------------------------------------------


def _provider_arn(role_arn: str, prefix: str) -> str:
    """Return the IAM OIDC provider ARN for `prefix` in the role's partition and account."""
    partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:oidc-provider/{prefix}"


def condition_prefix(issuer: str) -> str:
    """Return the IAM condition-key prefix for an issuer: its URL without `https://`."""
    return issuer.removeprefix("https://").rstrip("/")


def _github_hint(token: IdentityToken) -> str:
    """Return a hint on GitHub's issuer URLs, or "" for tokens from other platforms."""
    issuer = str(token.claims.get("iss", ""))
    info = issuers.classify(issuer, token.claims)
    if info.kind == "ghes":
        return (
            f" This token comes from {info.description}, whose issuer is {issuer}: the IAM "
            "OIDC provider URL must be exactly that, and STS must reach "
            f"{issuer}/.well-known/openid-configuration and its JWKS from the internet."
        )
    if info.platform != "github" and platform_of(token.claims) != "github":
        return ""
    return (
        " On GitHub Enterprise Server the issuer is https://HOSTNAME/_services/token, and "
        "an enterprise with a unique issuer URL uses "
        f"{issuers.GITHUB}/ENTERPRISE: the IAM OIDC provider URL must match the token's iss."
    )


def explain_web_identity_error(
    error: StsError, token: IdentityToken, options: AwsOptions, url: str
) -> ExchangeError:
    """Return the error to raise for an STS AssumeRoleWithWebIdentity failure."""
    claims = token.claims
    issuer = str(claims.get("iss", "(missing)"))
    shown = format_claims(claims)
    if error.transient:
        return TransientError(f"AWS STS: {error.summary()}", hint=_transient_hint(error))
    if error.code == "InvalidIdentityToken":
        message = error.message.lower()
        github_hint = _github_hint(token)
        if "audience" in message:
            return ExchangeError(
                f"AWS STS rejected the token's audience: {error.summary()}\n{shown}",
                hint=f"add {', '.join(audiences(claims)) or 'the aud value'} to the client IDs "
                f"(audiences) of the IAM OIDC provider for {issuer}, or request the token "
                f"with --audience set to one that is listed (default {DEFAULT_AUDIENCE})",
            )
        if "provider" in message:
            return ExchangeError(
                f"AWS STS found no IAM OIDC identity provider for the token's issuer "
                f"{issuer}: {error.summary()}\n{shown}",
                hint=f"create an IAM OIDC identity provider with URL {issuer} and audience "
                f"{', '.join(audiences(claims)) or DEFAULT_AUDIENCE} in the account of "
                f"{options.role_arn}.{github_hint}",
            )
        return ExchangeError(
            f"AWS STS rejected the token: {error.summary()}\n{shown}",
            hint="check that the IAM OIDC provider URL matches the token's iss and that "
            f"STS can fetch the issuer's JWKS.{github_hint}",
        )
    if error.code == "AccessDenied":
        prefix = condition_prefix(issuer)
        aud = ", ".join(audiences(claims)) or "(missing)"
        return ExchangeError(
            f"AWS STS denied sts:AssumeRoleWithWebIdentity on {options.role_arn}: the role's "
            f"trust policy does not allow this token ({error.summary()})\n{shown}\n"
            "A trust policy for this token uses:\n"
            f'  "Principal": {{"Federated": "{_provider_arn(options.role_arn, prefix)}"}}\n'
            f'  "{prefix}:aud": "{aud}"\n'
            f'  "{prefix}:sub": "{claims.get("sub", "(missing)")}"',
            hint="compare the trust policy's Principal and its StringEquals or StringLike "
            "conditions with the values above; the sub condition is case-sensitive",
        )
    if error.code == "ExpiredTokenException":
        return ExchangeError(
            f"AWS STS rejected the token as expired: {error.summary()}\n"
            f"{format_time_window(token)}",
            hint="request the token right before the exchange, because CI tokens are "
            "short-lived, and check the runner's clock",
        )
    if error.code == "RegionDisabledException":
        region = options.region or "(global endpoint)"
        return ExchangeError(
            f"AWS STS is not activated in region {region} for the role's account: "
            f"{error.summary()}",
            hint="activate STS for the region under IAM > Account settings > Security Token "
            "Service (STS) endpoints, or pass --region with an active region",
        )
    return ExchangeError(
        f"AWS STS rejected AssumeRoleWithWebIdentity for {options.role_arn} at {url}: "
        f"{error.summary()}",
        hint=_generic_hint(error),
    )


def explain_chain_error(error: StsError, source: AwsCredentials, role_arn: str) -> ExchangeError:
    """Return the error to raise for a failed chained AssumeRole."""
    if error.transient:
        return TransientError(f"AWS STS: {error.summary()}", hint=_transient_hint(error))
    if error.code == "AccessDenied":
        return ExchangeError(
            f"AWS STS denied sts:AssumeRole on {role_arn} for {source.assumed_role_arn}: "
            f"{error.summary()}",
            hint=f"allow sts:AssumeRole on {role_arn} in the first role's permissions, and "
            "trust the first role in the chained role's trust policy",
        )
    return ExchangeError(
        f"AWS STS rejected the chained AssumeRole for {role_arn}: {error.summary()}",
        hint=_generic_hint(error),
    )


def _transient_hint(error: StsError) -> str:
    if error.code == "IDPCommunicationError":
        return (
            "STS could not fetch the issuer's discovery document or JWKS; the issuer must be "
            "reachable from the internet"
        )
    return "STS is throttling or failing; retry the job later"


def _generic_hint(error: StsError) -> str | None:
    if "DurationSeconds" in error.message:
        return "lower --duration, or raise the role's maximum session duration"
    if error.code in ("MalformedPolicyDocument", "PackedPolicyTooLarge"):
        return "fix or shorten --policy and --policy-arn"
    return None
