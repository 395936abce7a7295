"""Options and hand-off shared by the cloud exchange commands: aws, gcp and azure.

Each command exchanges the token, then hands its values over in one of two ways.
Without --exec the values go through `emit` to the exports, and any credentials
or token file is written 0600 into a new private folder under the state folder,
recorded so that `keyless revoke` deletes it. With --exec the values go only to
the command's environment, and the folder is deleted when the command exits.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from keyless.commands.exporting import add_export_options, emit_settings, exec_command
from keyless.commands.options import add_option
from keyless.errors import UsageError
from keyless.exchange.emit import FILE_KIND, EmitSettings, Output, emit, preflight
from keyless.exchange.state import State, private_subdir, state_dir, write_private
from keyless.identity import IdentityToken, obtain_token
from keyless.identity.options import add_token_options
from keyless.logs import logger
from keyless.secret import Secret


def add_exchange_options(parser: argparse.ArgumentParser, default_audience: str | None) -> None:
    """Add the options every cloud command shares: token source, --audience, exports."""
    group = parser.add_argument_group("identity token")
    add_token_options(group)
    default_text = default_audience or "derived from the provider"
    add_option(
        group,
        "--audience",
        metavar="AUD",
        default=default_audience,
        help=f"audience to request the CI token with (default: {default_text})",
    )
    add_export_options(parser)


def require(value: str | None, flag: str, variable: str) -> str:
    """Return `value`, or raise UsageError naming the flag and its variable when unset."""
    if not value:
        raise UsageError(f"{flag} is required", hint=f"pass {flag} or set {variable}")
    return value


def read_token(args: argparse.Namespace, audience: str) -> IdentityToken:
    """Return the job's identity token for `audience` from the configured source."""
    return obtain_token(audience, token_env=args.token_env, token_file=args.token_file)


def public(name: str, value: str) -> Output:
    """Return an output that is not a secret, neither masked nor redacted from logs."""
    # A word such as "default" or a region would otherwise be blanked out of every
    # later log line by the redaction of Secret values.
    return Output(name, Secret(value, redact_in_logs=False), masked=False)


def token_lifetime(token: IdentityToken) -> int | None:
    """Return the seconds until the token's `exp`, or None when it has none."""
    exp = token.claims.get("exp")
    if not isinstance(exp, (int, float)):
        return None
    return int(exp - datetime.now(timezone.utc).timestamp())


def warn_token_file_lifetime(target: str, token: IdentityToken, path: Path) -> None:
    """Log when the token written to `path` expires, since SDKs re-read it to refresh."""
    remaining = token_lifetime(token)
    if remaining is None:
        return
    logger.warning(
        "%s: the identity token in %s expires in %d s; SDKs that read it can refresh "
        "credentials only until then",
        target,
        path,
        max(remaining, 0),
    )


class PrivateFiles:
    """A new 0700 folder for credentials and token files of one exchange."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    def write(self, name: str, content: str) -> Path:
        """Write `content` to a 0600 file `name` in the folder and return its path."""
        path = self.directory / name
        write_private(path, content)
        self.written.append(path)
        return path


MakeOutputs = Callable[[PrivateFiles], list[Output]]


@dataclass(frozen=True)
class HandOffPlan:
    """The parsed output options, checked before the exchange so a typo fails fast."""

    command: list[str] | None
    settings: EmitSettings | None
    directory: Path


def plan_hand_off(args: argparse.Namespace) -> HandOffPlan:
    """Parse --exec and the export options, check them, and create the state folder."""
    command = exec_command(args)
    settings = emit_settings(args) if command is None else None
    if settings is not None:
        preflight(settings)
    return HandOffPlan(command, settings, state_dir(args.state_dir))


def hand_off(plan: HandOffPlan, target: str, make_outputs: MakeOutputs) -> int:
    """Write files and export outputs, or run the --exec command with them; return the code.

    `make_outputs` receives the private folder to write credentials files into and
    returns the values to hand over. When writing or exporting fails, the folder is
    removed again.
    """
    from keyless.exchange.execute import run_command

    with State.open(plan.directory) as state:
        folder = private_subdir(plan.directory, f"{target}-")
        entry = state.add(FILE_KIND, path=str(folder), directory=True)
        files = PrivateFiles(folder)
        try:
            outputs = make_outputs(files)
            if plan.settings is not None:
                emit(outputs, plan.settings, state)
        except BaseException:
            _remove_folder(state, entry)
            raise
        if not files.written:
            _remove_folder(state, entry)
    if plan.command is None:
        return 0

    def cleanup() -> None:
        if not files.written:
            return
        with State.open(plan.directory) as state:
            _remove_folder(state, entry)

    return run_command(plan.command, outputs, on_exit=cleanup)


def _remove_folder(state: State, entry: dict[str, Any]) -> None:
    from keyless.exchange.cleanup import undo

    for failure in undo(state, {str(entry["id"])}):
        logger.error("%s", failure)
