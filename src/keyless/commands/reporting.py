"""Report options and output shared by the commands that produce findings."""

from __future__ import annotations

import argparse

from keyless.commands.options import add_option, write_output
from keyless.errors import ExitCode
from keyless.findings import FAIL_ON_CHOICES, fails
from keyless.report import FORMATS
from keyless.report.model import Report


def add_report_options(parser: argparse.ArgumentParser, *, fail_on: str) -> None:
    """Add --format, --output and --fail-on, with `fail_on` as the default severity."""
    group = parser.add_argument_group("output")
    add_option(group, "--format", choices=list(FORMATS), default="text", help="output format")
    add_option(
        group, "--output", "-o", metavar="FILE", help="write results to FILE instead of stdout"
    )
    add_option(
        group,
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default=fail_on,
        help=f"exit 1 when a finding has this severity or higher (default: {fail_on})",
    )


def finish(args: argparse.Namespace, report: Report) -> int:
    """Render and write the report, and return the exit code its findings call for."""
    from keyless.report import render

    write_output(render(args.format, report), args.output)
    failed = any(fails(f.severity, args.fail_on) for f in report.findings)
    return ExitCode.FINDINGS if failed else ExitCode.OK
