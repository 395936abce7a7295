"""The shared HTTP client: retry policy, CA bundle choice and clock skew."""

from __future__ import annotations

import time

import pytest
import requests

from keyless import http
from tests.support.issuer import start_issuer


def test_retry_delay_bounds() -> None:
    policy = http.RetryPolicy(attempts=5, base_delay=0.5, max_delay=2.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 2.0)]:
        for _ in range(50):
            assert 0 <= policy.delay(attempt) <= ceiling


def test_ca_bundle_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert http.ca_bundle() is None
    monkeypatch.setenv("SSL_CERT_FILE", "/ssl.pem")
    assert http.ca_bundle() == "/ssl.pem"
    monkeypatch.setenv("CURL_CA_BUNDLE", "/curl.pem")
    assert http.ca_bundle() == "/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/requests.pem")
    assert http.ca_bundle() == "/requests.pem"


def test_session_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", "/ssl.pem")
    session = http.session()
    assert session.headers["User-Agent"] == http.USER_AGENT
    assert session.verify == "/ssl.pem"


def test_send_retries_connection_errors() -> None:
    with start_issuer() as stopped:
        url = stopped.discovery_url
    waits: list[float] = []
    policy = http.RetryPolicy(attempts=3, base_delay=0.01)
    with pytest.raises(requests.ConnectionError):
        http.send(http.session(), "GET", url, label="test", retry=policy, sleep=waits.append)
    assert len(waits) == 2


def test_send_returns_last_5xx() -> None:
    with start_issuer() as issuer:
        issuer.token_failures.extend([503, 503])
        policy = http.RetryPolicy(attempts=2, base_delay=0.01)
        response = http.send(
            http.session(), "GET", issuer.token_request_url, label="test", retry=policy
        )
        assert response.status_code == 503
        assert len(issuer.token_requests) == 2


def test_clock_skew_from_date_header() -> None:
    with start_issuer() as issuer:
        issuer.date_offset = 30.0
        sent = time.time()
        response = http.session().get(issuer.jwks_url)
        skew = http.clock_skew(response, sent, time.time())
    assert skew is not None
    assert -31.5 < skew < -28.5
