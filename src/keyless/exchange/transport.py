"""Retries for the cloud exchanges, on the shared HTTP session of keyless.http.

keyless.http.send retries by HTTP status, but STS reports throttling and an
unreachable issuer as HTTP 400 with an error code in its XML. So each exchange
decides from the parsed response whether a failure is transient (raising
TransientError), and `with_retries` retries only those, with the shared
jittered backoff. A rejected token or a bad option fails on the first response,
because retrying a misconfiguration only makes it fail slowly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from keyless.exchange.refusal import ExchangeError, TransientError
from keyless.http import RetryPolicy
from keyless.logs import logger

if TYPE_CHECKING:
    import requests

T = TypeVar("T")


def with_retries(call: Callable[[], T], policy: RetryPolicy, sleep: Callable[[float], None]) -> T:
    """Return `call()`, retrying it on TransientError as `policy` allows.

    Each TransientError message starts with the target's name, and so do the retry log
    lines. When every attempt failed, raises an ExchangeError with the number of attempts.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except TransientError as exc:
            if attempt == policy.attempts:
                raise ExchangeError(
                    f"{exc.message} (gave up after {policy.attempts} attempts)", hint=exc.hint
                ) from exc
            wait = policy.delay(attempt)
            logger.warning(
                "%s; retrying in %.1f s (attempt %d of %d)",
                exc.message,
                wait,
                attempt + 1,
                policy.attempts,
            )
            sleep(wait)
    raise AssertionError("RetryPolicy.attempts must be at least 1")


def post(http: requests.Session, url: str, target: str, **kwargs: Any) -> requests.Response:
    """POST once to `url`; a timeout is transient, any other connection failure is not.

    A refused connection or an unknown host means a wrong endpoint, so it fails
    at once with the URL in the message.
    """
    import requests

    try:
        return http.post(url, allow_redirects=False, **kwargs)
    except requests.Timeout as exc:
        raise TransientError(f"{target}: no response from {url} in time") from exc
    except requests.ConnectionError as exc:
        raise ExchangeError(
            f"{target}: cannot connect to {url}: {type(exc).__name__}",
            hint="check the endpoint option and the job's network and proxy settings",
        ) from exc
