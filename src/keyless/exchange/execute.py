"""Run a command with exchanged values in its environment only (`--exec -- CMD ARGS`)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from keyless.errors import Error
from keyless.exchange.emit import Output, check_names, mask
from keyless.logs import logger

# Signals a CI runner or a user sends to stop a job, passed on to the command as
# `_signals_to_forward` decides.
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
# Signals a terminal sends to its whole foreground process group, the command included.
_FROM_TERMINAL = (signal.SIGINT, signal.SIGQUIT)


class CommandError(Error):
    """The command given to --exec could not be started."""

    exit_code = 127


class CommandNotExecutableError(CommandError):
    """The command given to --exec exists but cannot be executed (exit 126, as in a shell)."""

    exit_code = 126


def run_command(
    command: Sequence[str],
    outputs: Sequence[Output],
    *,
    on_exit: Callable[[], None],
    allow_reserved_names: bool = False,
) -> int:
    """Run `command` with `outputs` added to its environment and return its exit code.

    Values are masked first. The signals in _FORWARDED are passed on to the command
    while it runs, except those a terminal already sent it (see `_signals_to_forward`).
    `on_exit` (the revocation) runs when the command has exited, also when it could
    not start. A command killed by signal N returns 128 + N, as a shell reports it.
    """
    check_names(outputs, allow_reserved=allow_reserved_names)
    mask(outputs)
    environment = dict(os.environ)
    environment.update({output.name: output.value.reveal() for output in outputs})
    try:
        try:
            process = subprocess.Popen(list(command), env=environment)
        except OSError as exc:
            raise _start_error(command[0], exc) from exc
        returncode = _wait_forwarding(process)
    finally:
        on_exit()
    if returncode < 0:
        return 128 - returncode
    return returncode


def _start_error(program: str, exc: OSError) -> CommandError:
    if exc.errno == errno.E2BIG:
        return CommandError(
            f"{program}: cannot run the command: its arguments and environment are too large "
            "for the system",
            hint="the values exported into the environment are too large; write the large "
            "ones to files with --export files instead of --exec",
        )
    if exc.errno in (errno.EACCES, errno.ENOEXEC, errno.EISDIR):
        return CommandNotExecutableError(
            f"{program}: cannot run the command: {exc.strerror}",
            hint="check that the file is an executable program or script (chmod +x, and "
            "a #! line for scripts)",
        )
    return CommandError(
        f"{program}: cannot run the command: {exc.strerror}",
        hint="check the command after `--exec --` and that it is on PATH",
    )


def _in_terminal_foreground() -> bool:
    """Return True when this process is in its terminal's foreground process group.

    The command runs in this process group, so it then gets the terminal's SIGINT
    (Ctrl-C) and SIGQUIT itself.
    """
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            descriptor = stream.fileno()
            if os.isatty(descriptor):
                return os.tcgetpgrp(descriptor) == os.getpgrp()
        except (AttributeError, OSError, ValueError):
            continue
    return False


def _signals_to_forward() -> tuple[signal.Signals, ...]:
    """Return the signals to pass on: all of _FORWARDED, or without SIGINT and SIGQUIT.

    With a terminal in the foreground, Ctrl-C reaches the command directly, and
    forwarding it as well would deliver it twice. A SIGINT sent to keyless alone
    (`kill -INT PID`) then does not reach the command, but SIGTERM always does.
    """
    if _in_terminal_foreground():
        return tuple(signum for signum in _FORWARDED if signum not in _FROM_TERMINAL)
    return _FORWARDED


def _wait_forwarding(process: subprocess.Popen[bytes]) -> int:
    def forward(signum: int, frame: FrameType | None) -> None:
        logger.info("passing signal %s on to the command", signal.Signals(signum).name)
        process.send_signal(signum)

    def ignore(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        logger.info("%s reached the command from the terminal too; not passing it on", name)

    forwarded = _signals_to_forward()
    previous: dict[signal.Signals, Any] = {}
    for signum in _FORWARDED:
        handler = forward if signum in forwarded else ignore
        previous[signum] = signal.signal(signum, handler)
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
