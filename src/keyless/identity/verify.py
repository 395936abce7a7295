"""Verify a token against its issuer: discovery document, JWKS, signature and claims.

The issuer is the one given by the caller or, without one, the token's own `iss`. It
must be HTTPS (plain HTTP only on a loopback address, for local issuers) and must
not be a look-alike of a recognised issuer. The discovery document must name exactly
that issuer. The signature is checked with the key from the issuer's JWKS that has
the token's `kid` and fits its algorithm, built with PyJWT's PyJWK. Only asymmetric
algorithms are accepted, so `none` and HS256 tokens (which anyone with the public
key could forge against a careless verifier) are rejected before any key is fetched.
At most MAX_DOCUMENT_BYTES are read of the discovery document and of the JWKS, and
anything malformed in them or in the token fails a check instead of raising.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from keyless.errors import Error
from keyless.identity import issuers
from keyless.identity.claims import audiences, duration, numeric_date
from keyless.identity.token import IdentityError, IdentityToken
from keyless.logs import logger
from keyless.terminal import safe_line

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
    # False for a step that had nothing to check against, such as the audience
    # without --audience or --expect-audience. Such a step is recorded as ok.
    checked: bool = True

    @property
    def status_label(self) -> str:
        """Return "ok", "FAILED" or "skip", as the text report shows it."""
        if not self.ok:
            return "FAILED"
        return "ok" if self.checked else "skip"


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

    def unchecked(self) -> list[Check]:
        return [check for check in self.checks if not check.checked]

    def add(self, name: str, ok: bool, detail: str, *, checked: bool = True) -> bool:
        self.checks.append(Check(name, ok, detail, checked))
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
    key = _signing_key(result, token, jwks_uri, http, retry)
    if key is None:
        return result
    if not _check_signature(result, token, key):
        return result
    _check_audience(result, claims, expected_audience)
    _check_time(result, claims, leeway, time.time() if now is None else now)
    return result


def _check_algorithm(result: Verification, header: dict[str, Any]) -> bool:
    value = header.get("alg")
    algorithm = value if isinstance(value, str) else ""
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
        name = algorithm or ("(missing)" if value is None else _excerpt(value))
        why = f"{name} is not an algorithm keyless accepts"
    return result.add("algorithm", False, f"rejected: {why}")


def _check_issuer(result: Verification, claims: dict[str, Any], expected: str | None) -> bool:
    value = claims.get("iss")
    if value is None or value == "":
        return result.add("issuer", False, "the token has no iss claim")
    if not isinstance(value, str):
        return result.add("issuer", False, f"the token's iss is not a string: {_excerpt(value)}")
    present = value
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
    if info.kind == "invalid" or _unprintable(present):
        return result.add(
            "issuer", False, f"{present} is not a URL keyless can parse or show in a log"
        )
    parts = issuers.split_url(present)
    scheme = parts.scheme if parts else ""
    if not (parts and parts.hostname):
        return result.add("issuer", False, f"{present} names no host")
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


# Bytes read at most from the discovery document and from the JWKS. Real ones are a
# few KiB; the limit keeps a hostile or broken issuer from filling memory.
MAX_DOCUMENT_BYTES = 1 << 20

# The JWK key type and, for ECDSA, the curve each accepted algorithm needs.
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


@dataclass
class _Fetched:
    """A JSON document from the issuer, or why there is none."""

    document: Any = None
    problem: str | None = None
    clock_skew: float | None = None


def _fetch_json(
    url: str,
    what: str,
    http: requests.Session | None,
    retry: RetryPolicy | None,
) -> _Fetched:
    """GET `url` and parse at most MAX_DOCUMENT_BYTES of JSON.

    A failed request raises IdentityError. A response that is not usable JSON comes
    back as a problem, so the caller records a failed check.
    """
    import requests

    from keyless import http as keyless_http

    session = http or keyless_http.session()
    sent_at = time.time()
    try:
        response = keyless_http.send(
            session,
            "GET",
            url,
            label=f"{what} at {url}",
            retry=retry or keyless_http.DEFAULT_RETRY,
            stream=True,
        )
        received_at = time.time()
        with response:
            result = _Fetched(clock_skew=keyless_http.clock_skew(response, sent_at, received_at))
            if response.status_code != 200:
                result.problem = f"{url} returned HTTP {response.status_code}"
                return result
            try:
                body = keyless_http.read_limited(response, MAX_DOCUMENT_BYTES)
            except keyless_http.ResponseTooLarge as exc:
                result.problem = f"{url} returned more than {keyless_http.describe_size(exc.limit)}"
                return result
    except requests.exceptions.SSLError as exc:
        raise IdentityError(
            f"cannot fetch the {what} {url}: TLS verification failed",
            hint="if the issuer uses a private CA, point REQUESTS_CA_BUNDLE or SSL_CERT_FILE "
            "at its certificate bundle",
        ) from exc
    except requests.RequestException as exc:
        raise IdentityError(f"cannot fetch the {what} {url}: {type(exc).__name__}: {exc}") from exc
    try:
        result.document = json.loads(body)
    except (ValueError, RecursionError):
        result.problem = f"{url} did not return JSON"
    return result


def _discover(
    result: Verification,
    issuer: str,
    http: requests.Session | None,
    retry: RetryPolicy | None,
) -> str | None:
    url = issuer.rstrip("/") + DISCOVERY_SUFFIX
    result.discovery_url = url
    fetched = _fetch_json(url, "discovery document", http, retry)
    result.clock_skew = fetched.clock_skew
    result.clock_skew_source = urlsplit(url).hostname
    if fetched.problem is not None:
        result.add("discovery", False, fetched.problem)
        return None
    document = fetched.document
    if not isinstance(document, dict):
        result.add("discovery", False, f"{url} did not return a JSON object")
        return None
    if document.get("issuer") != issuer:
        result.add(
            "discovery",
            False,
            f"{url} names the issuer {_excerpt(document.get('issuer'))}, not {issuer!r}; "
            "issuers must match exactly",
        )
        return None
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        result.add("discovery", False, f"{url} has no jwks_uri")
        return None
    parts = issuers.split_url(jwks_uri)
    scheme = parts.scheme if parts and not _unprintable(jwks_uri) else ""
    if scheme != "https" and not (scheme == "http" and issuers.is_loopback(jwks_uri)):
        result.add("discovery", False, f"the jwks_uri {_excerpt(jwks_uri)} is not an HTTPS URL")
        return None
    result.jwks_uri = jwks_uri
    result.add("discovery", True, f"{url} names this issuer; keys at {jwks_uri}")
    return jwks_uri


def _unprintable(url: str) -> bool:
    """Return whether `url` contains white space or characters a log line cannot show."""
    return any(char.isspace() for char in url) or safe_line(url) != url


def _excerpt(value: Any) -> str:
    """Return a value from the issuer for a message: repr, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _signing_key(
    result: Verification,
    token: IdentityToken,
    jwks_uri: str,
    http: requests.Session | None,
    retry: RetryPolicy | None,
) -> Any:
    """Return the JWKS key with the token's kid that fits its algorithm, or None."""
    kid = token.header.get("kid")
    if not isinstance(kid, str) or not kid:
        result.add(
            "key", False, "the token's header has no kid string, so no JWKS key can be chosen"
        )
        return None
    fetched = _fetch_json(jwks_uri, "JWKS", http, retry)
    if fetched.problem is not None:
        result.add("key", False, fetched.problem)
        return None
    keys = fetched.document.get("keys") if isinstance(fetched.document, dict) else None
    if not isinstance(keys, list):
        result.add("key", False, f"the JWKS at {jwks_uri} has no `keys` array")
        return None
    entries = [entry for entry in keys if isinstance(entry, dict) and entry.get("kid") == kid]
    if not entries:
        result.add(
            "key",
            False,
            f"no key with kid {kid} in the JWKS at {jwks_uri}: the token was not signed "
            "by this issuer, or the issuer rotated its keys",
        )
        return None
    algorithm = str(token.header.get("alg"))
    problems = []
    for entry in entries:
        key, problem = _usable_key(entry, algorithm)
        if key is not None:
            result.add("key", True, f"kid {kid} found in the JWKS")
            return key
        problems.append(problem)
    reasons = "; ".join(problems)
    result.add("key", False, f"the JWKS key with kid {kid} cannot check {algorithm}: {reasons}")
    return None


