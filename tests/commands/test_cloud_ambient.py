"""The cloud commands request the job's token with their own audience from the local issuer."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
import requests
import responses

from keyless.cli import main
from tests import fakes
from tests.support.actions import parse_env_file
from tests.support.issuer import Issuer

PROVIDER = "projects/123456789012/locations/global/workloadIdentityPools/ci/providers/github"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture
def github_oidc(github_job: Path, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Issuer:
    """A GitHub Actions job with `id-token: write`, served by the local issuer."""
    for name, value in oidc_issuer.github_environment().items():
        monkeypatch.setenv(name, value)
    return oidc_issuer


def requested_audiences(issuer: Issuer) -> list[str]:
    return [aud for request in issuer.token_requests for aud in request.query.get("audience", [])]


def test_aws_requests_sts_audience(
    github_oidc: Issuer, github_job: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["aws", "--role-arn", "arn:aws:iam::123456789012:role/deploy", "--sts-endpoint", moto_sts]
    )
    assert code == 0, capsys.readouterr().err
    assert requested_audiences(github_oidc) == ["sts.amazonaws.com"]
    assert parse_env_file((github_job / "env").read_text())["AWS_ACCESS_KEY_ID"]


def test_azure_requests_token_exchange_audience(
    github_oidc: Issuer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    authority = "http://127.0.0.1:9/entra"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.add_passthru(github_oidc.base_url)
        mocked.post(
            f"{authority}/{TENANT}/oauth2/v2.0/token",
            json={
                "token_type": "Bearer",
                "expires_in": 60,
                "access_token": fakes.random_string(40),
            },
        )
        code = main(
            [
                "azure",
                "--tenant-id",
                TENANT,
                "--client-id",
                CLIENT,
                "--authority-host",
                authority,
            ]
        )
    assert code == 0, capsys.readouterr().err
    assert requested_audiences(github_oidc) == ["api://AzureADTokenExchange"]


def test_gcp_external_account_refreshes_from_github(
    github_oidc: Issuer, github_job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sts = "http://127.0.0.1:9/google-sts"
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.add_passthru(github_oidc.base_url)
        mocked.post(f"{sts}/v1/token", json={"access_token": "ya29.x" + fakes.random_string(30)})
        code = main(
            [
                "gcp",
                "--workload-identity-provider",
                PROVIDER,
                "--sts-endpoint",
                sts,
                "--credentials",
                "external-account",
            ]
        )
    assert code == 0, capsys.readouterr().err
    audience = f"https://iam.googleapis.com/{PROVIDER}"
    assert requested_audiences(github_oidc) == [audience]
    path = parse_env_file((github_job / "env").read_text())["GOOGLE_APPLICATION_CREDENTIALS"]
    source = json.loads(Path(path).read_text())["credential_source"]
    assert "file" not in source
    # Fetch a fresh token the way Google's SDKs do for a url credential source.
    answer = requests.get(source["url"], headers=source["headers"], timeout=10)
    field = source["format"]["subject_token_field_name"]
    claims = jwt.decode(answer.json()[field], options={"verify_signature": False})
    assert claims["aud"] == audience
