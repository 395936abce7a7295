"""HTTP for the cloud exchanges: one session, timeouts, and retries with jittered backoff.

Only failures that the target marks as transient (throttling, an issuer it could not
reach, a 5xx) are retried. A rejected token or a bad option fails on the first
answer, because retrying a misconfiguration only makes it fail slowly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from keyless import __version__
from keyless.exchange.refusal import ExchangeError, TransientError
from keyless.logs import logger

if TYPE_CHECKING:
    import requests

# TODO: unify with the shared keyless.http session once it lands.
USER_AGENT = f"keyless/{__version__}"
DEFAULT_TIMEOUT = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before retrying a transient failure.

    The delay before retry n (from 0) is drawn uniformly from
    [0, min(max_delay, base_delay * 2**n)] seconds ("full jitter"), so parallel
    jobs that were throttled together do not retry together.
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, retry: int) -> float:
        """Return the seconds to wait before retry number `retry` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        # Jitter spreads retries; it needs no cryptographic randomness.
        return random.uniform(0, ceiling)  # noqa: S311


def with_retries(call: Callable[[], T], policy: RetryPolicy, target: str) -> T:
    """Return `call()`, retrying it on TransientError as `policy` allows."""
    for retry in range(policy.attempts):
        try:
            return call()
        except TransientError as exc:
            if retry + 1 >= policy.attempts:
                raise
            wait = policy.delay(retry)
            logger.warning(
                "%s: %s; retrying in %.1f s (attempt %d of %d)",
                target,
                exc.message,
                wait,
                retry + 2,
                policy.attempts,
            )
            policy.sleep(wait)
    raise AssertionError("RetryPolicy.attempts must be at least 1")


def session() -> requests.Session:
    """Return a requests session with keyless's User-Agent; TLS verification stays on."""
    import requests

    http = requests.Session()
    http.headers["User-Agent"] = USER_AGENT
    return http


def post(
    http: requests.Session,
    url: str,
    target: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> requests.Response:
    """POST to `url`, turning connection failures into an ExchangeError that names it."""
    import requests

    try:
        return http.post(url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise TransientError(f"{target}: no response from {url} within {timeout:g} s") from exc
    except requests.ConnectionError as exc:
        raise ExchangeError(
            f"{target}: cannot connect to {url}: {type(exc).__name__}",
            hint="check the endpoint option and the job's network and proxy settings",
        ) from exc
