"""SIGTERM as an exception, so that cleanup code runs as it does for Ctrl-C."""

from __future__ import annotations

import signal
import threading
from typing import Any

# The signal number the handler last turned into SystemExit, or None.
received: int | None = None


def exit_on_sigterm() -> Any:
    """Make SIGTERM raise SystemExit, so cleanup runs; return the previous handler.

    Only the main thread can set handlers; elsewhere nothing changes and None returns.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    global received
    received = signum
    raise SystemExit(128 + signum)


def lost_interrupt() -> BaseException:
    """Return the exception a signal handler most likely raised, when it was lost.

    For C code that replaces an exception raised in a Python callback with its own:
    SystemExit after a SIGTERM this handler took, or else KeyboardInterrupt.
    """
    return SystemExit(128 + received) if received is not None else KeyboardInterrupt()
