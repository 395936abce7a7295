"""No secret reaches a log: every cloud command at debug level, success and refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from keyless.cli import main
from tests import fakes
from tests.commands.helpers import masked_values, token_file, without_masks
from tests.support.actions import parse_env_file

PROVIDER = "projects/123456789012/locations/global/workloadIdentityPools/ci/providers/github"
ACCOUNT = "deployer@my-project.iam.gserviceaccount.com"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ROLE = "arn:aws:iam::123456789012:role/deploy"


def check_no_leak(captured: pytest.CaptureResult[str], secrets: list[str]) -> None:
    masked = masked_values(captured)
    unmasked_stdout = without_masks(captured.out)
    unmasked_stderr = without_masks(captured.err)
    for secret in secrets:
        assert secret not in unmasked_stderr
        assert secret not in unmasked_stdout
        assert secret in masked, "every secret is masked in the job log"


def test_aws_debug_log_has_no_secret(
    github_job: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, token = token_file(github_job, "sts.amazonaws.com")
    args = ["aws", "-vv", "--role-arn", ROLE, "--sts-endpoint", moto_sts, "--token-file", str(path)]
    assert main([*args, "--chain-role-arn", "arn:aws:iam::123456789012:role/next"]) == 0
    captured = capsys.readouterr()
    env = parse_env_file((github_job / "env").read_text())
    secrets = [env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]]
    check_no_leak(captured, [token, *secrets])
    assert "AWS STS: AssumeRole" in captured.err


def test_gcp_debug_log_has_no_secret(
    github_job: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    federated, final = "ya29." + fakes.random_string(50), "ya29." + fakes.random_string(50)
    mocked.post("http://127.0.0.1:9/s/v1/token", json={"access_token": federated, "expires_in": 60})
    mocked.post(
        f"http://127.0.0.1:9/i/v1/projects/-/serviceAccounts/{ACCOUNT}:generateAccessToken",
        json={"accessToken": final, "expireTime": "2031-01-01T00:00:00Z"},
    )
    path, token = token_file(github_job, f"https://iam.googleapis.com/{PROVIDER}")
    code = main(
        [
            "gcp",
            "-vv",
            "--workload-identity-provider",
            PROVIDER,
            "--service-account",
            ACCOUNT,
            "--sts-endpoint",
            "http://127.0.0.1:9/s",
            "--iam-endpoint",
            "http://127.0.0.1:9/i",
            "--token-file",
            str(path),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    check_no_leak(captured, [token, final])
    assert federated not in captured.err + captured.out


def test_azure_refusal_log_has_no_secret(
    github_job: Path,
    mocked: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9/e")
    mocked.post(
        f"http://127.0.0.1:9/e/{TENANT}/oauth2/v2.0/token",
        status=401,
        json={
            "error": "invalid_client",
            "error_description": "AADSTS70021: No matching federated identity record found.",
            "error_codes": [70021],
        },
    )
    path, token = token_file(github_job, "api://AzureADTokenExchange")
    code = main(
        ["azure", "-vv", "--tenant-id", TENANT, "--client-id", CLIENT, "--token-file", str(path)]
    )
    captured = capsys.readouterr()
    assert code == 2
    check_no_leak(captured, [token])
    assert "AADSTS70021" in captured.err


def test_public_values_stay_out_of_redaction(github_job: Path, moto_sts: str) -> None:
    from keyless.secret import redact_text

    path, _ = token_file(github_job, "sts.amazonaws.com")
    profile = "keyless-public-profile"
    args = ["aws", "--role-arn", ROLE, "--sts-endpoint", moto_sts, "--token-file", str(path)]
    extra = ["--credentials", "profile", "--profile", profile, "--region", "eu-central-1"]
    assert main([*args, *extra]) == 0
    assert redact_text(f"profile {profile} in eu-central-1") == f"profile {profile} in eu-central-1"
