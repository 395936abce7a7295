"""The `keyless` command line: parse arguments, set up logging, dispatch, map errors.

Each subcommand lives in its own module under keyless.commands, with
`add_arguments(parser)` and `run(args) -> int`. Command modules import heavy
libraries inside `run`, so `keyless --help` and small scans start fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from keyless import __version__, logs
from keyless.commands.options import check_environment
from keyless.errors import Error, ExitCode, UsageError
from keyless.logs import logger

# Subcommand name -> (module, one-line help). Order is the order of `keyless --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("keyless.commands.scan", "find static secrets in files, staged changes or history"),
    "token": ("keyless.commands.token", "show, verify and check the CI job's OIDC token"),
    "audit": ("keyless.commands.audit", "audit CI pipeline configuration for credential hygiene"),
    "vault": ("keyless.commands.vault", "log in to Vault with the CI token and read secrets"),
    "aws": ("keyless.commands.aws", "exchange the CI token for temporary AWS credentials"),
    "gcp": ("keyless.commands.gcp", "exchange the CI token for a Google Cloud access token"),
    "azure": ("keyless.commands.azure", "exchange the CI token for an Entra ID access token"),
    "revoke": ("keyless.commands.revoke", "revoke what keyless issued and delete its files"),
    "install-hooks": (
        "keyless.commands.install_hooks",
        "install git pre-commit and pre-push hooks",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser; only `command`'s subparser gets its full options.

    The other commands get a bare subparser that lists them in `keyless --help`,
    so a run imports and builds the options of the command it runs and no other.
    With `command=None` every subparser is built in full.
    """
    parser = argparse.ArgumentParser(
        prog="keyless",
        description="CI/CD credential hygiene: exchange CI identity tokens for short-lived "
        "credentials, and find the static secrets that remain.",
        epilog="Every option also reads its default from an environment variable, shown in "
        "its help. Exit codes: 0 clean, 1 findings, 2 usage or configuration error, "
        "3 internal error, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"keyless {__version__}")
    _add_verbosity(parser, 0)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if command is not None and name != command:
            subparsers.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(
            name, help=help_text, description=_description(module, help_text)
        )
        _add_verbosity(sub, argparse.SUPPRESS)
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def _reject_option_like_files(arguments: Sequence[str]) -> None:
    """Raise UsageError when an option before `--` is also the name of an existing file.

    Tools such as pre-commit append file names to the command line. A committed file
    named `--fail-on=never` would otherwise switch the scan's gate off, so such an
    argument is refused rather than read as an option or as a path.
    """
    for argument in arguments:
        if argument == "--":
            return
        if argument.startswith("-") and len(argument) > 1 and os.path.lexists(argument):
            raise UsageError(
                f"{argument!r} is both an option and the name of an existing file, so "
                "keyless cannot tell which it is",
                hint=f"rename the file, or pass it after `--` or as ./{argument}",
            )


def _command_in(arguments: Sequence[str]) -> str:
    """Return the subcommand named in `arguments`, or "" when there is none.

    The options before a subcommand (-v, -q, --version, --help) take no values, so
    the first argument that is not an option is the subcommand.
    """
    for argument in arguments:
        if argument == "--":
            break
        if not argument.startswith("-"):
            return argument
    return ""


def _description(module: ModuleType, fallback: str) -> str:
    doc = (module.__doc__ or "").strip()
    return doc or fallback


def _add_verbosity(parser: argparse.ArgumentParser, default: object) -> None:
    group = parser.add_argument_group("logging")
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="log more to stderr: -v for progress, -vv for debug (env: KEYLESS_LOGLEVEL)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="log errors only, and no progress bar",
    )


def script() -> NoReturn:
    """Run the `keyless` command, then end the process with its exit code.

    Once output is flushed and exit handlers have run, the process ends at once,
    without tearing down the interpreter object by object. After a history scan has
    forked its workers, every object sits on a copy-on-write page, and that teardown
    cost about 20 ms of a 0.35 s scan (docs/benchmarks.md).
    """
    code = main()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    # Exit handlers include logging's, which flushes the log handlers.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            # The reader may be gone (`keyless scan | head`); nothing is left to tell it.
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run keyless with `argv` (default: sys.argv) and return the exit code."""
    try:
        arguments = sys.argv[1:] if argv is None else list(argv)
        _reject_option_like_files(arguments)
        parser = build_parser(_command_in(arguments))
        args = parser.parse_args(arguments)
    except Error as exc:
        logs.setup()
        logger.error("%s", exc.diagnostics())
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    logs.setup(args.verbose, args.quiet)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        check_environment(args)
        return int(args._module.run(args))
    except Error as exc:
        logger.error("%s", exc.diagnostics())
        return exc.exit_code
    except KeyboardInterrupt:
        logger.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (for example `keyless scan | head`). Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:
        logger.error(
            "internal error: %s: %s. This is a bug in keyless; rerun with -v for the traceback "
            "and report it.",
            type(exc).__name__,
            exc,
            exc_info=args.verbose > 0,
        )
        return ExitCode.INTERNAL
