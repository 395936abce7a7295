"""The shared HTTP client: a requests session with timeouts, User-Agent, CA trust and retries.

HTTP calls made with requests go through `session()` and, where a retry is safe,
`send()`. requests itself honours REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE, and
`session()` adds SSL_CERT_FILE. urllib clients such as PyJWT's JWKS client get the
same CA bundle from `ssl_context()`.
"""

from __future__ import annotations

import email.utils
import os
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from keyless import __version__
from keyless.logs import logger

if TYPE_CHECKING:
    import requests

USER_AGENT = f"keyless/{__version__}"

# Seconds to wait for a connection, then for each read.
DEFAULT_TIMEOUT = (5.0, 30.0)

# Statuses worth a retry: the server or a proxy in front of it failed, or asked
# the client to slow down.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: exponential backoff with full jitter.

    Attempt n (from 1) waits a random time between 0 and
    min(max_delay, base_delay * 2 ** (n - 1)) seconds before the next attempt.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int) -> float:
        """Return the jittered wait in seconds after failed attempt number `attempt`."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def ca_bundle() -> str | None:
    """Return the CA bundle file from REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def ssl_context() -> ssl.SSLContext:
    """Return an SSL context for urllib clients that trusts the same CAs as `session()`."""
    bundle = ca_bundle()
    if bundle is not None:
        return ssl.create_default_context(cafile=bundle)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def session(*, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT) -> requests.Session:
    """Return a requests session with keyless's User-Agent, a default timeout and CA trust.

    A request made without `timeout=` gets `timeout`. TLS verification stays on, with
    the bundle from `ca_bundle()` when the user set one.
    """
    import requests

    class TimeoutSession(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", timeout)
            return super().request(method, url, *args, **kwargs)

    result = TimeoutSession()
    result.headers["User-Agent"] = USER_AGENT
    bundle = ca_bundle()
    if bundle is not None:
        result.verify = bundle
    return result


def send(
    http: requests.Session,
    method: str,
    url: str,
    *,
    label: str,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> requests.Response:
    """Send a request, retrying timeouts, connection errors and RETRY_STATUSES.

    Use it only for requests that are safe to repeat. `label` starts each log line
    ("GitHub: token request"). Returns the last response, whatever its status, and
    raises the last requests exception when every attempt failed without one. TLS
    errors are raised at once, because a retry cannot fix a certificate.
    """
    import requests

    for attempt in range(1, retry.attempts + 1):
        last = attempt == retry.attempts
        try:
            response = http.request(method, url, **kwargs)
        except requests.exceptions.SSLError:
            raise
        except (requests.Timeout, requests.ConnectionError) as exc:
            if last:
                raise
            reason = "timed out" if isinstance(exc, requests.Timeout) else "failed to connect"
        else:
            if response.status_code not in RETRY_STATUSES or last:
                return response
            reason = f"failed with HTTP {response.status_code}"
            response.close()
        wait = retry.delay(attempt)
        logger.warning(
            "%s %s; retrying in %.1fs (attempt %d of %d)",
            label,
            reason,
            wait,
            attempt + 1,
            retry.attempts,
        )
        sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


class ResponseTooLarge(Exception):
    """A response body was longer than the caller allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the response is larger than {describe_size(limit)}")
        self.limit = limit


def describe_size(size: int) -> str:
    """Return a byte count as "64 KiB", "1 MiB" or "512 bytes"."""
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def read_limited(response: requests.Response, limit: int) -> bytes:
    """Return the body of a response sent with `stream=True`, reading at most `limit` bytes.

    Raises ResponseTooLarge as soon as the body (after content decoding, so a
    compressed body cannot expand past the limit either) or its declared
    Content-Length exceeds `limit`.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(limit)
    body = bytearray()
    # TODO: bound the total read time too. The session's read timeout applies per
    # read, so a server that sends a byte every few seconds can stall the read.
    for chunk in response.iter_content(chunk_size=64 * 1024):
        body += chunk
        if len(body) > limit:
            raise ResponseTooLarge(limit)
    return bytes(body)


def server_time(response: requests.Response) -> datetime | None:
    """Return the time in the response's `Date` header, or None when it is missing or invalid."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def clock_skew(response: requests.Response, sent_at: float, received_at: float) -> float | None:
    """Return how many seconds the local clock runs ahead of the server's, or None.

    The server's `Date` is truncated to the second, so the server's time is taken as
    that second plus half a second and compared with the midpoint of the request. The
    result is accurate to about half a second plus half the round trip.
    """
    server = server_time(response)
    if server is None:
        return None
    midpoint = (sent_at + received_at) / 2
    return midpoint - (server.timestamp() + 0.5)
