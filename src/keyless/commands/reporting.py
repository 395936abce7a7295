"""Report options and output shared by the commands that produce findings.

`--format` and `--output` choose the main report. Each file format also has its own
`--FORMAT-output FILE` option, so one run can log text for people and write SARIF or
GitLab reports for the CI platform, for example
`keyless scan --format text --sarif-output keyless.sarif`.
"""

from __future__ import annotations

import argparse

from keyless.commands.options import (
    add_option,
    check_output_file,
    is_stdout,
    same_file_key,
    write_files,
    write_stdout,
)
from keyless.errors import ExitCode, UsageError
from keyless.findings import FAIL_ON_CHOICES, fails
from keyless.report import FORMATS
from keyless.report.model import Report

# Annotations only work on the log GitHub reads, so `github` has no file option.
_STDOUT_ONLY = {"github"}

_DESCRIPTIONS = {
    "text": "the text report",
    "json": "the JSON report",
    "sarif": "SARIF 2.1.0 for GitHub code scanning",
    "gitlab": "GitLab's secret-detection report",
    "codequality": "GitLab's Code Quality report",
}


def file_formats() -> list[str]:
    """Return the formats that get a `--FORMAT-output FILE` option."""
    return [name for name in FORMATS if name not in _STDOUT_ONLY]


def output_dest(format_name: str) -> str:
    """Return the argparse destination of a format's file option: sarif -> sarif_output."""
    return f"{format_name}_output"


def add_report_options(parser: argparse.ArgumentParser, *, fail_on: str) -> None:
    """Add --format, --output, one --FORMAT-output per file format, and --fail-on."""
    group = parser.add_argument_group("output")
    add_option(
        group,
        "--format",
        choices=list(FORMATS),
        default="text",
        help="format of the main report, written to stdout or --output",
    )
    add_option(
        group, "--output", "-o", metavar="FILE", help="write the main report to FILE, not stdout"
    )
    for name in file_formats():
        add_option(
            group,
            f"--{name}-output",
            metavar="FILE",
            dest=output_dest(name),
            help=f"also write {_DESCRIPTIONS.get(name, f'the {name} report')} to FILE",
        )
    add_option(
        group,
        "--fail-on",
        choices=FAIL_ON_CHOICES,
        default=fail_on,
        help=f"exit 1 when a finding has this severity or higher (default: {fail_on})",
    )


def requested_outputs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """Return (format, file) pairs to write, the main report first; None is stdout.

    A file of '-' means stdout too, and comes back as None.

    Raises UsageError, before anything is written, when two reports would go to the
    same file or to stdout, or when a file cannot be written (see `check_output_file`).
    """
    outputs: list[tuple[str, str | None]] = [(args.format, args.output)]
    for name in file_formats():
        path = getattr(args, output_dest(name), None)
        if path:
            outputs.append((name, path))
    outputs = [(name, None if is_stdout(path) else path) for name, path in outputs]
    seen: dict[tuple[str, ...], tuple[str, str]] = {}
    for name, path in outputs:
        if path is not None:
            check_output_file(path, f"{name} report")
        key = same_file_key(path)
        display = "stdout" if path is None else path
        if key in seen:
            other_name, other_display = seen[key]
            where = (
                "there" if other_display == display else f"there ({other_display} is the same file)"
            )
            raise UsageError(
                f"{display}: both the {other_name} and the {name} report would be written {where}",
                hint="give each report its own file",
            )
        seen[key] = (name, display)
    return outputs


def check_outputs_apart(args: argparse.Namespace, inputs: dict[str, str]) -> None:
    """Raise UsageError when a report would overwrite an input file.

    `inputs` maps each input path to what it is, such as "baseline" or "scanned file".
    """
    keys = {same_file_key(path): (path, role) for path, role in inputs.items()}
    for name, path in requested_outputs(args):
        if path is None:
            continue
        found = keys.get(same_file_key(path))
        if found is not None:
            raise UsageError(
                f"{path}: the {name} report would overwrite the {found[1]} {found[0]}",
                hint="write the report to another file",
            )


def finish(args: argparse.Namespace, report: Report) -> int:
    """Write every requested report, and return the exit code its findings call for.

    Every target is checked and every report rendered before the first byte goes out.
    Files are written next (atomically, see `write_files`) and stdout last, so a
    failure leaves no partial report behind.
    """
    from keyless.report import check_kind, render

    outputs = requested_outputs(args)
    for name, _ in outputs:
        check_kind(name, report.kind)
    rendered = [(render(name, report), path) for name, path in outputs]
    write_files([(path, text) for text, path in rendered if path is not None])
    if any(name == "github" for name, _ in outputs):
        from keyless.report.github import append_step_summary

        append_step_summary(report)
    for text, path in rendered:
        if path is None:
            write_stdout(text)
    failed = any(fails(f.severity, args.fail_on) for f in report.findings)
    return ExitCode.FINDINGS if failed else ExitCode.OK
