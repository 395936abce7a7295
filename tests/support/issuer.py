"""A local OIDC issuer for tests: RSA keys, discovery, JWKS and GitHub's token endpoint.

The server binds to 127.0.0.1 on a free port and runs in a thread. It serves:

- `<issuer>/.well-known/openid-configuration`, the discovery document, for the
  issuer at the server root and for any issuer path below it (such as
  `/_services/token` for GitHub Enterprise Server or `/<enterprise>` for a unique
  GitHub Enterprise Cloud issuer), so one server can play several issuers;
- `/.well-known/jwks`, the JWKS with every published key;
- `TOKEN_REQUEST_PATH?api-version=2.0&audience=AUD`, the GitHub Actions token-request
  endpoint: it checks the bearer token and answers `{"value": "<jwt>"}`.

`Issuer.mint` makes tokens whose claims look like real GitHub Actions or GitLab CI
tokens: every custom claim is a string, `exp = iat + expires_in` (300 by default)
and `nbf` is before `iat`. Failures are programmable: queue HTTP statuses or delays
for the next token requests, shift the server's `Date` header or replace it, answer
a path with a raw body or a body that never ends, or serve TLS with a self-signed CA.

Use the `oidc_issuer` fixture (one issuer per test), `oidc_issuer_session` (one per
test session, for servers such as Vault that are configured once), or
`start_issuer()` directly. Import the fixtures into the conftest.py of the test
folder that uses them (a test module that imports them trips ruff's F811):

    from tests.support.issuer import oidc_issuer, oidc_issuer_tls  # noqa: F401
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import hashlib
import hmac
import ipaddress
import json
import secrets
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks"
TOKEN_REQUEST_PATH = (
    "/00000000-0000-0000-0000-000000000000/_apis/distributedtask/hubs/Actions/plans/"
    "11111111-1111-1111-1111-111111111111/jobs/22222222-2222-2222-2222-222222222222/idtoken"
)
DEFAULT_KID = "test-key-1"
# Bytes an endless body stops at, so that a client that never hangs up cannot hang
# a test.
ENDLESS_LIMIT = 32 * 1024 * 1024
Flavor = Literal["github", "gitlab"]

_key_cache: dict[str, rsa.RSAPrivateKey] = {}


def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """Return an RSA key, generated once per test session for each name."""
    if name not in _key_cache:
        _key_cache[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _key_cache[name]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def github_claims(
    issuer: str, audience: str | list[str], issued_at: int, expires_in: int
) -> dict[str, Any]:
    """Return claims shaped like a GitHub Actions token for a push to main."""
    return {
        "jti": str(uuid.uuid4()),
        "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
        "aud": audience,
        "ref": "refs/heads/main",
        "sha": "d4b5c1e0a9f8e7d6c5b4a3928170f6e5d4c3b2a1",
        "repository": "octo-org/octo-repo",
        "repository_owner": "octo-org",
        "repository_owner_id": "65",
        "repository_id": "74",
        "repository_visibility": "private",
        "run_id": "9876543210",
        "run_number": "10",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "12",
        "workflow": "deploy",
        "workflow_ref": "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
        "workflow_sha": "d4b5c1e0a9f8e7d6c5b4a3928170f6e5d4c3b2a1",
        "job_workflow_ref": "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main",
        "job_workflow_sha": "d4b5c1e0a9f8e7d6c5b4a3928170f6e5d4c3b2a1",
        "head_ref": "",
        "base_ref": "",
        "event_name": "push",
        "ref_type": "branch",
        "ref_protected": "true",
        "iss": issuer,
        "nbf": issued_at - 600,
        "iat": issued_at,
        "exp": issued_at + expires_in,
    }


def gitlab_claims(
    issuer: str, audience: str | list[str], issued_at: int, expires_in: int
) -> dict[str, Any]:
    """Return claims shaped like a GitLab CI `id_tokens:` token for a branch pipeline."""
    return {
        "namespace_id": "72",
        "namespace_path": "my-group",
        "project_id": "20",
        "project_path": "my-group/my-project",
        "user_id": "1",
        "user_login": "sample-user",
        "user_email": "sample-user@example.invalid",
        "user_access_level": "developer",
        "pipeline_id": "574",
        "pipeline_source": "push",
        "job_id": "302",
        "ref": "main",
        "ref_type": "branch",
        "ref_path": "refs/heads/main",
        "ref_protected": "true",
        "environment": "production",
        "environment_protected": "true",
        "deployment_tier": "production",
        "environment_action": "start",
        "runner_id": "1",
        "runner_environment": "gitlab-hosted",
        "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "project_visibility": "private",
        "ci_config_ref_uri": (
            "gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main"
        ),
        "ci_config_sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
        "jti": str(uuid.uuid4()),
        "iat": issued_at,
        "nbf": issued_at - 5,
        "exp": issued_at + expires_in,
        "iss": issuer,
        "sub": "project_path:my-group/my-project:ref_type:branch:ref:main",
        "aud": audience,
    }


@dataclass
class TokenRequest:
    """One request the token endpoint received."""

    path: str
    query: dict[str, list[str]]
    authorization: str | None
    user_agent: str | None


@dataclass
class Issuer:
    """A running local issuer; see the module documentation."""

    base_url: str
    request_token: str
    ca_path: Path | None = None
    issuer_path: str = ""
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    published: set[str] = field(default_factory=set)
    token_requests: list[TokenRequest] = field(default_factory=list)
    token_failures: deque[int] = field(default_factory=deque)
    token_delays: deque[float] = field(default_factory=deque)
    token_flavor: Flavor = "github"
    token_overrides: dict[str, Any] = field(default_factory=dict)
    date_offset: float = 0.0
    discovery_overrides: dict[str, Any] = field(default_factory=dict)
    requests_seen: list[str] = field(default_factory=list)
    # Hostile or broken responses: a path's raw body (sent as application/json), a path
    # answered with a body that never ends (without Content-Length, until the client
    # hangs up or ENDLESS_LIMIT bytes), and a `Date` header value to send instead of
    # the real one.
    raw_bodies: dict[str, bytes] = field(default_factory=dict)
    endless: set[str] = field(default_factory=set)
    date_header: str | None = None
    # Bytes of endless bodies written before the client hung up, per path.
    endless_sent: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The issuer identifier: the `iss` of minted tokens and of the discovery document."""
        return self.base_url + self.issuer_path

    @property
    def discovery_url(self) -> str:
        return self.url + DISCOVERY_SUFFIX

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    @property
    def token_request_url(self) -> str:
        """The value GitHub puts in ACTIONS_ID_TOKEN_REQUEST_URL (with `api-version`)."""
        return f"{self.base_url}{TOKEN_REQUEST_PATH}?api-version=2.0"

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in sorted(self.published):
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
            keys.append({**public, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def discovery(self, issuer: str) -> dict[str, Any]:
        document = {
            "issuer": issuer,
            "jwks_uri": self.jwks_url,
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }
        document.update(self.discovery_overrides)
        return document

    def endless_bytes_sent(self, path: str, timeout: float = 5.0) -> int:
        """Return how much of the endless body at `path` went out before the client hung up.

        Waits for the server thread to notice the hang-up.
        """
        deadline = time.monotonic() + timeout
        while path not in self.endless_sent and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.endless_sent[path]

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        """Add a signing key; unpublished keys sign tokens the JWKS cannot verify."""
        self.keys[kid] = rsa_key(kid)
        if publish:
            self.published.add(kid)

    def claims(
        self,
        overrides: Mapping[str, Any] | None = None,
        *,
        audience: str | list[str] = "https://github.com/octo-org",
        expires_in: int = 300,
        issued_at: int | None = None,
        flavor: Flavor = "github",
        remove: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Return the claims `mint` would sign."""
        now = int(time.time()) if issued_at is None else issued_at
        builder = github_claims if flavor == "github" else gitlab_claims
        claims = builder(self.url, audience, now, expires_in)
        claims.update(overrides or {})
        for name in remove:
            claims.pop(name, None)
        return claims

    def mint(
        self,
        overrides: Mapping[str, Any] | None = None,
        *,
        audience: str | list[str] = "https://github.com/octo-org",
        expires_in: int = 300,
        issued_at: int | None = None,
        flavor: Flavor = "github",
        kid: str | None = DEFAULT_KID,
        alg: str = "RS256",
        remove: Iterable[str] = (),
        hmac_key: bytes | None = None,
    ) -> str:
        """Return a signed JWT.

        `alg` is RS256/RS384/RS512 (signed with the key `kid`, added unpublished when
        it is new), HS256 (signed with `hmac_key`, by default the issuer's public key
        in PEM, the classic algorithm-confusion attack) or `none` (no signature).
        """
        claims = self.claims(
            overrides,
            audience=audience,
            expires_in=expires_in,
            issued_at=issued_at,
            flavor=flavor,
            remove=remove,
        )
        header: dict[str, Any] = {"typ": "JWT", "alg": alg}
        if kid is not None:
            header["kid"] = kid
        if alg.startswith("RS"):
            if kid is None:
                raise ValueError("an RSA-signed token needs a kid")
            if kid not in self.keys:
                self.add_key(kid, publish=False)
            return jwt.encode(claims, self.keys[kid], algorithm=alg, headers=header)
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        if alg == "none":
            return signing_input + "."
        if alg == "HS256":
            if hmac_key is None:
                public = self.keys[DEFAULT_KID].public_key()
                hmac_key = public.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            digest = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
            return signing_input + "." + _b64url(digest)
        raise ValueError(f"unsupported alg {alg}")

    def github_environment(self) -> dict[str, str]:
        """Return the variables a GitHub Actions job with `id-token: write` has."""
        return {
            "GITHUB_ACTIONS": "true",
            "ACTIONS_ID_TOKEN_REQUEST_URL": self.token_request_url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_token,
        }


def _handler_class(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def date_time_string(self, timestamp: float | None = None) -> str:
            if issuer.date_header is not None:
                return issuer.date_header
            now = time.time() if timestamp is None else timestamp
            return email.utils.formatdate(now + issuer.date_offset, usegmt=True)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            issuer.requests_seen.append(parts.path)
            if parts.path in issuer.endless:
                self._endless(parts.path)
            elif parts.path in issuer.raw_bodies:
                self._send(200, issuer.raw_bodies[parts.path])
            elif parts.path == JWKS_PATH:
                self._json(200, issuer.jwks())
            elif parts.path.endswith(DISCOVERY_SUFFIX):
                prefix = parts.path[: -len(DISCOVERY_SUFFIX)]
                self._json(200, issuer.discovery(issuer.base_url + prefix))
            elif parts.path == TOKEN_REQUEST_PATH:
                self._token_request(parts.query)
            else:
                self._json(404, {"message": "not found"})

        def _token_request(self, query_string: str) -> None:
            query = parse_qs(query_string)
            authorization = self.headers.get("Authorization")
            issuer.token_requests.append(
                TokenRequest(
                    TOKEN_REQUEST_PATH, query, authorization, self.headers.get("User-Agent")
                )
            )
            if issuer.token_delays:
                time.sleep(issuer.token_delays.popleft())
            if issuer.token_failures:
                self._json(issuer.token_failures.popleft(), {"message": "injected failure"})
                return
            if authorization != f"Bearer {issuer.request_token}":
                self._json(401, {"message": "Bad credentials"})
                return
            if query.get("api-version") != ["2.0"]:
                self._json(400, {"message": "api-version 2.0 is required"})
                return
            audience = query.get("audience", ["https://github.com/octo-org"])[-1]
            token = issuer.mint(
                issuer.token_overrides, audience=audience, flavor=issuer.token_flavor
            )
            self._json(200, {"count": 1, "value": token})

        def _endless(self, path: str) -> None:
            chunk = b" " * 65536
            sent = 0
            self.close_connection = True
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                while sent < ENDLESS_LIMIT:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                issuer.endless_sent[path] = sent

        def _json(self, status: int, body: Mapping[str, Any]) -> None:
            self._send(status, json.dumps(body).encode())

        def _send(self, status: int, data: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                # The client timed out and closed the connection first.
                return

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def make_ca(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """Create a self-signed CA and a server certificate for 127.0.0.1 and localhost.

    Returns the CA certificate's PEM path (for REQUESTS_CA_BUNDLE or SSL_CERT_FILE)
    and a server-side SSL context.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa_key("test-ca")
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyless test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = rsa_key("test-server")
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain_path = directory / "server.pem"
    chain_path.write_bytes(
        server_cert.public_bytes(serialization.Encoding.PEM)
        + server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_path)
    return ca_path, context


@contextlib.contextmanager
def start_issuer(*, tls_directory: Path | None = None, issuer_path: str = "") -> Iterator[Issuer]:
    """Run an issuer on 127.0.0.1 until the block ends; TLS when `tls_directory` is given."""
    server = _QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    ca_path = None
    scheme = "http"
    if tls_directory is not None:
        ca_path, context = make_ca(tls_directory)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        scheme = "https"
    issuer = Issuer(
        base_url=f"{scheme}://127.0.0.1:{port}",
        request_token=secrets.token_urlsafe(24),
        ca_path=ca_path,
        issuer_path=issuer_path,
    )
    issuer.add_key(DEFAULT_KID)
    server.RequestHandlerClass = _handler_class(issuer)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="oidc-issuer", daemon=True
    )
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def oidc_issuer() -> Iterator[Issuer]:
    """A local issuer over plain HTTP, for one test."""
    with start_issuer() as issuer:
        yield issuer


@pytest.fixture
def oidc_issuer_tls(tmp_path: Path) -> Iterator[Issuer]:
    """A local issuer over HTTPS with a self-signed CA at `issuer.ca_path`, for one test."""
    with start_issuer(tls_directory=tmp_path / "tls") as issuer:
        yield issuer


@pytest.fixture(scope="session")
def oidc_issuer_session() -> Iterator[Issuer]:
    """A local issuer over plain HTTP shared by the whole test session.

    Tests that use it must not leave failures queued or change its settings.
    """
    with start_issuer() as issuer:
        yield issuer
