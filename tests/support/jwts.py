"""Identity tokens for exchange tests that talk to doubles rather than to an issuer.

The claims and key come from the local test issuer (tests.support.issuer); the
issuer URL is GitHub's, because the STS, Google and Entra doubles compare claims
and never fetch a JWKS.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from keyless.identity.token import IdentityToken, decode_unverified
from keyless.secret import Secret
from tests.support.issuer import DEFAULT_KID, github_claims, rsa_key

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def claims_for(audience: str, **overrides: Any) -> dict[str, Any]:
    """Return GitHub Actions claims for `audience`; an override of None removes a claim."""
    claims = github_claims(GITHUB_ISSUER, audience, int(time.time()), 300)
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def mint(claims: dict[str, Any]) -> str:
    """Return an RS256 JWT with `claims`, signed by the test issuer's default key."""
    return jwt.encode(claims, rsa_key(DEFAULT_KID), algorithm="RS256", headers={"kid": DEFAULT_KID})


def identity_token(audience: str, **overrides: Any) -> IdentityToken:
    """Return an IdentityToken as keyless reads one, for a GitHub-shaped JWT."""
    raw = Secret(mint(claims_for(audience, **overrides)))
    header, claims = decode_unverified(raw, "test")
    return IdentityToken(raw=raw, provider="test", claims=claims, header=header)
