"""Exchange the job's OIDC token for temporary AWS credentials through STS.

The role's trust policy must trust the CI's IAM OIDC identity provider. keyless
calls AssumeRoleWithWebIdentity and optionally chains to a second role with
AssumeRole. Later steps get the credentials as environment variables, as a named
profile in a private credentials file, or as a token file that the AWS SDKs
exchange themselves (web-identity mode).
"""

from __future__ import annotations

import argparse
import enum
import os
import re
from typing import TYPE_CHECKING

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
from keyless.errors import UsageError
from keyless.exchange.emit import Output
from keyless.logs import logger

if TYPE_CHECKING:
    from keyless.exchange.aws import AwsCredentials, AwsOptions
    from keyless.identity import IdentityToken

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_.+@-]{1,64}$")


class Mode(str, enum.Enum):
    """Output mode: the form in which later steps get the credentials."""

    ENV = "env"
    PROFILE = "profile"
    WEB_IDENTITY = "web-identity"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `aws` options."""
    from keyless.exchange.aws import DEFAULT_AUDIENCE, MAX_DURATION, MIN_DURATION

    group = parser.add_argument_group("AWS")
    add_option(group, "--role-arn", env="AWS_ROLE_ARN", metavar="ARN", help="IAM role to assume")
    add_option(
        group,
        "--region",
        env="AWS_REGION",
        metavar="REGION",
        help="region whose STS endpoint to use and to export (default: AWS_DEFAULT_REGION, "
        "else the global endpoint)",
    )
    add_option(
        group,
        "--sts-endpoint",
        metavar="URL",
        help="STS endpoint URL, for private endpoints and tests (default: from --region)",
    )
    add_option(
        group,
        "--duration",
        type=int,
        metavar="SECONDS",
        help=f"session duration, {MIN_DURATION} to {MAX_DURATION} s and at most the role's "
        "maximum (default: STS's default of 3600)",
    )
    add_option(
        group,
        "--session-name",
        metavar="NAME",
        help="role session name shown in CloudTrail (default: keyless-REPOSITORY-RUN_ID)",
    )
    add_option(group, "--policy", metavar="JSON", help="inline session policy (JSON text)")
    add_option(
        group,
        "--policy-arn",
        action="append",
        default=[],
        metavar="ARN",
        help="managed policy to scope the session down, repeatable (at most 10)",
    )
    add_option(
        group,
        "--chain-role-arn",
        metavar="ARN",
        help="role to assume next with the first role's credentials (role chaining)",
    )
    add_option(
        group,
        "--credentials",
        choices=[mode.value for mode in Mode],
        default=Mode.ENV.value,
        help=f"{choices_help([m.value for m in Mode])}: export the keys as environment "
        "variables, write them as a profile to a private credentials file, or write the "
        "CI token to a file for the SDKs to exchange (default: env)",
    )
    add_option(
        group,
        "--profile",
        metavar="NAME",
        default="default",
        help="profile name for --credentials profile (default: default)",
    )
    add_exchange_options(parser, DEFAULT_AUDIENCE)


def run(args: argparse.Namespace) -> int:
    """Exchange the token at STS and hand the credentials over."""
    from keyless.exchange import aws

    mode = Mode(args.credentials)
    region = args.region or os.environ.get("AWS_DEFAULT_REGION") or None
    options = aws.AwsOptions(
        role_arn=require(args.role_arn, "--role-arn", "AWS_ROLE_ARN"),
        region=region,
        sts_endpoint=args.sts_endpoint,
        duration=args.duration,
        session_name=aws.clean_session_name(args.session_name)
        if args.session_name
        else aws.default_session_name(),
        policy=args.policy,
        policy_arns=tuple(args.policy_arn),
        chain_role_arn=args.chain_role_arn,
    )
    aws.validate_options(options)
    if mode is Mode.WEB_IDENTITY and (
        options.chain_role_arn or options.policy or options.policy_arns
    ):
        raise UsageError(
            "--credentials web-identity cannot carry --chain-role-arn, --policy or --policy-arn",
            hint="the SDKs assume only AWS_ROLE_ARN from the token file; use env or profile",
        )
    if not _PROFILE_NAME.match(args.profile):
        raise UsageError(f"--profile {args.profile!r} is not a valid profile name")
    plan = plan_hand_off(args)
    token = read_token(args, args.audience)
    credentials = aws.exchange(token, options)
    logger.info(
        "AWS: credentials for %s expire at %s",
        credentials.assumed_role_arn,
        credentials.expiration.isoformat(),
    )

    def make_outputs(files: PrivateFiles) -> list[Output]:
        return outputs_for(mode, credentials, token, options, args.profile, files)

    return hand_off(plan, "aws", make_outputs)


def outputs_for(
    mode: Mode,
    credentials: AwsCredentials,
    token: IdentityToken,
    options: AwsOptions,
    profile: str,
    files: PrivateFiles,
) -> list[Output]:
    """Return the values to hand over in `mode`, writing any file into `files`."""
    outputs: list[Output] = []
    if mode is Mode.ENV:
        outputs += [
            Output("AWS_ACCESS_KEY_ID", credentials.access_key_id),
            Output("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key),
            Output("AWS_SESSION_TOKEN", credentials.session_token),
        ]
    elif mode is Mode.PROFILE:
        path = files.write("credentials", credentials_file(profile, credentials))
        outputs += [
            public("AWS_SHARED_CREDENTIALS_FILE", str(path)),
            public("AWS_PROFILE", profile),
        ]
    else:
        path = files.write("web-identity-token", token.raw.reveal())
        warn_token_file_lifetime("AWS", token, path)
        outputs += [
            public("AWS_ROLE_ARN", options.role_arn),
            public("AWS_WEB_IDENTITY_TOKEN_FILE", str(path)),
            public("AWS_ROLE_SESSION_NAME", options.session_name),
        ]
        if options.sts_endpoint:
            outputs.append(public("AWS_ENDPOINT_URL_STS", options.sts_endpoint))
    if options.region:
        outputs += [
            public("AWS_REGION", options.region),
            public("AWS_DEFAULT_REGION", options.region),
        ]
    return outputs


def credentials_file(profile: str, credentials: AwsCredentials) -> str:
    """Return an AWS shared credentials file with one profile."""
    return (
        f"[{profile}]\n"
        f"aws_access_key_id = {credentials.access_key_id.reveal()}\n"
        f"aws_secret_access_key = {credentials.secret_access_key.reveal()}\n"
        f"aws_session_token = {credentials.session_token.reveal()}\n"
    )
