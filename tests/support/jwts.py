"""Signed test JWTs: an RSA key made per test session, and tokens with CI-like claims."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from keyless.identity.token import IdentityToken, decode_unverified
from keyless.secret import Secret

# TODO: switch to the local OIDC issuer fixture (tests/support/issuer.py) once it lands.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@lru_cache(maxsize=1)
def _private_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def github_claims(audience: str, **overrides: Any) -> dict[str, Any]:
    """Return claims shaped like a GitHub Actions token; an override of None removes a claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": GITHUB_ISSUER,
        "aud": audience,
        "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
        "repository": "octo-org/octo-repo",
        "ref": "refs/heads/main",
        "run_id": "4242",
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
        "jti": f"test-{now}",
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def mint(claims: dict[str, Any]) -> str:
    """Return an RS256 JWT with `claims`, signed by this session's test key."""
    import jwt

    return jwt.encode(claims, _private_key(), algorithm="RS256", headers={"kid": "test-key"})


def identity_token(audience: str, **overrides: Any) -> IdentityToken:
    """Return an IdentityToken as keyless reads one, for a GitHub-shaped JWT."""
    raw = Secret(mint(github_claims(audience, **overrides)))
    header, claims = decode_unverified(raw, "test")
    return IdentityToken(raw=raw, provider="test", claims=claims, header=header)
