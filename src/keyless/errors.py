"""The error hierarchy: user errors carry their fix, everything else is a bug."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes shared by every command."""

    OK = 0
    FINDINGS = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130


class Error(Exception):
    """An error the user can fix: a bad flag, a missing file, a refused exchange.

    The CLI catches this base class only, prints the message and `diagnostics()`,
    and exits with `exit_code`. Anything else that escapes a command is a bug.
    """

    exit_code: int = ExitCode.USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        """Return the message and, when known, what to do about it."""
        if self.hint:
            return f"{self.message}\nTip: {self.hint}"
        return self.message


class UsageError(Error):
    """Invalid command-line input."""


class ConfigError(Error):
    """An invalid or unreadable configuration or baseline file."""
