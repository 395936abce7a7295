"""Exchange the job's OIDC token for a Google Cloud access token (workload identity federation).

The token goes to Google STS for a federated access token, which can be used as
is or, with --service-account, exchanged for the service account's token through
IAM Credentials. Later steps get the access token, or an `external_account`
credentials file, written outside the workspace, that Google's SDKs and gcloud
use to exchange the token themselves.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from keyless.commands.cloud import (
    PrivateFiles,
    add_exchange_options,
    hand_off,
    plan_hand_off,
    public,
    read_token,
    require,
    warn_token_file_lifetime,
)
from keyless.commands.options import add_option, choices_help
from keyless.exchange.emit import Output
from keyless.logs import logger

if TYPE_CHECKING:
    from keyless.exchange.gcp import GcpOptions
    from keyless.identity import IdentityToken


class Mode(str, enum.Enum):
    """Output mode: the form in which later steps get the credentials."""

    TOKEN = "token"  # noqa: S105
    EXTERNAL_ACCOUNT = "external-account"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `gcp` options."""
    from keyless.exchange.gcp import (
        DEFAULT_LIFETIME,
        IAM_ENDPOINT,
        MAX_LIFETIME,
        PROVIDER_FORMAT,
        STS_ENDPOINT,
    )

    group = parser.add_argument_group("Google Cloud")
    add_option(
        group,
        "--workload-identity-provider",
        metavar="NAME",
        help=f"workload identity provider, {PROVIDER_FORMAT}",
    )
    add_option(
        group,
        "--service-account",
        metavar="EMAIL",
        help="service account to impersonate (default: use the federated token itself)",
    )
    add_option(
        group,
        "--lifetime",
        type=int,
        default=DEFAULT_LIFETIME,
        metavar="SECONDS",
        help=f"lifetime of the service account's token, 1 to {MAX_LIFETIME} s; over 3600 "
        f"needs an organization policy (default: {DEFAULT_LIFETIME})",
    )
    add_option(
        group,
        "--scopes",
        action="append",
        default=[],
        metavar="SCOPE",
        help="OAuth scopes, repeatable or comma-separated (default: cloud-platform)",
    )
    add_option(
        group,
        "--delegates",
        action="append",
        default=[],
        metavar="EMAIL",
        help="service accounts in the delegation chain, repeatable or comma-separated",
    )
    add_option(
        group,
        "--sts-endpoint",
        default=STS_ENDPOINT,
        metavar="URL",
        help=f"Google STS endpoint (default: {STS_ENDPOINT})",
    )
    add_option(
        group,
        "--iam-endpoint",
        default=IAM_ENDPOINT,
        metavar="URL",
        help=f"IAM Credentials endpoint (default: {IAM_ENDPOINT})",
    )
    modes = [mode.value for mode in Mode]
    add_option(
        group,
        "--credentials",
        choices=modes,
        default=Mode.TOKEN.value,
        help=f"{choices_help(modes)}: export the access token, or write an external_account "
        "credentials file for the SDKs and gcloud (default: token)",
    )
    add_exchange_options(parser, None)


def _split(values: list[str]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())


def run(args: argparse.Namespace) -> int:
    """Exchange the token at Google and hand the credentials over."""
    from keyless.exchange import gcp

    mode = Mode(args.credentials)
    provider = gcp.parse_provider(
        require(
            args.workload_identity_provider,
            "--workload-identity-provider",
            "KEYLESS_WORKLOAD_IDENTITY_PROVIDER",
        )
    )
    options = gcp.GcpOptions(
        workload_identity_provider=provider,
        service_account=args.service_account,
        lifetime=args.lifetime,
        scopes=_split(args.scopes) or (gcp.CLOUD_PLATFORM_SCOPE,),
        delegates=_split(args.delegates),
        sts_endpoint=args.sts_endpoint,
        iam_endpoint=args.iam_endpoint,
    )
    gcp.validate_options(options)
    audience = args.audience or gcp.token_audience(provider)
    plan = plan_hand_off(args)
    token = read_token(args, audience)
    credentials = gcp.exchange(token, options)
    logger.info(
        "Google: access token for %s expires at %s",
        credentials.service_account or "the federated principal",
        credentials.expiration.isoformat(),
    )
    explicit_token = bool(args.token_file or args.token_env)

    def make_outputs(files: PrivateFiles) -> list[Output]:
        if mode is Mode.TOKEN:
            return [Output("GOOGLE_OAUTH_ACCESS_TOKEN", credentials.access_token)]
        source = _credential_source(files, token, audience, explicit_token)
        path = files.write(
            "credentials.json", json.dumps(external_account(options, source), indent=2)
        )
        return [
            public("GOOGLE_APPLICATION_CREDENTIALS", str(path)),
            public("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE", str(path)),
        ]

    return hand_off(plan, "gcp", make_outputs)


def _credential_source(
    files: PrivateFiles, token: IdentityToken, audience: str, explicit_token: bool
) -> dict[str, Any]:
    """Return where the SDKs get a fresh CI token: GitHub's token endpoint, else a file."""
    request_url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if request_url and request_token and not explicit_token:
        # The SDKs request a new token whenever they refresh, for the whole job. The
        # request token in the headers is a secret, so the file is 0600 like the rest.
        separator = "&" if "?" in request_url else "?"
        return {
            "url": f"{request_url}{separator}audience={quote(audience, safe='')}",
            "headers": {"Authorization": f"Bearer {request_token}"},
            "format": {"type": "json", "subject_token_field_name": "value"},
        }
    path = files.write("identity-token", token.raw.reveal())
    warn_token_file_lifetime("Google", token, path)
    return {"file": str(path), "format": {"type": "text"}}


def external_account(options: GcpOptions, source: dict[str, Any]) -> dict[str, Any]:
    """Return an external_account credentials document for `options`."""
    from keyless.exchange import gcp

    document: dict[str, Any] = {
        "type": "external_account",
        "audience": gcp.sts_audience(options.workload_identity_provider),
        "subject_token_type": gcp.JWT_TOKEN_TYPE,
        "token_url": options.sts_endpoint.rstrip("/") + "/v1/token",
        "credential_source": source,
    }
    if options.service_account:
        document["service_account_impersonation_url"] = (
            f"{options.iam_endpoint.rstrip('/')}/v1/projects/-/serviceAccounts/"
            f"{options.service_account}:generateAccessToken"
        )
        document["service_account_impersonation"] = {"token_lifetime_seconds": options.lifetime}
    return document
