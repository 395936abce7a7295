"""AWS Signature Version 4 for one kind of request: a form POST to an AWS query API.

keyless signs exactly one request, the STS AssumeRole call of role chaining, so
this module implements the published algorithm for that shape (no query string, a
form body, session credentials) instead of depending on botocore. The tests check
its signatures against botocore's SigV4Auth for the same request.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlsplit

from keyless.secret import Secret

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _signing_key(secret_key: Secret, date: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret_key.reveal()).encode("utf-8"), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def sign_form_post(
    url: str,
    body: bytes,
    *,
    access_key_id: Secret,
    secret_access_key: Secret,
    session_token: Secret | None,
    region: str,
    service: str,
    now: datetime,
    content_type: str = "application/x-www-form-urlencoded; charset=utf-8",
) -> dict[str, str]:
    """Return the headers that sign a POST of `body` to `url` (which has no query string).

    `now` must be in UTC. The returned headers include Authorization, X-Amz-Date,
    Content-Type, and X-Amz-Security-Token when a session token is given.
    """
    parts = urlsplit(url)
    if parts.query:
        raise ValueError("sign_form_post signs URLs without a query string")
    host = parts.netloc.lower()
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    headers = {"content-type": content_type, "host": host, "x-amz-date": amz_date}
    if session_token is not None:
        headers["x-amz-security-token"] = session_token.reveal()
    signed_headers = ";".join(sorted(headers))
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in sorted(headers))
    canonical_request = "\n".join(
        [
            "POST",
            quote(parts.path or "/", safe="/~"),
            "",
            canonical_headers,
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _signing_key(secret_access_key, date, region, service)
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    result = {
        "Content-Type": content_type,
        "X-Amz-Date": amz_date,
        "Authorization": (
            f"{ALGORITHM} Credential={access_key_id.reveal()}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
    }
    if session_token is not None:
        result["X-Amz-Security-Token"] = session_token.reveal()
    return result
