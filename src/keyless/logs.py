"""The package logger: stderr only, level from -v or KEYLESS_LOGLEVEL, values redacted."""

from __future__ import annotations

import logging
import os
import sys

from keyless.secret import redact_text
from keyless.terminal import safe_line

LOGGER_NAME = "keyless"
logger = logging.getLogger(LOGGER_NAME)

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class RedactingFilter(logging.Filter):
    """Render each record once, replace secret values and neutralise CI log commands.

    Messages name paths and values taken from scanned repositories and servers. Each
    line goes through `safe_line`, so that text cannot start a workflow command on
    the runner, which reads stderr too. The line breaks of the message itself stay.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args or isinstance(record.msg, str):
            message = redact_text(record.getMessage())
            record.msg = "\n".join(safe_line(line) for line in message.split("\n"))
            record.args = None
        return True


def level_from(verbosity: int, quiet: bool = False) -> int:
    """Return the log level for -v count and --quiet, falling back to KEYLESS_LOGLEVEL."""
    if quiet:
        return logging.ERROR
    if verbosity >= 2:
        return logging.DEBUG
    if verbosity == 1:
        return logging.INFO
    name = os.environ.get("KEYLESS_LOGLEVEL", "").strip().lower()
    return _LEVELS.get(name, logging.WARNING)


def setup(verbosity: int = 0, quiet: bool = False) -> None:
    """Configure the package logger (never the root logger) to write to stderr."""
    level = level_from(verbosity, quiet)
    logger.setLevel(level)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    fmt = (
        "%(levelname)s: %(message)s"
        if level > logging.DEBUG
        else "%(levelname)s %(name)s: %(message)s"
    )
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.propagate = False
    if os.environ.get("KEYLESS_LOGLEVEL", "").strip().lower() not in ("", *_LEVELS):
        logger.warning(
            "KEYLESS_LOGLEVEL=%s is not a level; use one of %s",
            os.environ["KEYLESS_LOGLEVEL"],
            ", ".join(_LEVELS),
        )