def _usable_key(entry: dict[str, Any], algorithm: str) -> tuple[Any, str]:
    """Return (PyJWK, "") when the JWK fits `algorithm`, else (None, why not)."""
    import jwt

    expected = _KEY_TYPES[algorithm[:2]]
    kty = entry.get("kty")
    if kty != expected:
        return None, f"it is a {_excerpt(kty)} key, and {algorithm} needs an {expected} key"
    if "alg" in entry and entry["alg"] != algorithm:
        return None, f"it is for {_excerpt(entry['alg'])}"
    if "use" in entry and entry["use"] != "sig":
        return None, f"its use is {_excerpt(entry['use'])}, not sig"
    curve = _CURVES.get(algorithm)
    if curve is not None and entry.get("crv") != curve:
        return None, f"its curve is {_excerpt(entry.get('crv'))}, and {algorithm} needs {curve}"
    try:
        return jwt.PyJWK(entry, algorithm=algorithm), ""
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        logger.debug("JWK rejected: %s: %s", type(exc).__name__, exc)
        return None, f"it is not a valid {expected} public key"


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
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        # PyJWT raises TypeError or ValueError for some keys and signatures that do
        # not fit the algorithm, so these count as a failed signature check.
        return result.add("signature", False, f"cannot check the signature: {exc}")
    return result.add("signature", True, f"valid {algorithm} signature")


