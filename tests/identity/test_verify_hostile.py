"""Hostile tokens and issuers: every malformed input fails a check, none raises.

Each table row is one header, claim set, discovery document or JWKS that a broken
or malicious token or issuer could send.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest

from keyless.identity.token import make_token
from keyless.identity.verify import MAX_DOCUMENT_BYTES, Verification, verify
from keyless.secret import Secret
from tests.support.issuer import DEFAULT_KID, DISCOVERY_SUFFIX, JWKS_PATH, Issuer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(issuer: Issuer, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """Return a JWT with the issuer's usual claims and header, changed as given, unsigned.

    The signature is random bytes: these tokens must fail before or at the signature.
    """
    full_header: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": DEFAULT_KID, **header}
    full_claims = {**issuer.claims(), **claims}
    return ".".join(
        [
            _b64(json.dumps(full_header).encode()),
            _b64(json.dumps(full_claims).encode()),
            _b64(secrets.token_bytes(256)),
        ]
    )


def _failed(result: Verification) -> dict[str, str]:
    return {check.name: check.detail for check in result.failures()}


def _verify(raw: str) -> Verification:
    return verify(make_token(Secret(raw), "test"))


HOSTILE_TOKENS = [
    pytest.param({"alg": "ES256"}, {}, "key", "needs an EC key", id="es256-header-rsa-key"),
    pytest.param({"alg": "ES512"}, {}, "key", "needs an EC key", id="es512-header-rsa-key"),
    pytest.param({"alg": "PS256"}, {}, "key", "it is for 'RS256'", id="ps256-header-rs256-key"),
    pytest.param({"alg": ["RS256"]}, {}, "algorithm", "not an algorithm", id="alg-list"),
    pytest.param({"alg": None}, {}, "algorithm", "not an algorithm", id="alg-null"),
    pytest.param({"kid": 42}, {}, "key", "no kid string", id="kid-number"),
    pytest.param({"kid": {"a": 1}}, {}, "key", "no kid string", id="kid-object"),
    pytest.param({"kid": "missing"}, {}, "key", "no key with kid missing", id="kid-unknown"),
    pytest.param({}, {"iss": ["https://a.example"]}, "issuer", "not a string", id="iss-list"),
    pytest.param({}, {"iss": 7}, "issuer", "not a string", id="iss-number"),
    pytest.param({}, {"iss": "https://["}, "issuer", "can parse or show", id="iss-bad-ipv6"),
    pytest.param({}, {"iss": "https://"}, "issuer", "names no host", id="iss-no-host"),
    pytest.param(
        {},
        {"iss": "https://a.example/\n::error::x"},
        "issuer",
        "can parse or show",
        id="iss-newline",
    ),
    pytest.param({}, {"iss": ""}, "issuer", "no iss claim", id="iss-empty"),
]


@pytest.mark.parametrize(("header", "claims", "check", "text"), HOSTILE_TOKENS)
def test_hostile_token_fails_a_check(
    oidc_issuer: Issuer, header: dict[str, Any], claims: dict[str, Any], check: str, text: str
) -> None:
    failed = _failed(_verify(forge(oidc_issuer, header, claims)))
    assert list(failed) == [check]
    assert text in failed[check]


def _rsa_jwk(**changes: Any) -> dict[str, Any]:
    return {"kid": DEFAULT_KID, "kty": "RSA", "n": "AQAB", "e": "AQAB", **changes}


HOSTILE_JWKS = [
    pytest.param(b'{"keys": []}', "no key with kid", id="no-keys"),
    pytest.param(b'{"keys": "x"}', "no `keys` array", id="keys-string"),
    pytest.param(b'{"keys": {"kid": "test-key-1"}}', "no `keys` array", id="keys-object"),
    pytest.param(b"[]", "no `keys` array", id="array"),
    pytest.param(b"NaN", "no `keys` array", id="nan"),
    pytest.param(b'{"keys": [1, "a", null, []]}', "no key with kid", id="keys-not-objects"),
    pytest.param(b"not json", "did not return JSON", id="not-json"),
    pytest.param(b"\xff\xfe{", "did not return JSON", id="not-utf8"),
    pytest.param(b"[" * 100_000, "did not return JSON", id="nested-too-deep"),
    pytest.param(
        json.dumps({"keys": [_rsa_jwk(n=1, e=2)]}).encode(),
        "not a valid RSA public key",
        id="numbers-not-base64",
    ),
    pytest.param(
        json.dumps({"keys": [_rsa_jwk(n="", e="")]}).encode(),
        "not a valid RSA public key",
        id="empty-modulus",
    ),
    pytest.param(
        json.dumps({"keys": [_rsa_jwk(kty="EC", crv="P-256", x="AA", y="AA")]}).encode(),
        "needs an RSA key",
        id="ec-key-for-rs256",
    ),
    pytest.param(
        json.dumps({"keys": [_rsa_jwk(use="enc")]}).encode(), "its use is 'enc'", id="use-enc"
    ),
    pytest.param(
        json.dumps({"keys": [_rsa_jwk(alg="HS256")]}).encode(), "it is for 'HS256'", id="alg-hs256"
    ),
]


@pytest.mark.parametrize(("body", "text"), HOSTILE_JWKS)
def test_hostile_jwks_fails_key_check(oidc_issuer: Issuer, body: bytes, text: str) -> None:
    oidc_issuer.raw_bodies[JWKS_PATH] = body
    failed = _failed(_verify(oidc_issuer.mint()))
    assert list(failed) == ["key"]
    assert text in failed["key"]


def test_es256_key_does_not_check_rs256_signature(oidc_issuer: Issuer) -> None:
    """A P-256 key under the token's kid, for a token whose header claims ES256."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    jwk = {**ECAlgorithm.to_jwk(public, as_dict=True), "kid": DEFAULT_KID}
    oidc_issuer.raw_bodies[JWKS_PATH] = json.dumps({"keys": [jwk]}).encode()
    failed = _failed(_verify(forge(oidc_issuer, {"alg": "ES256"}, {})))
    assert list(failed) == ["signature"]


