"""`keyless gcp` end to end against Google STS and IAM Credentials doubles."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import responses

from keyless.cli import main
from keyless.commands.gcp import PrivateFiles, _credential_source
from keyless.identity.token import from_file
from tests import fakes
from tests.commands.helpers import masked_values, token_file
from tests.support.actions import parse_env_file

PROVIDER = "projects/123456789012/locations/global/workloadIdentityPools/ci/providers/github"
ACCOUNT = "deployer@my-project.iam.gserviceaccount.com"
STS = "http://127.0.0.1:9/google-sts"
IAM = "http://127.0.0.1:9/google-iam"
AUDIENCE = f"https://iam.googleapis.com/{PROVIDER}"


def base_args(path: Path) -> list[str]:
    return [
        "gcp",
        "--workload-identity-provider",
        PROVIDER,
        "--sts-endpoint",
        STS,
        "--iam-endpoint",
        IAM,
        "--token-file",
        str(path),
    ]


def register(mocked: responses.RequestsMock, final: str) -> None:
    mocked.post(
        f"{STS}/v1/token",
        json={"access_token": "ya29." + fakes.random_string(30), "expires_in": 3600},
    )
    mocked.post(
        f"{IAM}/v1/projects/-/serviceAccounts/{ACCOUNT}:generateAccessToken",
        json={"accessToken": final, "expireTime": "2031-01-01T00:00:00Z"},
    )


def test_access_token_masked_and_exported(
    github_job: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    final = "ya29." + fakes.random_string(60)
    register(mocked, final)
    path, _ = token_file(github_job, AUDIENCE)
    code = main([*base_args(path), "--service-account", ACCOUNT])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert parse_env_file((github_job / "env").read_text())["GOOGLE_OAUTH_ACCESS_TOKEN"] == final
    assert final in masked_values(captured)


def test_external_account_file_outside_workspace(
    github_job: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    register(mocked, "ya29." + fakes.random_string(60))
    path, token = token_file(github_job, AUDIENCE)
    code = main(
        [*base_args(path), "--service-account", ACCOUNT, "--credentials", "external-account"]
    )
    assert code == 0, capsys.readouterr().err
    env = parse_env_file((github_job / "env").read_text())
    credentials = Path(env["GOOGLE_APPLICATION_CREDENTIALS"])
    assert env["CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE"] == str(credentials)
    assert credentials.is_relative_to(github_job / "temp")
    assert not credentials.is_relative_to(github_job / "work")
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    document = json.loads(credentials.read_text())
    assert document["type"] == "external_account"
    assert document["audience"] == f"//iam.googleapis.com/{PROVIDER}"
    assert document["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    assert document["token_url"] == f"{STS}/v1/token"
    assert document["service_account_impersonation_url"] == (
        f"{IAM}/v1/projects/-/serviceAccounts/{ACCOUNT}:generateAccessToken"
    )
    assert document["service_account_impersonation"] == {"token_lifetime_seconds": 3600}
    source = document["credential_source"]
    assert source["format"] == {"type": "text"}
    assert Path(source["file"]).read_text() == token


def test_credential_source_uses_github_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = token_file(tmp_path, AUDIENCE)
    request_token = fakes.random_string(40)
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9/idtoken?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", request_token)
    files = PrivateFiles(tmp_path)
    source = _credential_source(files, from_file(str(path)), AUDIENCE, explicit_token=False)
    assert source["url"] == (
        "http://127.0.0.1:9/idtoken?api-version=2.0&audience="
        "https%3A%2F%2Fiam.googleapis.com%2Fprojects%2F123456789012%2Flocations%2Fglobal"
        "%2FworkloadIdentityPools%2Fci%2Fproviders%2Fgithub"
    )
    assert source["headers"] == {"Authorization": f"Bearer {request_token}"}
    assert source["format"] == {"type": "json", "subject_token_field_name": "value"}
    assert files.written == []


def test_project_id_rejected_before_token_read(capsys: pytest.CaptureFixture[str]) -> None:
    provider = "projects/my-project/locations/global/workloadIdentityPools/ci/providers/github"
    code = main(["gcp", "--workload-identity-provider", provider, "--token-file", "/nonexistent"])
    err = capsys.readouterr().err
    assert code == 2
    assert "project number" in err
    assert "/nonexistent" not in err
