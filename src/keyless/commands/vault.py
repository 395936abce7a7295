"""Log in to Vault or OpenBao with the job's OIDC token and hand secrets to the job.

keyless logs in through JWT auth, reads each --secret, masks every value, writes
them to the --export targets (or runs --exec), and records the Vault token so
`keyless revoke` can revoke it with its leases at the end of the job.
"""

from __future__ import annotations

import argparse

from keyless.commands.exporting import add_export_options, emit_settings, exec_command
from keyless.commands.options import add_option
from keyless.errors import ExitCode, UsageError
from keyless.identity.options import add_token_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `vault` options."""
    server = parser.add_argument_group("Vault server")
    add_option(
        server,
        "--url",
        env="VAULT_ADDR",
        metavar="URL",
        help="Vault address, such as https://vault.example.com:8200",
    )
    add_option(
        server,
        "--namespace",
        env="VAULT_NAMESPACE",
        metavar="NS",
        help="Vault Enterprise or OpenBao namespace to log in and read in",
    )
    add_option(
        server, "--ca-cert", env="VAULT_CACERT", metavar="FILE", help="CA bundle for Vault's TLS"
    )
    add_option(
        server,
        "--client-cert",
        env="VAULT_CLIENT_CERT",
        metavar="FILE",
        help="client certificate (PEM) for TLS client authentication",
    )
    add_option(
        server,
        "--client-key",
        env="VAULT_CLIENT_KEY",
        metavar="FILE",
        help="private key (PEM) of --client-cert",
    )
    add_option(
        server,
        "--tls-skip-verify",
        env="VAULT_SKIP_VERIFY",
        action="store_true",
        help="do not verify Vault's TLS certificate (insecure; logs a warning)",
    )
    add_option(
        server,
        "--retry-deadline",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop retrying 412, 429, 5xx and connection failures after this long (default: 60)",
    )

    login = parser.add_argument_group("login")
    add_option(
        login, "--mount", default="jwt", metavar="PATH", help="JWT auth mount (default: jwt)"
    )
    add_option(
        login,
        "--role",
        metavar="ROLE",
        help="role to log in as (default: the mount's default_role)",
    )
    add_option(
        login,
        "--audience",
        metavar="AUD",
        help="audience to request the CI token for; must be in the role's bound_audiences",
    )
    add_token_options(login)

    secrets = parser.add_argument_group("secrets")
    add_option(
        secrets,
        "--secret",
        action="append",
        default=[],
        metavar="'PATH KEY | NAME'",
        help="a secret to read, repeatable: 'PATH KEY | NAME' for one key, 'PATH | PREFIX_' "
        "for every key; ';' or newlines separate several in one value",
    )
    add_option(
        secrets,
        "--export-token",
        action="store_true",
        help="also hand the Vault token to the job, as VAULT_TOKEN",
    )
    add_export_options(parser)


def run(args: argparse.Namespace) -> int:
    """Log in, read the secrets, hand them over, and return the exit code."""
    from keyless.exchange import vault_run
    from keyless.exchange.vault import (
        Connection,
        check_connection,
        check_request_names,
        parse_secret_specs,
    )

    if not args.url:
        raise UsageError(
            "no Vault address: --url is not given and VAULT_ADDR is not set",
            hint="pass --url https://vault.example.com:8200",
        )
    requests_ = parse_secret_specs(args.secret)
    check_request_names(requests_, allow_reserved=args.allow_reserved_names)
    if not requests_ and not args.export_token:
        raise UsageError(
            "nothing to read: give at least one --secret, or --export-token",
            hint="for example --secret 'secret/ci/app password | APP_PASSWORD'",
        )
    if args.client_key and not args.client_cert:
        raise UsageError("--client-key needs --client-cert")
    if args.retry_deadline < 0:
        raise UsageError(f"--retry-deadline {args.retry_deadline} must not be negative")
    connection = Connection(
        url=args.url,
        namespace=args.namespace or None,
        ca_cert=args.ca_cert,
        client_cert=args.client_cert,
        client_key=args.client_key,
        tls_skip_verify=args.tls_skip_verify,
    )
    check_connection(connection)
    plan = vault_run.Plan(
        connection=connection,
        mount=args.mount,
        role=args.role,
        audience=args.audience,
        token_env=args.token_env,
        token_file=args.token_file,
        secrets=requests_,
        export_token=args.export_token,
        retry_deadline=args.retry_deadline,
        state_dir=args.state_dir,
        allow_reserved_names=args.allow_reserved_names,
    )
    command = exec_command(args)
    if command is not None:
        return vault_run.run_exec(plan, command)
    vault_run.run_export(plan, emit_settings(args))
    return ExitCode.OK
