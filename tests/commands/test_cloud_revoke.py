"""`keyless revoke` after the cloud commands: every file gone, every exported name cleared."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from keyless.cli import main
from tests import fakes
from tests.commands.helpers import token_file
from tests.support.actions import parse_env_file

ROLE = "arn:aws:iam::123456789012:role/deploy"
PROVIDER = "projects/123456789012/locations/global/workloadIdentityPools/ci/providers/github"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_revoke_after_all_three_clouds(
    github_job: Path,
    moto_sts: str,
    mocked: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    mocked.add_passthru(moto_sts)
    mocked.post("http://127.0.0.1:9/s/v1/token", json={"access_token": fakes.random_string(40)})
    mocked.post(
        f"http://127.0.0.1:9/e/{TENANT}/oauth2/v2.0/token",
        json={"token_type": "Bearer", "expires_in": 60, "access_token": fakes.random_string(40)},
    )
    aws_token, _ = token_file(github_job, "sts.amazonaws.com")
    aws = ["aws", "--role-arn", ROLE, "--sts-endpoint", moto_sts, "--token-file", str(aws_token)]
    assert main([*aws]) == 0
    assert main([*aws, "--credentials", "profile"]) == 0
    assert main([*aws, "--credentials", "web-identity"]) == 0
    gcp_token, _ = token_file(github_job / "work", f"https://iam.googleapis.com/{PROVIDER}")
    gcp = [
        "gcp",
        "--workload-identity-provider",
        PROVIDER,
        "--sts-endpoint",
        "http://127.0.0.1:9/s",
    ]
    assert main([*gcp, "--token-file", str(gcp_token), "--credentials", "external-account"]) == 0
    azure_token, _ = token_file(github_job / "temp", "api://AzureADTokenExchange")
    azure = [
        "azure",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--token-file",
        str(azure_token),
    ]
    assert main([*azure, "--authority-host", "http://127.0.0.1:9/e"]) == 0
    capsys.readouterr()

    exported = parse_env_file((github_job / "env").read_text())
    files = [
        Path(exported[name])
        for name in (
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "GOOGLE_APPLICATION_CREDENTIALS",
        )
    ]
    assert all(path.is_file() for path in files)

    assert main(["revoke"]) == 0, capsys.readouterr().err
    for path in files:
        assert not path.exists(), path
        assert not path.parent.exists(), path.parent
    cleared = parse_env_file((github_job / "env").read_text())
    for name in exported:
        assert cleared[name] == "", name
    leftovers = [p.name for p in (github_job / "temp" / "keyless").iterdir()]
    assert not [name for name in leftovers if name.startswith(("aws-", "gcp-", "azure-"))]
    assert main(["revoke"]) == 0
