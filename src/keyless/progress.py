"""A progress bar on stderr for long scans: done/total, rate and time left.

It draws only when stderr is a terminal, outside CI, and when logging is not quiet,
so CI logs and redirected output never contain it.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

from keyless.logs import logger

# Redraw at most this often, in seconds, so drawing costs nothing next to scanning.
_REDRAW_INTERVAL = 0.1
_BAR_WIDTH = 24


def wanted(stream: TextIO | None = None) -> bool:
    """Return whether a progress bar should be drawn on `stream` (default: stderr)."""
    target = stream if stream is not None else sys.stderr
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    if logger.getEffectiveLevel() > logging.WARNING:
        return False
    isatty = getattr(target, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Count units of work and redraw one status line; `close` clears it."""

    def __init__(
        self,
        total: int,
        unit: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.total = total
        self.unit = unit
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = wanted(self.stream) if enabled is None else enabled
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def advance(self, count: int = 1) -> None:
        """Add `count` finished units and redraw when the last draw is old enough."""
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn >= _REDRAW_INTERVAL or self.done >= self.total:
            self._drawn = now
            self._draw(self.line(now - self._started))

    def line(self, elapsed: float) -> str:
        """Return the status line after `elapsed` seconds."""
        done = min(self.done, self.total)
        fraction = done / self.total if self.total else 1.0
        filled = int(fraction * _BAR_WIDTH)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        rate = done / elapsed if elapsed > 0 else 0.0
        if rate > 0 and done < self.total:
            remaining = f"ETA {_duration((self.total - done) / rate)}"
        else:
            remaining = f"in {_duration(elapsed)}"
        return f"[{bar}] {done}/{self.total} {self.unit}, {rate:,.0f}/s, {remaining}"

    def close(self) -> None:
        """Erase the status line."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        padding = " " * max(0, self._width - len(text))
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self._width = len(text)


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
