"""`keyless token` end to end: real environment, local issuer, exit codes and output."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from keyless.cli import main
from tests.support.issuer import Issuer


@pytest.fixture
def github_job(oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Issuer:
    for name, value in oidc_issuer.github_environment().items():
        monkeypatch.setenv(name, value)
    return oidc_issuer


@pytest.fixture
def gitlab_job(oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A GitLab job with one ID token; returns the raw token."""
    raw = oidc_issuer.mint(flavor="gitlab", audience="https://vault.example.com")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("VAULT_ID_TOKEN", raw)
    return raw


def test_text_report_github(github_job: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "--audience", "sts.amazonaws.com"])
    out = capsys.readouterr().out
    assert code == 0
    assert "  repository             octo-org/octo-repo" in out
    assert "  aud                    sts.amazonaws.com" in out
    assert "derived from       ref" in out
    assert "clock skew  under 1s against 127.0.0.1" in out
    assert "result: ok (signature not verified)" in out


def test_text_report_gitlab(gitlab_job: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token"]) == 0
    out = capsys.readouterr().out
    assert "provider   gitlab:VAULT_ID_TOKEN" in out
    assert "pipeline_source        push" in out
    assert "clock skew  not measured" in out


def test_json_report(github_job: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "--audience", "vault", "--verify", "--format", "json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["version"] == 1
    assert document["ok"] is True
    assert document["claims"]["aud"] == "vault"
    assert document["subject"]["form"] == "default"
    assert document["verification"]["ok"] is True
    assert document["time"]["expires_at"].endswith("Z")


def test_verify_github(github_job: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "--audience", "vault", "--verify", "--expect-issuer", github_job.url])
    out = capsys.readouterr().out
    assert code == 0
    assert "ok      signature  valid RS256 signature" in out
    assert "result: verified" in out


def test_expect_claim_mismatch_exits_1(
    github_job: Issuer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "token",
            "--audience",
            "vault",
            "--expect-claim",
            "repository=Octo-Org/octo-repo",
            "--expect-claim",
            "ref=refs/heads/main",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "MISMATCH  repository" in out
    assert "differs only in case" in out
    assert "result: 1 expectation(s) not met (repository)" in out


def test_expect_claim_from_environment(
    github_job: Issuer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYLESS_EXPECT_CLAIM", "ref=refs/heads/main\nactor=someone-else")
    assert main(["token", "--audience", "vault"]) == 1
    assert "MISMATCH  actor" in capsys.readouterr().out


def test_gitlab_audience_mismatch(gitlab_job: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["token", "--audience", "sts.amazonaws.com"])
    captured = capsys.readouterr()
    assert code == 1
    assert "set `aud: sts.amazonaws.com` under the job's id_tokens" in captured.out
    assert "GitLab: VAULT_ID_TOKEN has the audience" in captured.err


def test_verify_expired_exits_1(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(oidc_issuer.mint(issued_at=int(time.time()) - 7200), encoding="utf-8")
    code = main(["token", "--token-file", str(token_file), "--verify"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED  time" in out
    assert "result: verification failed (time)" in out


def test_missing_permission_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert main(["token"]) == 2
    err = capsys.readouterr().err
    assert "Tip: grant the job" in err
    assert "id-token: write" in err


def test_invalid_expect_claim_exits_2(
    github_job: Issuer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--expect-claim", "sub"]) == 2
    assert "--expect-claim 'sub' is invalid" in capsys.readouterr().err
    assert github_job.token_requests == []


def test_raw_prints_only_token(gitlab_job: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--raw"]) == 0
    captured = capsys.readouterr()
    assert captured.out == gitlab_job + "\n"
    assert gitlab_job not in captured.err


def test_raw_withheld_on_mismatch(gitlab_job: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--raw", "--expect-claim", "ref=release"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not printed because a check failed" in captured.err
    assert gitlab_job not in captured.err


def test_raw_with_output_is_usage_error(gitlab_job: str, tmp_path: Path) -> None:
    assert main(["token", "--raw", "--output", str(tmp_path / "t")]) == 2
    assert not (tmp_path / "t").exists()


LEAK_CASES = [
    ["token"],
    ["token", "--format", "json"],
    ["token", "--verify"],
    ["token", "--verify", "--format", "json", "-vv"],
    ["token", "--expect-claim", "ref=nope", "--expect-audience", "nope", "-vv"],
    ["token", "--verify", "--expect-issuer", "https://token.actions.githubusercontent.com"],
    ["token", "--audience", "other", "--verify", "-vv"],
]


@pytest.mark.parametrize("argv", LEAK_CASES)
def test_raw_token_never_printed(
    gitlab_job: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(argv)
    captured = capsys.readouterr()
    signature = gitlab_job.rsplit(".", 1)[1]
    assert gitlab_job not in captured.out
    assert gitlab_job not in captured.err
    assert signature not in captured.out
    assert signature not in captured.err


@pytest.mark.parametrize("argv", LEAK_CASES)
def test_github_token_only_in_mask(
    github_job: Issuer, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(argv)
    captured = capsys.readouterr()
    machine = "json" in argv
    mask_stream = captured.err if machine else captured.out
    other_stream = captured.out if machine else captured.err
    # Log lines written before the token exists may come first; the mask command
    # must be the only line that carries the token.
    masks = [line for line in mask_stream.splitlines() if line.startswith("::add-mask::")]
    assert len(masks) == 1
    raw = masks[0].removeprefix("::add-mask::")
    assert raw.count(".") == 2
    assert mask_stream.count(raw) == 1
    assert raw not in other_stream


def test_github_json_stays_parseable(
    github_job: Issuer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--audience", "vault", "--format", "json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["claims"]["aud"] == "vault"
    assert captured.err.startswith("::add-mask::")


def test_github_raw_masks_on_stderr(github_job: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--audience", "vault", "--raw"]) == 0
    captured = capsys.readouterr()
    raw = captured.out.strip()
    assert raw.count(".") == 2
    assert captured.err.splitlines()[0] == f"::add-mask::{raw}"


def test_scan_format_variable_ignored(
    gitlab_job: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYLESS_FORMAT", "sarif")
    monkeypatch.setenv("KEYLESS_TOKEN_FORMAT", "json")
    assert main(["token"]) == 0
    assert json.loads(capsys.readouterr().out)["provider"] == "gitlab:VAULT_ID_TOKEN"


def test_invalid_token_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-a-jwt-at-all", encoding="utf-8")
    assert main(["token", "--token-file", str(token_file)]) == 2
    err = capsys.readouterr().err
    assert "is not a JWT" in err
    assert "not-a-jwt-at-all" not in err
