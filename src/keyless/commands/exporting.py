"""Options shared by the exchange commands: where values go and where state is kept."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from keyless import ci
from keyless.commands.options import add_option, choices_help
from keyless.errors import UsageError
from keyless.exchange.exports import Export, default_exports
from keyless.logs import logger

if TYPE_CHECKING:
    from keyless.exchange.emit import EmitSettings

_EXPORTS = [export.value for export in Export]


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """Add --export, --output, --dotenv-file, --files-dir, --state-dir,
    --allow-reserved-names and --exec."""
    group = parser.add_argument_group("output")
    add_option(
        group,
        "--export",
        action="append",
        metavar="MODE",
        help=f"where to put the values, repeatable or comma-separated: {choices_help(_EXPORTS)} "
        "(default: github in GitHub Actions, gitlab in GitLab CI, else shell)",
    )
    add_option(
        group,
        "--output",
        "-o",
        metavar="FILE",
        help="file for --export shell or json, written 0600 (default: stdout)",
    )
    add_option(
        group,
        "--dotenv-file",
        metavar="FILE",
        default="keyless.env",
        help="dotenv file for --export gitlab; list it under artifacts:reports:dotenv "
        "(default: keyless.env)",
    )
    add_option(
        group,
        "--files-dir",
        metavar="DIR",
        help="folder for --export files, one 0600 file per value named after it "
        "(default: a new private folder under the runner's temp folder)",
    )
    add_option(
        group,
        "--state-dir",
        metavar="DIR",
        help="folder of the record `keyless revoke` reads (default: keyless/ under "
        "RUNNER_TEMP on GitHub, beside the checkout on GitLab, else a private temp folder)",
    )
    add_option(
        group,
        "--allow-reserved-names",
        action="store_true",
        help="let values set names that steer programs or the CI runner, such as PATH, "
        "LD_PRELOAD, BASH_ENV, PYTHON*, NODE_OPTIONS, GITHUB_* or CI_* (rejected by default)",
    )
    group.add_argument(
        "--exec",
        dest="exec_",
        action="store_true",
        help="run the command after `--` with the values in its environment only, revoke "
        "when it exits, and exit with its exit code: --exec -- CMD ARGS (must come last)",
    )
    # A positional, because argparse gives an option with nargs=REMAINDER nothing after `--`.
    parser.add_argument("exec_command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def exec_command(args: argparse.Namespace) -> list[str] | None:
    """Return the command after `--exec --`, or None when --exec was not given."""
    command = list(args.exec_command)
    if command and command[0] == "--":
        command = command[1:]
    if not args.exec_:
        if command:
            raise UsageError(
                f"unexpected arguments: {' '.join(command)}",
                hint="to run a command with the values, write --exec -- CMD ARGS at the end",
            )
        return None
    if not command:
        raise UsageError("--exec needs a command: --exec -- CMD ARGS")
    if args.export:
        logger.warning("--export is ignored with --exec: the values go to the command only")
    return command


def emit_settings(args: argparse.Namespace) -> EmitSettings:
    """Build EmitSettings from the parsed output options."""
    from keyless.exchange.emit import EmitSettings

    exports = parse_exports(args.export) if args.export else default_exports(ci.detect())
    return EmitSettings(
        exports=exports,
        output=args.output,
        dotenv=args.dotenv_file,
        files_dir=args.files_dir,
        allow_reserved_names=args.allow_reserved_names,
    )


def parse_exports(values: list[str]) -> list[Export]:
    """Parse repeated or comma-separated --export values, keeping their order."""
    exports: list[Export] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                export = Export(name)
            except ValueError:
                raise UsageError(
                    f"--export {name!r} is not an export mode; choose from {', '.join(_EXPORTS)}"
                ) from None
            if export not in exports:
                exports.append(export)
    if Export.SHELL in exports and Export.JSON in exports:
        raise UsageError("--export shell and json both write to --output; choose one")
    return exports
