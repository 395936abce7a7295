"""Run a command with exchanged values in its environment only (`--exec -- CMD ARGS`)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from types import FrameType

from keyless.errors import Error
from keyless.exchange.emit import Output, check_names, mask
from keyless.logs import logger

# Signals a CI runner or a user sends to stop a job; each is passed on to the command.
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class CommandError(Error):
    """The command given to --exec could not be started."""

    exit_code = 127


def run_command(
    command: Sequence[str], outputs: Sequence[Output], *, on_exit: Callable[[], None]
) -> int:
    """Run `command` with `outputs` added to its environment and return its exit code.

    Values are masked first. The signals in _FORWARDED are passed on to the command
    while it runs. `on_exit` (the revocation) runs when the command has exited,
    also when it could not start. A command killed by signal N returns 128 + N, as
    a shell reports it.
    """
    check_names(outputs)
    mask(outputs)
    environment = dict(os.environ)
    environment.update({output.name: output.value.reveal() for output in outputs})
    try:
        try:
            process = subprocess.Popen(list(command), env=environment)
        except OSError as exc:
            raise CommandError(
                f"{command[0]}: cannot run the command: {exc.strerror}",
                hint="check the command after `--exec --` and that it is on PATH",
            ) from exc
        returncode = _wait_forwarding(process)
    finally:
        on_exit()
    if returncode < 0:
        return 128 - returncode
    return returncode


def _wait_forwarding(process: subprocess.Popen[bytes]) -> int:
    def forward(signum: int, frame: FrameType | None) -> None:
        logger.info("passing signal %s on to the command", signal.Signals(signum).name)
        process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in _FORWARDED}
    try:
        return process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
