"""Retries and leases through `responses`, for what OpenBao cannot be made to return.

OpenBao never returns 412 or bursts of 5xx on its own, and issuing a lease needs a
secrets engine backed by an external system (a database), so these paths use doubles
that follow Vault's documented responses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from keyless.exchange.retry import Backoff
from keyless.exchange.state import State, state_dir
from keyless.exchange.vault import Connection, SecretRequest, VaultClient, VaultError
from keyless.exchange.vault_run import Plan, fetch
from keyless.identity.token import IdentityToken
from keyless.secret import Secret
from tests import fakes

URL = "http://127.0.0.1:8200"
LOGIN = f"{URL}/v1/auth/jwt/login"


def login_body() -> dict[str, object]:
    return {
        "auth": {
            "client_token": "s." + fakes.random_string(24),
            "accessor": fakes.random_string(24),
            "policies": ["default", "db"],
            "lease_duration": 300,
        }
    }


def identity() -> IdentityToken:
    return IdentityToken(raw=Secret("a.b.c"), provider="test", claims={"aud": "vault"})


def client(deadline: float = 5.0) -> VaultClient:
    return VaultClient(Connection(url=URL), Backoff(base=0.001, maximum=0.01, deadline=deadline))


@responses.activate
@pytest.mark.parametrize("status", [412, 429, 500, 502, 503, 504])
def test_login_retries_transient_status(status: int) -> None:
    responses.post(LOGIN, status=status, json={"errors": ["try again"]})
    responses.post(LOGIN, status=status, json={"errors": ["try again"]})
    responses.post(LOGIN, json=login_body())
    login = client().login(identity(), mount="jwt", role="ci")
    assert login.policies == ["default", "db"]
    assert len(responses.calls) == 3


@responses.activate
@pytest.mark.parametrize("status", [400, 403])
def test_login_fails_fast(status: int) -> None:
    responses.post(LOGIN, status=status, json={"errors": ['role "ci" could not be found']})
    with pytest.raises(VaultError):
        client().login(identity(), mount="jwt", role="ci")
    assert len(responses.calls) == 1


@responses.activate
def test_5xx_burst_past_deadline() -> None:
    for _ in range(200):
        responses.post(LOGIN, status=503, json={"errors": ["Vault is sealed"]})
    with pytest.raises(VaultError, match="HTTP 503 Vault is sealed"):
        client(deadline=0.05).login(identity(), mount="jwt", role="ci")
    assert 1 < len(responses.calls) < 200


@responses.activate
def test_lease_recorded_in_state(tmp_path: Path) -> None:
    lease_id = "database/creds/app/" + fakes.random_string(24)
    responses.post(LOGIN, json=login_body())
    responses.get(
        f"{URL}/v1/sys/internal/ui/mounts",
        json={"data": {"auth": {}, "secret": {"database/": {"type": "database"}}}},
    )
    responses.get(
        f"{URL}/v1/database/creds/app",
        json={
            "lease_id": lease_id,
            "lease_duration": 3600,
            "renewable": True,
            "data": {"username": "v-app-x", "password": fakes.random_string(20)},
        },
    )
    plan = Plan(
        connection=Connection(url=URL),
        mount="jwt",
        role="ci",
        audience=None,
        token_env=None,
        token_file=str(tmp_path / "token"),
        secrets=[SecretRequest("database/creds/app", None, "DB_", "database/creds/app | DB_")],
        retry_deadline=1.0,
    )
    (tmp_path / "token").write_text(
        "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ2YXVsdCJ9.c2ln"  # {"alg":"none"}.{"aud":"vault"}
    )
    directory = state_dir(str(tmp_path / "state"))
    with State.open(directory) as state:
        outputs, _ = fetch(plan, state)
    assert sorted(output.name for output in outputs) == ["DB_PASSWORD", "DB_USERNAME"]
    entries = json.loads((directory / "state.json").read_text())["entries"]
    assert entries[0]["leases"] == [lease_id]