def _check_audience(result: Verification, claims: dict[str, Any], expected: str | None) -> None:
    present = audiences(claims)
    if not present:
        result.add("audience", False, "the token has no aud claim")
        return
    shown = ", ".join(present)
    if expected is None:
        result.add(
            "audience",
            True,
            f"{shown}: not checked, because no --audience or --expect-audience was given",
            checked=False,
        )
    elif expected in present:
        result.add("audience", True, shown)
    else:
        result.add("audience", False, f"the token's audience is {shown}, not {expected}")


def _check_time(result: Verification, claims: dict[str, Any], leeway: float, now: float) -> None:
    problems: list[str] = []
    expires = numeric_date(claims.get("exp"))
    not_before = numeric_date(claims.get("nbf"))
    issued = numeric_date(claims.get("iat"))
    for name in ("exp", "nbf", "iat"):
        if name in claims and numeric_date(claims[name]) is None:
            problems.append(f"{name} is not a valid time: {_excerpt(claims[name])}")
    if expires is None:
        if "exp" not in claims:
            problems.append("the token has no exp claim")
    elif now > expires + leeway:
        ago = duration(now - expires)
        problems.append(f"expired at {_iso(expires)}, {ago} ago (leeway {duration(leeway)})")
    if not_before is not None and now + leeway < not_before:
        ahead = duration(not_before - now)
        problems.append(f"not valid before {_iso(not_before)}, {ahead} from now")
    if issued is not None and now + leeway < issued:
        problems.append(f"issued in the future, at {_iso(issued)}")
    if problems or expires is None:
        skew = result.clock_skew
        if skew is not None and abs(skew) > leeway:
            problems.append(f"the local clock differs from the issuer's by {duration(abs(skew))}")
        result.add("time", False, "; ".join(problems))
        return
    result.add("time", True, f"valid until {_iso(expires)} (leeway {duration(leeway)})")


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
