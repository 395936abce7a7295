"""Exchange the job's OIDC token for a Microsoft Entra ID access token.

The app registration (or user-assigned managed identity) needs a federated
credential whose issuer, subject and audience match the token. Later steps get
the access token, or the workload identity variables (AZURE_CLIENT_ID,
AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE) that Azure SDKs and `az login
--federated-token` use.
"""

from __future__ import annotations

import argparse
import enum

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


class Mode(str, enum.Enum):
    """Output mode: the form in which later steps get the credentials."""

    TOKEN = "token"  # noqa: S105
    WORKLOAD_IDENTITY = "workload-identity"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `azure` options."""
    from keyless.exchange.azure import AUDIENCE, DEFAULT_AUTHORITY_HOST, DEFAULT_SCOPE

    group = parser.add_argument_group("Azure")
    add_option(
        group,
        "--tenant-id",
        env="AZURE_TENANT_ID",
        metavar="ID",
        help="directory (tenant) ID or domain",
    )
    add_option(
        group,
        "--client-id",
        env="AZURE_CLIENT_ID",
        metavar="ID",
        help="application (client) ID of the app registration or managed identity",
    )
    add_option(
        group,
        "--scope",
        default=DEFAULT_SCOPE,
        metavar="SCOPE",
        help=f"scope of the access token (default: {DEFAULT_SCOPE}, Azure Resource Manager)",
    )
    add_option(
        group,
        "--authority-host",
        env="AZURE_AUTHORITY_HOST",
        metavar="URL",
        help=f"Entra ID authority, for sovereign clouds and tests (default: "
        f"{DEFAULT_AUTHORITY_HOST})",
    )
    modes = [mode.value for mode in Mode]
    add_option(
        group,
        "--credentials",
        choices=modes,
        default=Mode.TOKEN.value,
        help=f"{choices_help(modes)}: export the access token, or write the CI token to a "
        "file and export the workload identity variables for the SDKs (default: token)",
    )
    add_exchange_options(parser, AUDIENCE)


def run(args: argparse.Namespace) -> int:
    """Exchange the token at Entra ID and hand the credentials over."""
    from keyless.exchange import azure

    mode = Mode(args.credentials)
    options = azure.AzureOptions(
        tenant_id=require(args.tenant_id, "--tenant-id", "AZURE_TENANT_ID"),
        client_id=require(args.client_id, "--client-id", "AZURE_CLIENT_ID"),
        scope=args.scope,
        authority_host=args.authority_host,
    )
    azure.validate_options(options)
    plan = plan_hand_off(args)
    token = read_token(args, args.audience)
    credentials = azure.exchange(token, options)
    logger.info("Entra ID: access token expires at %s", credentials.expiration.isoformat())

    def make_outputs(files: PrivateFiles) -> list[Output]:
        identity = [
            public("AZURE_CLIENT_ID", options.client_id),
            public("AZURE_TENANT_ID", options.tenant_id),
        ]
        if mode is Mode.TOKEN:
            return [Output("AZURE_ACCESS_TOKEN", credentials.access_token), *identity]
        path = files.write("federated-token", token.raw.reveal())
        warn_token_file_lifetime("Entra ID", token, path)
        outputs = [*identity, public("AZURE_FEDERATED_TOKEN_FILE", str(path))]
        if args.authority_host:
            outputs.append(public("AZURE_AUTHORITY_HOST", azure.authority_host(options)))
        return outputs

    return hand_off(plan, "azure", make_outputs)
