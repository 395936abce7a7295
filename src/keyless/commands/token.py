"""Show the CI job's OIDC token: its claims, how its subject was derived, its time
window, and, with --verify, whether its issuer's keys verify it.

With --expect-claim, --expect-audience or --expect-issuer, keyless compares the token
with what a trust policy expects and explains each mismatch. It exits 1 when a
check fails. The raw token is printed only with --raw, alone on stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from keyless.commands.options import add_option, write_output
from keyless.errors import ExitCode, UsageError
from keyless.identity.options import add_token_options

if TYPE_CHECKING:
    from keyless.identity.report import TokenReport

FORMATS = ("text", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `token` options."""
    add_option(
        parser,
        "--audience",
        metavar="AUD",
        help="audience to request the token for (GitHub Actions, Buildkite), or to select "
        "it by (GitLab CI); also the audience --verify expects",
    )
    add_token_options(parser)
    add_option(
        parser,
        "--verify",
        action="store_true",
        help="verify the signature with the issuer's JWKS, and the issuer, audience and time",
    )
    group = parser.add_argument_group("expectations (exit 1 when one is not met)")
    add_option(
        group,
        "--expect-claim",
        action="append",
        metavar="NAME=GLOB",
        default=[],
        help="expect claim NAME to match GLOB, case-sensitively (repeatable)",
    )
    add_option(group, "--expect-audience", metavar="AUD", help="expect aud to contain AUD")
    add_option(
        group,
        "--expect-issuer",
        metavar="URL",
        help="expect iss to be exactly URL; --verify then trusts only this issuer",
    )
    # --format, --output and --raw read KEYLESS_TOKEN_* variables, because `keyless
    # scan` reads KEYLESS_FORMAT and KEYLESS_OUTPUT with other values (sarif, a file).
    output = parser.add_argument_group("output")
    add_option(
        output,
        "--format",
        env="KEYLESS_TOKEN_FORMAT",
        choices=FORMATS,
        default="text",
        help="output format",
    )
    add_option(
        output,
        "--output",
        "-o",
        env="KEYLESS_TOKEN_OUTPUT",
        metavar="FILE",
        help="write the report to FILE instead of stdout",
    )
    add_option(
        output,
        "--raw",
        env="KEYLESS_TOKEN_RAW",
        action="store_true",
        help="print only the raw token to stdout, after every requested check passed",
    )


def run(args: argparse.Namespace) -> int:
    """Obtain the token, check it and print the report."""
    from keyless.identity import explain, obtain_token, report
    from keyless.identity.verify import verify

    if args.raw and args.output not in (None, "-"):
        raise UsageError(
            "--raw writes only to stdout, so it cannot be combined with --output",
            hint="redirect stdout to a file you create with mode 0600",
        )
    expected_audience = args.expect_audience or args.audience
    expectations = explain.expectations(
        args.expect_claim, audience=expected_audience, issuer=args.expect_issuer
    )
    # In GitHub Actions a mask command inside captured, machine-readable stdout never
    # reaches the runner. The runner also reads workflow commands on stderr.
    machine_stdout = args.raw or (args.format == "json" and args.output in (None, "-"))
    token = obtain_token(
        args.audience,
        token_env=args.token_env,
        token_file=args.token_file,
        mask_stream=sys.stderr if machine_stdout else None,
    )
    verification = None
    if args.verify:
        verification = verify(
            token, expected_issuer=args.expect_issuer, expected_audience=expected_audience
        )
    rows = explain.explain(token.claims, expectations)
    result = report.build(token, verification=verification, rows=rows)
    if args.raw:
        return _print_raw(result)
    if args.format == "json":
        write_output(report.render_json(result), args.output)
    else:
        write_output(report.render_text(result), args.output)
    return ExitCode.OK if result.ok else ExitCode.FINDINGS


def _print_raw(result: TokenReport) -> int:
    from keyless.identity.explain import mismatches, render_table
    from keyless.logs import logger
    from keyless.terminal import safe_line

    if result.ok:
        sys.stdout.write(result.token.raw.reveal() + "\n")
        sys.stdout.flush()
        return ExitCode.OK
    if result.verification is not None:
        for check in result.verification.failures():
            logger.error("token: verification failed: %s: %s", check.name, safe_line(check.detail))
    failed = mismatches(result.rows)
    if failed:
        logger.error(
            "token: %d expectation(s) not met:\n%s", len(failed), render_table(result.rows)
        )
    logger.error("token: not printed because a check failed")
    return ExitCode.FINDINGS
