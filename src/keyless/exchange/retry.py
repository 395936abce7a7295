"""Retrying a request with jittered exponential backoff under an overall deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from keyless.logs import logger

T = TypeVar("T")


class Retryable(Exception):
    """Raised by an attempt that failed in a way worth retrying; `reason` is logged."""

    def __init__(self, reason: str, last: object = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.last = last


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: full jitter over base * 2**attempt, capped at `maximum`.

    Retrying stops when the next delay would pass `deadline` seconds after the first
    attempt began; the last failure is then returned to the caller.
    """

    base: float = 0.25
    maximum: float = 8.0
    deadline: float = 60.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.maximum, self.base * 2**attempt))  # noqa: S311


def call_with_retry(
    attempt: Callable[[], T],
    *,
    backoff: Backoff,
    describe: str,
    on_give_up: Callable[[Retryable], T],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call `attempt` until it returns, retrying each Retryable it raises.

    When the deadline leaves no time for another attempt, returns
    `on_give_up(last Retryable)`, which usually raises the caller's own error.
    """
    started = time.monotonic()
    number = 0
    while True:
        try:
            return attempt()
        except Retryable as exc:
            delay = backoff.delay(number)
            elapsed = time.monotonic() - started
            if elapsed + delay > backoff.deadline:
                logger.warning(
                    "%s: giving up after %d attempts in %.1f s: %s",
                    describe,
                    number + 1,
                    elapsed,
                    exc.reason,
                )
                return on_give_up(exc)
            logger.warning("%s: %s; retry %d in %.2f s", describe, exc.reason, number + 1, delay)
            sleep(delay)
            number += 1
