"""GitHub Actions workflow commands and environment files."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from keyless.secret import Secret


def in_actions() -> bool:
    """Return whether this process runs in a GitHub Actions job."""
    return os.environ.get("GITHUB_ACTIONS") == "true"


def add_mask(secret: Secret, stream: TextIO | None = None) -> None:
    """Register every line of the value with the runner's log masking, on stdout.

    The runner masks per line, so each line of a multi-line value is registered too.
    Does nothing outside GitHub Actions. The runner reads workflow commands from
    stderr as well, so a command whose stdout is machine-readable output passes
    `stream=sys.stderr`.
    """
    if not in_actions():
        return
    out = stream or sys.stdout
    value = secret.reveal()
    lines = [value, *value.splitlines()] if "\n" in value or "\r" in value else [value]
    for line in lines:
        if line.strip():
            out.write(f"::add-mask::{escape_data(line)}\n")
    out.flush()


def escape_data(value: str) -> str:
    """Escape a workflow command's message part: %, CR and LF."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow command's property value: %, CR, LF, ':' and ','."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")
