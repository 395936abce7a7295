"""Fixtures for the CI integrations: a committed copy of keyless, caches and servers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import random_string
from tests.support import openbao
from tests.support.issuer import Issuer, oidc_issuer_session  # noqa: F401
from tests.support.moto import moto_sts  # noqa: F401
from tests.support.snapshot import Snapshot, make_snapshot


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """This project's current files, committed in a repository of their own."""
    return make_snapshot(tmp_path_factory.mktemp("keyless-snapshot"))


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache of hook environments, shared by the tests of one run."""
    return tmp_path_factory.mktemp("pre-commit-home")


VAULT_AUDIENCE = "vault.keyless.test"


@dataclass
class VaultServer:
    """OpenBao with JWT auth trusting the local issuer, and the values stored in it."""

    server: openbao.OpenBao
    password: str
    pem: str


@pytest.fixture(scope="session")
def vault_server(
    tmp_path_factory: pytest.TempPathFactory,
    oidc_issuer_session: Issuer,  # noqa: F811
) -> Iterator[VaultServer]:
    """OpenBao with roles for GitHub (`ci`) and GitLab (`gitlab`) tokens of the issuer."""
    password = random_string(28)
    body = f"{random_string(48)}\n{random_string(48)}"
    pem = f"-----BEGIN FAKE KEY-----\n{body}\n-----END FAKE KEY-----"
    for server in openbao.start(tmp_path_factory.mktemp("openbao")):
        server.write("secret/data/app", data={"password": password, "pem": pem})
        server.write(
            "sys/policies/acl/app-read", policy='path "secret/data/app" { capabilities = ["read"] }'
        )
        server.write("sys/auth/jwt", type="jwt")
        server.write(
            "auth/jwt/config",
            jwks_url=oidc_issuer_session.jwks_url,
            bound_issuer=oidc_issuer_session.url,
        )
        server.write(
            "auth/jwt/role/ci",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[VAULT_AUDIENCE],
            bound_claims={"repository": "octo-org/octo-repo"},
            token_ttl=300,
            token_policies=["app-read"],
        )
        server.write(
            "auth/jwt/role/gitlab",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[VAULT_AUDIENCE],
            bound_claims={"project_path": "my-group/my-project"},
            token_ttl=300,
            token_policies=["app-read"],
        )
        yield VaultServer(server, password, pem)
