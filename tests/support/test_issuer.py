"""The local OIDC issuer fixture serves what real issuers serve."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import jwt
import pytest

from tests.support.issuer import Issuer


def _get(url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10, **kwargs) as response:
        return json.load(response)


def test_discovery_names_issuer_and_jwks(oidc_issuer: Issuer) -> None:
    document = _get(oidc_issuer.discovery_url)
    assert document["issuer"] == oidc_issuer.url
    assert document["jwks_uri"] == oidc_issuer.jwks_url


def test_discovery_below_issuer_path(oidc_issuer: Issuer) -> None:
    document = _get(oidc_issuer.base_url + "/_services/token/.well-known/openid-configuration")
    assert document["issuer"] == oidc_issuer.base_url + "/_services/token"


def test_minted_token_verifies_with_jwks(oidc_issuer: Issuer) -> None:
    token = oidc_issuer.mint(audience="sts.amazonaws.com")
    key = jwt.PyJWKClient(oidc_issuer.jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="sts.amazonaws.com", issuer=oidc_issuer.url
    )
    assert claims["repository"] == "octo-org/octo-repo"
    assert claims["exp"] == claims["iat"] + 300
    assert claims["nbf"] < claims["iat"]


@pytest.mark.parametrize("flavor", ["github", "gitlab"])
def test_custom_claims_are_strings(oidc_issuer: Issuer, flavor: str) -> None:
    claims = oidc_issuer.claims(flavor=flavor)  # type: ignore[arg-type]
    registered = {"iat", "nbf", "exp"}
    for name, value in claims.items():
        if name not in registered:
            assert isinstance(value, str), name


def test_unpublished_kid_not_in_jwks(oidc_issuer: Issuer) -> None:
    oidc_issuer.mint(kid="rogue")
    kids = [key["kid"] for key in _get(oidc_issuer.jwks_url)["keys"]]
    assert kids == ["test-key-1"]


def test_token_endpoint_returns_value(oidc_issuer: Issuer) -> None:
    body = _get(
        oidc_issuer.token_request_url + "&audience=vault",
        {"Authorization": f"Bearer {oidc_issuer.request_token}"},
    )
    claims = jwt.decode(body["value"], options={"verify_signature": False})
    assert claims["aud"] == "vault"
    assert oidc_issuer.token_requests[0].query["api-version"] == ["2.0"]


def test_token_endpoint_checks_bearer(oidc_issuer: Issuer) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(oidc_issuer.token_request_url, {"Authorization": "Bearer wrong"})
    assert caught.value.code == 401


def test_token_endpoint_queued_failure(oidc_issuer: Issuer) -> None:
    oidc_issuer.token_failures.append(500)
    headers = {"Authorization": f"Bearer {oidc_issuer.request_token}"}
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(oidc_issuer.token_request_url, headers)
    assert caught.value.code == 500
    assert "value" in _get(oidc_issuer.token_request_url, headers)


def test_tls_issuer_trusts_its_ca(oidc_issuer_tls: Issuer) -> None:
    import ssl

    assert oidc_issuer_tls.ca_path is not None
    context = ssl.create_default_context(cafile=str(oidc_issuer_tls.ca_path))
    document = _get(oidc_issuer_tls.discovery_url, context=context)
    assert document["issuer"].startswith("https://127.0.0.1:")


def test_tls_issuer_rejects_default_trust(oidc_issuer_tls: Issuer) -> None:
    with pytest.raises(urllib.error.URLError):
        _get(oidc_issuer_tls.discovery_url)
