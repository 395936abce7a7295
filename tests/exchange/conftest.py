"""Fixtures for the exchange tests: OpenBao, moto's STS, token minting and a network guard.

OpenBao's JWT auth is configured three ways, as real deployments do. The `github`
mount discovers the local OIDC issuer (`oidc_discovery_url`) and the `jwks` mount
reads its `jwks_url`. The `jwt` and `jwt-default` mounts trust a key made here
through `jwt_validation_pubkeys`, so tests can sign any claims they need.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests import fakes
from tests.support import openbao
from tests.support.issuer import Issuer, oidc_issuer_session  # noqa: F401
from tests.support.moto import moto_sts  # noqa: F401
from tests.support.mtls import make_mutual_tls

ISSUER = "https://issuer.keyless.test"
AUDIENCE = "vault.keyless.test"
REPOSITORY = "org/app"
SUBJECT = f"repo:{REPOSITORY}:ref:refs/heads/main"


@dataclass
class Signer:
    """An RSA key that signs identity tokens the way a CI issuer does."""

    key: rsa.RSAPrivateKey
    kid: str

    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def mint(self, **overrides: Any) -> str:
        """Return a signed token; a claim set to None is left out."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": SUBJECT,
            "repository": REPOSITORY,
            "ref": "refs/heads/main",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


def make_signer(kid: str) -> Signer:
    return Signer(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)


@dataclass
class Vault:
    """The configured dev server, with the values planted in it."""

    server: openbao.OpenBao
    signer: Signer
    issuer: Issuer
    values: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url


APP_POLICY = """
path "secret/data/app" { capabilities = ["read"] }
path "secret/data/multi" { capabilities = ["read"] }
path "kv1/app" { capabilities = ["read"] }
"""


@pytest.fixture(scope="session")
def vault(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Vault]:
    """A running OpenBao with JWT auth, KV v1 and v2 mounts, policies and roles."""
    signer = make_signer("test-key-1")
    values = {
        "app_password": fakes.random_string(28),
        "app_api_key": fakes.random_string(36),
        "kv1_password": fakes.random_string(28),
        "other_password": fakes.random_string(28),
        "pem": "-----BEGIN FAKE KEY-----\n"
        + fakes.random_string(48)
        + "\n"
        + fakes.random_string(48)
        + "\n-----END FAKE KEY-----",
    }
    for server in openbao.start(tmp_path_factory.mktemp("openbao")):
        server.write("sys/mounts/kv1", type="kv", options={"version": "1"})
        server.write(
            "secret/data/app",
            data={"password": values["app_password"], "api-key": values["app_api_key"]},
        )
        server.write("secret/data/multi", data={"pem": values["pem"]})
        server.write("secret/data/other", data={"password": values["other_password"]})
        server.write("kv1/app", password=values["kv1_password"])
        server.write("sys/policies/acl/app-read", policy=APP_POLICY)

        for mount, config in (
            ("jwt", {}),
            ("jwt-default", {"default_role": "ci"}),
        ):
            server.write(f"sys/auth/{mount}", type="jwt")
            server.write(
                f"auth/{mount}/config",
                jwt_validation_pubkeys=[signer.public_pem()],
                bound_issuer=ISSUER,
                **config,
            )
            server.write(
                f"auth/{mount}/role/ci",
                role_type="jwt",
                user_claim="sub",
                bound_audiences=[AUDIENCE],
                bound_claims={"repository": REPOSITORY},
                token_ttl=300,
                token_max_ttl=600,
                token_policies=["app-read"],
            )
        server.write(
            "auth/jwt/role/no-audience",
            role_type="jwt",
            user_claim="sub",
            bound_subject=SUBJECT,
            token_policies=["app-read"],
        )
        server.write(
            "auth/jwt/role/actor",
            role_type="jwt",
            user_claim="actor",
            bound_audiences=[AUDIENCE],
            token_policies=["app-read"],
        )
        server.write(
            "auth/jwt/role/environment",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[AUDIENCE],
            bound_claims={"environment": "production"},
            token_policies=["app-read"],
        )
        configure_namespace(server, signer, values)
        issuer: Issuer = request.getfixturevalue("oidc_issuer_session")
        for mount, config in (
            ("github", {"oidc_discovery_url": issuer.url}),
            ("jwks", {"jwks_url": issuer.jwks_url}),
        ):
            server.write(f"sys/auth/{mount}", type="jwt")
            server.write(f"auth/{mount}/config", bound_issuer=issuer.url, **config)
            server.write(
                f"auth/{mount}/role/deploy",
                role_type="jwt",
                user_claim="sub",
                bound_audiences=[AUDIENCE],
                bound_claims={"repository": "octo-org/octo-repo", "ref": "refs/heads/main"},
                token_ttl=300,
                token_policies=["app-read"],
            )
        yield Vault(server, signer, issuer, values)


NAMESPACE = "team"


def configure_namespace(server: openbao.OpenBao, signer: Signer, values: dict[str, str]) -> None:
    """Add namespace `team` with its own JWT auth, KV v2 mount, policy and role."""
    server.write(f"sys/namespaces/{NAMESPACE}")
    values["team_password"] = fakes.random_string(28)
    server.write("sys/mounts/kv", namespace=NAMESPACE, type="kv", options={"version": "2"})
    server.write("kv/data/app", namespace=NAMESPACE, data={"password": values["team_password"]})
    server.write(
        "sys/policies/acl/team-read",
        namespace=NAMESPACE,
        policy='path "kv/data/app" { capabilities = ["read"] }',
    )
    server.write("sys/auth/jwt", namespace=NAMESPACE, type="jwt")
    server.write(
        "auth/jwt/config",
        namespace=NAMESPACE,
        jwt_validation_pubkeys=[signer.public_pem()],
        bound_issuer=ISSUER,
    )
    server.write(
        "auth/jwt/role/ci",
        namespace=NAMESPACE,
        role_type="jwt",
        user_claim="sub",
        bound_audiences=[AUDIENCE],
        token_policies=["team-read"],
    )


@pytest.fixture(scope="session")
def vault_tls(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Vault]:
    """A second OpenBao, serving HTTPS with its own CA at `server.ca_path`.

    A second listener at `server.mutual_tls_url` requires a client certificate;
    its files are in `server.mutual_tls`.
    """
    signer = make_signer("tls-key")
    values = {"kv1_password": fakes.random_string(28)}
    workdir = tmp_path_factory.mktemp("openbao-tls")
    mutual_tls = make_mutual_tls(workdir / "mtls")
    for server in openbao.start(workdir, tls=True, mutual_tls=mutual_tls):
        server.write("sys/mounts/kv1", type="kv", options={"version": "1"})
        server.write("kv1/app", password=values["kv1_password"])
        server.write("sys/policies/acl/app-read", policy=APP_POLICY)
        server.write("sys/auth/jwt", type="jwt")
        server.write(
            "auth/jwt/config", jwt_validation_pubkeys=[signer.public_pem()], bound_issuer=ISSUER
        )
        server.write(
            "auth/jwt/role/ci",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[AUDIENCE],
            token_policies=["app-read"],
        )
        issuer: Issuer = request.getfixturevalue("oidc_issuer_session")
        yield Vault(server, signer, issuer, values)


@pytest.fixture
def token_file(tmp_path: Path, vault: Vault) -> Path:
    """A file with a valid identity token for role `ci`."""
    path = tmp_path / "id-token"
    path.write_text(vault.signer.mint())
    return path


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """A responses mock that fails any request to a URL the test did not register."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
