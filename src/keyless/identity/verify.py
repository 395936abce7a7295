"""Verify a token against its issuer: discovery document, JWKS, signature and claims.

The issuer is the one given by the caller or, without one, the token's own `iss`. It
must be HTTPS (plain HTTP only on a loopback address, for local issuers) and must
not be a look-alike of a recognised issuer. The discovery document must name exactly
that issuer. The signature is checked with the key from the issuer's JWKS, found
with PyJWT's PyJWKClient by the token's `kid`. Only asymmetric algorithms are
accepted, so `none` and HS256 tokens (which anyone with the public key could forge
against a careless verifier) are rejected before any key is fetched.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keyless.errors import Error
from keyless.identity import issuers
from keyless.identity.claims import audiences, duration
from keyless.identity.token import IdentityError, IdentityToken
from keyless.logs import logger

if TYPE_CHECKING:
    import requests

    from keyless.http import RetryPolicy

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
# Seconds of clock difference tolerated in exp, nbf and iat checks.
DEFAULT_LEEWAY = 60
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


class VerificationFailed(Error):
    """The token failed verification: a forged, expired or misdirected token."""

    exit_code = 1


@dataclass(frozen=True)
class Check:
    """One verification step and its outcome."""

    name: str
    ok: bool
    detail: str


@dataclass
class Verification:
    """The outcome of `verify`: every check that ran, in order."""

    issuer: str
    checks: list[Check] = field(default_factory=list)
    discovery_url: str | None = None
    jwks_uri: str | None = None
    clock_skew: float | None = None
    clock_skew_source: str | None = None

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def verify(
    token: IdentityToken,
    *,
    expected_issuer: str | None = None,
    expected_audience: str | None = None,
    leeway: float = DEFAULT_LEEWAY,
    http: requests.Session | None = None,
    retry: RetryPolicy | None = None,
    now: float | None = None,
) -> Verification:
    """Verify `token` and return every check; fetch failures raise IdentityError.

    A check that fails stops the checks that depend on it: no key is fetched for a
    rejected algorithm or issuer.
    """
    claims = token.claims
    issuer = expected_issuer or str(claims.get("iss", ""))
    result = Verification(issuer=issuer)
    if not _check_algorithm(result, token.header):
        return result
    if not _check_issuer(result, claims, expected_issuer):
        return result
    jwks_uri = _discover(result, issuer, http, retry)
    if jwks_uri is None:
        return result
    key = _signing_key(result, token, jwks_uri)
    if key is None:
        return result
    if not _check_signature(result, token, key):
        return result
    _check_audience(result, claims, expected_audience)
    _check_time(result, claims, leeway, time.time() if now is None else now)
    return result


def _check_algorithm(result: Verification, header: dict[str, Any]) -> bool:
    algorithm = str(header.get("alg", ""))
    if algorithm in ALLOWED_ALGORITHMS:
        return result.add("algorithm", True, f"{algorithm} (asymmetric)")
    if algorithm.lower() == "none":
        why = "the token is unsigned (alg none), so anyone can write one"
    elif algorithm.startswith("HS"):
        why = (
            f"{algorithm} is a shared-secret algorithm: an OIDC issuer signs with a private "
            "key, and a verifier that accepts HS256 can be fooled with a token signed with "
            "the issuer's public key"
        )
    else:
        why = f"{algorithm or '(missing)'} is not an algorithm keyless accepts"
    return result.add("algorithm", False, f"rejected: {why}")


def _check_issuer(result: Verification, claims: dict[str, Any], expected: str | None) -> bool:
    present = str(claims.get("iss", ""))
    if not present:
        return result.add("issuer", False, "the token has no iss claim")
    if expected is not None and present != expected:
        info = issuers.classify(present, claims)
        return result.add(
            "issuer",
            False,
            f"the token's issuer {present} is not the expected {expected} ({info.description})",
        )
    info = issuers.classify(present, claims)
    if info.kind == "look-alike":
        return result.add("issuer", False, f"{present} is {info.description}")
    scheme = urlsplit(present).scheme
    if scheme != "https" and not (scheme == "http" and issuers.is_loopback(present)):
        return result.add(
            "issuer", False, f"{present} is not an HTTPS URL, so its keys cannot be trusted"
        )
    if info.recognised or expected is not None:
        return result.add("issuer", True, f"{present} ({info.description})")
    return result.add(
        "issuer",
        True,
        f"{present} ({info.description}; pin it with --expect-issuer to check who issued it)",
    )


def _discover(
    result: Verification,
    issuer: str,
    http: requests.Session | None,
    retry: RetryPolicy | None,
) -> str | None:
    import requests

    from keyless import http as keyless_http

    url = issuer.rstrip("/") + DISCOVERY_SUFFIX
    result.discovery_url = url
    session = http or keyless_http.session()
    sent_at = time.time()
    try:
        response = keyless_http.send(
            session,
            "GET",
            url,
            label=f"OIDC discovery at {url}",
            retry=retry or keyless_http.DEFAULT_RETRY,
        )
    except requests.exceptions.SSLError as exc:
        raise IdentityError(
            f"cannot fetch the discovery document {url}: TLS verification failed",
            hint="if the issuer uses a private CA, point REQUESTS_CA_BUNDLE or SSL_CERT_FILE "
            "at its certificate bundle",
        ) from exc
    except requests.RequestException as exc:
        raise IdentityError(
            f"cannot fetch the discovery document {url}: {type(exc).__name__}: {exc}"
        ) from exc
    received_at = time.time()
    with response:
        result.clock_skew = keyless_http.clock_skew(response, sent_at, received_at)
        result.clock_skew_source = urlsplit(url).hostname
        if response.status_code != 200:
            result.add("discovery", False, f"{url} returned HTTP {response.status_code}")
            return None
        try:
            document = response.json()
        except ValueError:
            result.add("discovery", False, f"{url} did not return JSON")
            return None
    if not isinstance(document, dict):
        result.add("discovery", False, f"{url} did not return a JSON object")
        return None
    if document.get("issuer") != issuer:
        result.add(
            "discovery",
            False,
            f"{url} names the issuer {document.get('issuer')!r}, not {issuer!r}; "
            "issuers must match exactly",
        )
        return None
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        result.add("discovery", False, f"{url} has no jwks_uri")
        return None
    scheme = urlsplit(jwks_uri).scheme
    if scheme != "https" and not (scheme == "http" and issuers.is_loopback(jwks_uri)):
        result.add("discovery", False, f"the jwks_uri {jwks_uri} is not an HTTPS URL")
        return None
    result.jwks_uri = jwks_uri
    result.add("discovery", True, f"{url} names this issuer; keys at {jwks_uri}")
    return jwks_uri


def _signing_key(result: Verification, token: IdentityToken, jwks_uri: str) -> Any:
    import jwt

    from keyless import http as keyless_http

    kid = token.header.get("kid")
    if not kid:
        result.add("key", False, "the token's header has no kid, so no JWKS key can be chosen")
        return None
    context = keyless_http.ssl_context() if jwks_uri.startswith("https:") else None
    client = jwt.PyJWKClient(
        jwks_uri,
        headers={"User-Agent": keyless_http.USER_AGENT},
        timeout=30,
        ssl_context=context,
    )
    try:
        key = client.get_signing_key(str(kid))
    except jwt.PyJWKClientConnectionError as exc:
        raise IdentityError(
            f"cannot fetch the JWKS {jwks_uri}: {exc}",
            hint="if the issuer uses a private CA, point REQUESTS_CA_BUNDLE or SSL_CERT_FILE "
            "at its certificate bundle",
        ) from exc
    except jwt.PyJWKClientError as exc:
        logger.debug("JWKS lookup of kid %s failed: %s", kid, exc)
        result.add(
            "key",
            False,
            f"no key with kid {kid} in the JWKS at {jwks_uri}: the token was not signed "
            "by this issuer, or the issuer rotated its keys",
        )
        return None
    result.add("key", True, f"kid {kid} found in the JWKS")
    return key


def _check_signature(result: Verification, token: IdentityToken, key: Any) -> bool:
    import jwt

    algorithm = str(token.header.get("alg"))
    try:
        jwt.decode(
            token.raw.reveal(),
            key.key,
            algorithms=[algorithm],
            options={
                "verify_signature": True,
                "verify_aud": False,
                "verify_iss": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError:
        return result.add("signature", False, "the signature does not match the issuer's key")
    except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
        return result.add("signature", False, f"cannot check the signature: {exc}")
    return result.add("signature", True, f"valid {algorithm} signature")


def _check_audience(result: Verification, claims: dict[str, Any], expected: str | None) -> None:
    present = audiences(claims)
    if not present:
        result.add("audience", False, "the token has no aud claim")
        return
    shown = ", ".join(present)
    if expected is None:
        result.add("audience", True, f"{shown} (not checked: no --audience or --expect-audience)")
    elif expected in present:
        result.add("audience", True, shown)
    else:
        result.add("audience", False, f"the token's audience is {shown}, not {expected}")


def _check_time(result: Verification, claims: dict[str, Any], leeway: float, now: float) -> None:
    problems: list[str] = []
    expires = _number(claims.get("exp"))
    not_before = _number(claims.get("nbf"))
    issued = _number(claims.get("iat"))
    if expires is None:
        problems.append("the token has no numeric exp claim")
    elif now > expires + leeway:
        ago = duration(now - expires)
        problems.append(f"expired at {_iso(expires)}, {ago} ago (leeway {duration(leeway)})")
    if not_before is not None and now + leeway < not_before:
        ahead = duration(not_before - now)
        problems.append(f"not valid before {_iso(not_before)}, {ahead} from now")
    if issued is not None and now + leeway < issued:
        problems.append(f"issued in the future, at {_iso(issued)}")
    if problems:
        skew = result.clock_skew
        if skew is not None and abs(skew) > leeway:
            problems.append(f"the local clock differs from the issuer's by {duration(abs(skew))}")
        result.add("time", False, "; ".join(problems))
        return
    result.add("time", True, f"valid until {_iso(expires)} (leeway {duration(leeway)})")


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _iso(timestamp: Any) -> str:
    moment = datetime.fromtimestamp(float(timestamp), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
