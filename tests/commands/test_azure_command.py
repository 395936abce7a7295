"""`keyless azure` end to end against an Entra ID token endpoint double."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
import responses

from keyless.cli import main
from tests import fakes
from tests.commands.helpers import masked_values, token_file
from tests.support.actions import parse_env_file

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
AUTHORITY = "http://127.0.0.1:9/entra"
TOKEN_URL = f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"


@pytest.fixture(autouse=True)
def azure_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", AUTHORITY)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", CLIENT)


def register(mocked: responses.RequestsMock) -> str:
    access = "eyJ0eXAi." + fakes.random_string(80)
    mocked.post(
        TOKEN_URL, json={"token_type": "Bearer", "expires_in": 3599, "access_token": access}
    )
    return access


def test_access_token_masked(
    github_job: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    access = register(mocked)
    path, _ = token_file(github_job, "api://AzureADTokenExchange")
    code = main(["azure", "--token-file", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    env = parse_env_file((github_job / "env").read_text())
    assert env["AZURE_ACCESS_TOKEN"] == access
    assert env["AZURE_CLIENT_ID"] == CLIENT
    assert access in masked_values(captured)
    assert CLIENT not in masked_values(captured)


def test_workload_identity_variables(
    github_job: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    register(mocked)
    path, token = token_file(github_job, "api://AzureADTokenExchange")
    code = main(["azure", "--token-file", str(path), "--credentials", "workload-identity"])
    assert code == 0, capsys.readouterr().err
    env = parse_env_file((github_job / "env").read_text())
    federated = Path(env["AZURE_FEDERATED_TOKEN_FILE"])
    assert federated.read_text() == token
    assert stat.S_IMODE(federated.stat().st_mode) == 0o600
    assert federated.is_relative_to(github_job / "temp")
    assert env["AZURE_TENANT_ID"] == TENANT
    assert env["AZURE_AUTHORITY_HOST"] == AUTHORITY
    assert "AZURE_ACCESS_TOKEN" not in env


def test_refusal_exits_2_with_claims(
    tmp_path: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    mocked.post(
        TOKEN_URL,
        status=400,
        json={
            "error": "invalid_client",
            "error_description": "AADSTS700213: No matching federated identity record found "
            "for presented assertion subject 'repo:octo-org/octo-repo:ref:refs/heads/main'.",
            "error_codes": [700213],
        },
    )
    path, token = token_file(tmp_path, "api://AzureADTokenExchange")
    code = main(["azure", "--token-file", str(path), "--state-dir", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == 2
    assert "sub: repo:octo-org/octo-repo:ref:refs/heads/main" in err
    assert token not in err
    assert not list((tmp_path / "state").glob("azure-*"))


def test_exec_removes_token_file(
    tmp_path: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    register(mocked)
    path, _ = token_file(tmp_path, "api://AzureADTokenExchange")
    script = (
        "import os, sys; "
        "sys.exit(0 if os.path.isfile(os.environ['AZURE_FEDERATED_TOKEN_FILE']) else 9)"
    )
    code = main(
        [
            "azure",
            "--token-file",
            str(path),
            "--credentials",
            "workload-identity",
            "--state-dir",
            str(tmp_path / "state"),
            "--exec",
            sys.executable,
            "-c",
            script,
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert not list((tmp_path / "state").glob("azure-*"))
