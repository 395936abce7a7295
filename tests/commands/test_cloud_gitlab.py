"""The cloud commands in a GitLab CI job: `id_tokens` variables and the dotenv export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keyless.cli import main
from tests.support.jwts import claims_for, mint

ROLE = "arn:aws:iam::123456789012:role/deploy"


@pytest.fixture
def gitlab_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GitLab CI job with two ID tokens, a checkout and the runner's temp folder beside it."""
    project = tmp_path / "builds" / "my-group" / "my-project"
    project.mkdir(parents=True)
    Path(f"{project}.tmp").mkdir()
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PROJECT_DIR", str(project))
    monkeypatch.setenv("CI_PROJECT_PATH", "my-group/my-project")
    monkeypatch.setenv("CI_JOB_ID", "77")
    monkeypatch.setenv("AWS_ID_TOKEN", mint(claims_for("sts.amazonaws.com")))
    monkeypatch.setenv("AZURE_ID_TOKEN", mint(claims_for("api://AzureADTokenExchange")))
    monkeypatch.chdir(project)
    return project


def read_dotenv(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def test_aws_picks_token_by_audience(
    gitlab_job: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["aws", "--role-arn", ROLE, "--sts-endpoint", moto_sts, "--credentials", "profile"])
    assert code == 0, capsys.readouterr().err
    values = read_dotenv(gitlab_job / "keyless.env")
    credentials = Path(values["AWS_SHARED_CREDENTIALS_FILE"])
    assert credentials.is_relative_to(Path(f"{gitlab_job}.tmp"))
    assert not credentials.is_relative_to(gitlab_job)
    assert "assumed-role" not in credentials.read_text()
    assert "aws_session_token" in credentials.read_text()


def test_session_name_from_gitlab_job(gitlab_job: Path, moto_sts: str) -> None:
    import boto3

    output = gitlab_job.parent / "values.json"
    args = ["aws", "--role-arn", ROLE, "--sts-endpoint", moto_sts]
    assert main([*args, "--export", "json", "--output", str(output)]) == 0
    values = json.loads(output.read_text())
    client = boto3.client(
        "sts",
        endpoint_url=moto_sts,
        region_name="us-east-1",
        aws_access_key_id=values["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=values["AWS_SESSION_TOKEN"],
    )
    arn = client.get_caller_identity()["Arn"]
    assert arn == "arn:aws:sts::123456789012:assumed-role/deploy/keyless-my-group-my-project-77"