HOSTILE_DISCOVERY = [
    pytest.param(lambda url: b"[]", "not return a JSON object", id="array"),
    pytest.param(lambda url: b"{", "did not return JSON", id="truncated"),
    pytest.param(
        lambda url: json.dumps({"issuer": url, "jwks_uri": 5}).encode(),
        "has no jwks_uri",
        id="jwks-uri-number",
    ),
    pytest.param(
        lambda url: json.dumps({"issuer": url, "jwks_uri": "http://[::1"}).encode(),
        "is not an HTTPS URL",
        id="jwks-uri-bad-ipv6",
    ),
    pytest.param(
        lambda url: json.dumps({"issuer": url, "jwks_uri": url + "/k\n::error::x"}).encode(),
        "is not an HTTPS URL",
        id="jwks-uri-newline",
    ),
    pytest.param(
        lambda url: json.dumps({"issuer": [url]}).encode(),
        "issuers must match exactly",
        id="issuer-list",
    ),
]


@pytest.mark.parametrize(("body", "text"), HOSTILE_DISCOVERY)
def test_hostile_discovery_fails_discovery_check(oidc_issuer: Issuer, body: Any, text: str) -> None:
    oidc_issuer.raw_bodies[DISCOVERY_SUFFIX] = body(oidc_issuer.url)
    failed = _failed(_verify(oidc_issuer.mint()))
    assert list(failed) == ["discovery"]
    assert text in failed["discovery"]
    assert JWKS_PATH not in oidc_issuer.requests_seen


BAD_TIMES = [
    pytest.param("exp", 1e308, id="exp-1e308"),
    pytest.param("exp", 10**400, id="exp-10-to-400"),
    pytest.param("exp", 253402300800, id="exp-year-10000"),
    pytest.param("exp", -1e308, id="exp-minus-1e308"),
    pytest.param("exp", "1700000000", id="exp-string"),
    pytest.param("exp", True, id="exp-true"),
    pytest.param("nbf", 1e308, id="nbf-1e308"),
    pytest.param("iat", 10**400, id="iat-10-to-400"),
]


@pytest.mark.parametrize(("claim", "value"), BAD_TIMES)
def test_time_claim_that_is_no_time_fails(oidc_issuer: Issuer, claim: str, value: Any) -> None:
    failed = _failed(_verify(oidc_issuer.mint({claim: value})))
    assert list(failed) == ["time"]
    assert f"{claim} is not a valid time" in failed["time"]


def test_oversized_discovery_is_cut_off(oidc_issuer: Issuer) -> None:
    oidc_issuer.endless.add(DISCOVERY_SUFFIX)
    failed = _failed(_verify(oidc_issuer.mint()))
    assert failed == {"discovery": f"{oidc_issuer.discovery_url} returned more than 1 MiB"}
    # The client stopped reading near the limit; the socket buffers hold the rest.
    assert oidc_issuer.endless_bytes_sent(DISCOVERY_SUFFIX) < 16 * MAX_DOCUMENT_BYTES


def test_oversized_jwks_is_cut_off(oidc_issuer: Issuer) -> None:
    oidc_issuer.endless.add(JWKS_PATH)
    failed = _failed(_verify(oidc_issuer.mint()))
    assert failed == {"key": f"{oidc_issuer.jwks_url} returned more than 1 MiB"}
    assert oidc_issuer.endless_bytes_sent(JWKS_PATH) < 16 * MAX_DOCUMENT_BYTES


def test_declared_oversized_jwks_is_not_read(oidc_issuer: Issuer) -> None:
    oidc_issuer.raw_bodies[JWKS_PATH] = b" " * (MAX_DOCUMENT_BYTES + 1)
    failed = _failed(_verify(oidc_issuer.mint()))
    assert failed == {"key": f"{oidc_issuer.jwks_url} returned more than 1 MiB"}


def test_unchecked_audience_is_not_ok(oidc_issuer: Issuer) -> None:
    result = _verify(oidc_issuer.mint(audience="vault"))
    audience = next(check for check in result.checks if check.name == "audience")
    assert result.ok
    assert (audience.ok, audience.checked, audience.status_label) == (True, False, "skip")
    assert [check.name for check in result.unchecked()] == ["audience"]
