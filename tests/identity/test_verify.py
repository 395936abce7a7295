"""Token verification against the local issuer's discovery document and JWKS."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keyless.http import RetryPolicy
from keyless.identity import IdentityError
from keyless.identity.token import IdentityToken, make_token
from keyless.identity.verify import Verification, verify
from keyless.secret import Secret
from tests.support.issuer import Issuer, start_issuer


def _token(raw: str) -> IdentityToken:
    return make_token(Secret(raw), "test")


def _failed(result: Verification) -> dict[str, str]:
    return {check.name: check.detail for check in result.failures()}


def test_valid_token_verifies(oidc_issuer: Issuer) -> None:
    result = verify(_token(oidc_issuer.mint(audience="vault")), expected_audience="vault")
    assert result.ok, result.failures()
    assert [check.name for check in result.checks] == [
        "algorithm",
        "issuer",
        "discovery",
        "key",
        "signature",
        "audience",
        "time",
    ]
    assert result.jwks_uri == oidc_issuer.jwks_url
    assert result.clock_skew is not None


def test_wrong_audience(oidc_issuer: Issuer) -> None:
    result = verify(_token(oidc_issuer.mint(audience="vault")), expected_audience="sts")
    assert _failed(result) == {"audience": "the token's audience is vault, not sts"}


def test_audience_list_contains_expected(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint(audience=["vault", "sts"])
    assert verify(_token(raw), expected_audience="sts").ok


def test_expired(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint(issued_at=int(time.time()) - 3600)
    failed = _failed(verify(_token(raw)))
    assert list(failed) == ["time"]
    assert failed["time"].startswith("expired at ")


def test_expired_within_leeway(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint(issued_at=int(time.time()) - 330)
    assert verify(_token(raw), leeway=60).ok


def test_not_yet_valid(oidc_issuer: Issuer) -> None:
    now = int(time.time())
    raw = oidc_issuer.mint({"nbf": now + 600}, issued_at=now)
    failed = _failed(verify(_token(raw)))
    assert list(failed) == ["time"]
    assert "not valid before" in failed["time"]


def test_issued_in_future(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint({"nbf": int(time.time())}, issued_at=int(time.time()) + 900)
    assert "issued in the future" in _failed(verify(_token(raw)))["time"]


def test_wrong_issuer_expected(oidc_issuer: Issuer) -> None:
    result = verify(
        _token(oidc_issuer.mint()),
        expected_issuer="https://token.actions.githubusercontent.com",
    )
    failed = _failed(result)
    assert list(failed) == ["issuer"]
    assert "is not the expected https://token.actions.githubusercontent.com" in failed["issuer"]
    assert oidc_issuer.requests_seen == []


def test_lookalike_issuer_rejected(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint({"iss": "https://token.actions.githubusercontent.com.evil.example"})
    failed = _failed(verify(_token(raw)))
    assert list(failed) == ["issuer"]
    assert "not token.actions.githubusercontent.com" in failed["issuer"]


def test_lookalike_matches_expected_exactly(oidc_issuer: Issuer) -> None:
    lookalike = "https://token.actions.githubusercontent.com.evil.example"
    raw = oidc_issuer.mint({"iss": lookalike})
    result = verify(_token(raw), expected_issuer="https://token.actions.githubusercontent.com")
    assert "issuer" in _failed(result)


def test_plain_http_issuer_rejected(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint({"iss": "http://issuer.example.invalid"})
    failed = _failed(verify(_token(raw)))
    assert "is not an HTTPS URL" in failed["issuer"]


def test_discovery_names_other_issuer(oidc_issuer: Issuer) -> None:
    oidc_issuer.discovery_overrides["issuer"] = oidc_issuer.url + "/"
    failed = _failed(verify(_token(oidc_issuer.mint())))
    assert list(failed) == ["discovery"]
    assert "issuers must match exactly" in failed["discovery"]


def test_unknown_kid(oidc_issuer: Issuer) -> None:
    raw = oidc_issuer.mint(kid="rogue-key")
    failed = _failed(verify(_token(raw)))
    assert list(failed) == ["key"]
    assert "no key with kid rogue-key" in failed["key"]


def test_published_kid_wrong_key(oidc_issuer: Issuer) -> None:
    oidc_issuer.add_key("other-key", publish=False)
    raw = oidc_issuer.mint(kid="other-key")
    forged = ".".join([*_swap_kid(raw, "test-key-1")])
    failed = _failed(verify(_token(forged)))
    assert failed == {"signature": "the signature does not match the issuer's key"}


def _swap_kid(raw: str, kid: str) -> list[str]:
    import base64
    import json

    header_part, payload, signature = raw.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    header["kid"] = kid
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return [encoded, payload, signature]


@pytest.mark.parametrize("alg", ["HS256", "none"])
def test_symmetric_and_none_rejected(oidc_issuer: Issuer, alg: str) -> None:
    raw = oidc_issuer.mint(alg=alg)
    failed = _failed(verify(_token(raw)))
    assert list(failed) == ["algorithm"]
    assert failed["algorithm"].startswith("rejected: ")
    assert oidc_issuer.requests_seen == []


def test_enterprise_server_issuer_path() -> None:
    with start_issuer(issuer_path="/_services/token") as issuer:
        result = verify(_token(issuer.mint()))
        assert result.ok, result.failures()
        assert result.discovery_url == issuer.url + "/.well-known/openid-configuration"
        assert "/_services/token/.well-known/openid-configuration" in issuer.requests_seen


def test_unique_issuer_path() -> None:
    with start_issuer(issuer_path="/octo-enterprise") as issuer:
        result = verify(_token(issuer.mint()), expected_issuer=issuer.url)
        assert result.ok, result.failures()


def test_tls_with_requests_ca_bundle(
    oidc_issuer_tls: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(oidc_issuer_tls.ca_path))
    assert verify(_token(oidc_issuer_tls.mint())).ok


def test_tls_with_ssl_cert_file(oidc_issuer_tls: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # requests gives REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE precedence over SSL_CERT_FILE.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(oidc_issuer_tls.ca_path))
    assert verify(_token(oidc_issuer_tls.mint())).ok


def test_tls_untrusted_ca(oidc_issuer_tls: Issuer, tmp_path: Path) -> None:
    with pytest.raises(IdentityError) as caught:
        verify(_token(oidc_issuer_tls.mint()))
    assert "TLS verification failed" in caught.value.message
    assert oidc_issuer_tls.requests_seen == []
    assert caught.value.hint is not None
    assert "REQUESTS_CA_BUNDLE" in caught.value.hint


def test_unreachable_issuer(oidc_issuer: Issuer) -> None:
    with start_issuer() as stopped:
        url = stopped.url
    raw = oidc_issuer.mint({"iss": url})
    with pytest.raises(IdentityError) as caught:
        verify(_token(raw), retry=RetryPolicy(attempts=2, base_delay=0.01))
    assert "cannot fetch the discovery document" in caught.value.message
