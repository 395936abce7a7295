"""`keyless aws` end to end: moto's STS, real AWS SDK reads of what keyless wrote."""

from __future__ import annotations

import configparser
import json
import stat
import sys
from pathlib import Path

import pytest
import responses

from keyless.cli import main
from tests.commands.helpers import masked_values, token_file
from tests.support.actions import parse_env_file

ROLE = "arn:aws:iam::123456789012:role/deploy"


def caller_arn(environment: dict[str, str], moto: str) -> str:
    """Return the ARN that AWS's own SDK resolves from `environment`, asking moto's STS."""
    import boto3

    session = boto3.Session(
        aws_access_key_id=environment.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environment.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environment.get("AWS_SESSION_TOKEN"),
        region_name="eu-west-1",
    )
    client = session.client("sts", endpoint_url=moto)
    arn: str = client.get_caller_identity()["Arn"]
    return arn


def test_env_export_in_github(
    github_job: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, token = token_file(github_job, "sts.amazonaws.com")
    code = main(
        [
            "aws",
            "--role-arn",
            ROLE,
            "--region",
            "eu-west-1",
            "--sts-endpoint",
            moto_sts,
            "--token-file",
            str(path),
            "--session-name",
            "keyless-test",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    env = parse_env_file((github_job / "env").read_text())
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    masked = masked_values(captured)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert env[name] in masked, name
    assert token in masked
    assert "eu-west-1" not in masked
    assert caller_arn(env, moto_sts) == (
        "arn:aws:sts::123456789012:assumed-role/deploy/keyless-test"
    )


def test_profile_credentials_file(
    github_job: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = token_file(github_job, "sts.amazonaws.com")
    code = main(
        [
            "aws",
            "--role-arn",
            ROLE,
            "--sts-endpoint",
            moto_sts,
            "--token-file",
            str(path),
            "--credentials",
            "profile",
            "--profile",
            "ci",
            "--session-name",
            "profile-test",
        ]
    )
    assert code == 0, capsys.readouterr().err
    env = parse_env_file((github_job / "env").read_text())
    credentials = Path(env["AWS_SHARED_CREDENTIALS_FILE"])
    assert env["AWS_PROFILE"] == "ci"
    assert credentials.is_relative_to(github_job / "temp")
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    parser = configparser.ConfigParser()
    parser.read(credentials)
    profile = dict(parser["ci"])
    environment = {
        "AWS_ACCESS_KEY_ID": profile["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": profile["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": profile["aws_session_token"],
    }
    assert caller_arn(environment, moto_sts).endswith("assumed-role/deploy/profile-test")


def test_web_identity_mode_lets_the_sdk_exchange(
    tmp_path: Path,
    moto_sts: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, token = token_file(tmp_path, "sts.amazonaws.com")
    output = tmp_path / "values.json"
    code = main(
        [
            "aws",
            "--role-arn",
            ROLE,
            "--sts-endpoint",
            moto_sts,
            "--token-file",
            str(path),
            "--credentials",
            "web-identity",
            "--session-name",
            "sdk-session",
            "--export",
            "json",
            "--output",
            str(output),
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    values = json.loads(output.read_text())
    token_path = Path(values["AWS_WEB_IDENTITY_TOKEN_FILE"])
    assert token_path.read_text() == token
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    assert values["AWS_ROLE_ARN"] == ROLE
    assert "expires in" in captured.err
    import boto3

    for name, value in values.items():
        monkeypatch.setenv(name, value)
    client = boto3.Session(region_name="us-east-1").client("sts", endpoint_url=moto_sts)
    assert client.get_caller_identity()["Arn"].endswith("assumed-role/deploy/sdk-session")


def test_web_identity_rejects_chaining(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    code = main(
        [
            "aws",
            "--role-arn",
            ROLE,
            "--chain-role-arn",
            "arn:aws:iam::123456789012:role/next",
            "--credentials",
            "web-identity",
            "--token-file",
            str(path),
        ]
    )
    assert code == 2
    assert "cannot carry --chain-role-arn" in capsys.readouterr().err


def test_exec_sees_credentials_only_while_running(
    tmp_path: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    report = tmp_path / "child.json"
    script = (
        "import json, os, sys; "
        "keys = ['AWS_ACCESS_KEY_ID', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_PROFILE']; "
        f"json.dump({{k: os.environ.get(k) for k in keys}}, open({str(report)!r}, 'w')); "
        "sys.exit(7)"
    )
    code = main(
        [
            "aws",
            "--role-arn",
            ROLE,
            "--sts-endpoint",
            moto_sts,
            "--token-file",
            str(path),
            "--credentials",
            "profile",
            "--state-dir",
            str(tmp_path / "state"),
            "--exec",
            "--",
            sys.executable,
            "-c",
            script,
        ]
    )
    assert code == 7
    seen = json.loads(report.read_text())
    assert seen["AWS_PROFILE"] == "default"
    assert seen["AWS_ACCESS_KEY_ID"] is None
    assert not Path(seen["AWS_SHARED_CREDENTIALS_FILE"]).exists()
    assert capsys.readouterr().out == ""


def test_missing_role_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    assert main(["aws", "--token-file", str(path)]) == 2
    assert "--role-arn is required" in capsys.readouterr().err


def test_role_from_aws_role_arn(
    tmp_path: Path,
    moto_sts: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    code = main(
        [
            "aws",
            "--sts-endpoint",
            moto_sts,
            "--token-file",
            str(path),
            "--export",
            "shell",
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "export AWS_REGION=ap-southeast-2" in out
    assert "export AWS_ACCESS_KEY_ID=ASIA" in out


def test_bad_export_fails_before_exchange(
    tmp_path: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    args = ["aws", "--role-arn", ROLE, "--sts-endpoint", "http://127.0.0.1:9/sts"]
    code = main([*args, "--token-file", str(path), "--export", "yaml"])
    assert code == 2
    assert "--export 'yaml' is not an export mode" in capsys.readouterr().err
    assert len(mocked.calls) == 0


def test_missing_github_env_fails_before_exchange(
    tmp_path: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    state = tmp_path / "state"
    args = ["aws", "--role-arn", ROLE, "--sts-endpoint", "http://127.0.0.1:9/sts"]
    extra = ["--token-file", str(path), "--export", "github", "--state-dir", str(state)]
    assert main([*args, *extra]) == 2
    assert "GITHUB_ENV is not set" in capsys.readouterr().err
    assert len(mocked.calls) == 0
    assert not list(state.glob("aws-*"))


def test_failed_export_removes_credentials_folder(
    tmp_path: Path, moto_sts: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    state = tmp_path / "state"
    # A folder where the dotenv file should be: the preflight passes, the write fails.
    dotenv = tmp_path / "folder"
    dotenv.mkdir()
    args = ["aws", "--role-arn", ROLE, "--sts-endpoint", moto_sts, "--token-file", str(path)]
    extra = ["--credentials", "profile", "--export", "gitlab", "--dotenv-file", str(dotenv)]
    assert main([*args, *extra, "--state-dir", str(state)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert not list(state.glob("aws-*"))


def test_missing_dotenv_folder_fails_before_exchange(
    tmp_path: Path, mocked: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = token_file(tmp_path, "sts.amazonaws.com")
    dotenv = tmp_path / "missing" / "keyless.env"
    args = ["aws", "--role-arn", ROLE, "--sts-endpoint", "http://127.0.0.1:9"]
    extra = ["--token-file", str(path), "--export", "gitlab", "--dotenv-file", str(dotenv)]
    assert main([*args, *extra, "--state-dir", str(tmp_path / "state")]) == 2
    assert "missing of --dotenv-file does not exist" in capsys.readouterr().err
    assert len(mocked.calls) == 0
