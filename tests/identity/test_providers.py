"""Ambient token providers against the local issuer and real environment variables."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from keyless import http, logs
from keyless.identity import IdentityError, obtain_token
from keyless.identity.providers.github import request_url
from keyless.identity.providers.gitlab import variable_for
from tests.support.issuer import Issuer

FAST_RETRY = http.RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


@pytest.fixture
def github_job(oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> Issuer:
    for name, value in oidc_issuer.github_environment().items():
        monkeypatch.setenv(name, value)
    return oidc_issuer


def _event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event: str, payload: object) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    monkeypatch.setenv("GITHUB_EVENT_NAME", event)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))


def _pull_request(head: str, base: str, *, fork: bool) -> dict[str, object]:
    return {
        "pull_request": {
            "number": 7,
            "head": {"repo": {"full_name": head, "fork": fork}},
            "base": {"repo": {"full_name": base, "fork": False}},
        }
    }


# GitHub Actions


def test_request_url_appends_audience() -> None:
    url = "https://example.invalid/idtoken?api-version=2.0"
    assert request_url(url, "sts.amazonaws.com") == url + "&audience=sts.amazonaws.com"
    assert request_url(url, None) == url
    assert (
        request_url("https://example.invalid/t", "a b")
        == "https://example.invalid/t?audience=a%20b"
    )


def test_github_success(github_job: Issuer) -> None:
    token = obtain_token("sts.amazonaws.com", retry=FAST_RETRY)
    assert token.provider == "github"
    assert token.claims["aud"] == "sts.amazonaws.com"
    assert token.claims["iss"] == github_job.url
    request = github_job.token_requests[0]
    assert request.query["api-version"] == ["2.0"]
    assert request.query["audience"] == ["sts.amazonaws.com"]
    assert request.authorization == f"Bearer {github_job.request_token}"
    assert request.user_agent == http.USER_AGENT


def test_github_measures_clock_skew(github_job: Issuer) -> None:
    github_job.date_offset = -120.0
    token = obtain_token("vault", retry=FAST_RETRY)
    assert token.clock_skew is not None
    assert 118 < token.clock_skew < 122
    assert token.clock_skew_source == "127.0.0.1"


def test_github_retries_500(github_job: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup()
    github_job.token_failures.append(500)
    token = obtain_token("vault", retry=FAST_RETRY)
    assert token.claims["aud"] == "vault"
    assert len(github_job.token_requests) == 2
    err = capsys.readouterr().err
    assert "GitHub: token request to 127.0.0.1 failed with HTTP 500; retrying" in err


def test_github_retries_timeout(github_job: Issuer) -> None:
    github_job.token_delays.append(1.5)
    token = obtain_token("vault", http=http.session(timeout=(2.0, 0.3)), retry=FAST_RETRY)
    assert token.claims["aud"] == "vault"
    assert len(github_job.token_requests) == 2


def test_github_gives_up_after_attempts(github_job: Issuer) -> None:
    github_job.token_failures.extend([502, 503, 500])
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault", retry=FAST_RETRY)
    assert "failed with HTTP 500" in caught.value.message
    assert len(github_job.token_requests) == 3


def test_github_no_retry_on_401(github_job: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "expired-request-token")
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault", retry=FAST_RETRY)
    assert "rejected the request token (HTTP 401)" in caught.value.message
    assert len(github_job.token_requests) == 1


def test_github_missing_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set" in (
        caught.value.message
    )
    assert caught.value.hint is not None
    assert "id-token: write" in caught.value.hint


def test_github_fork_pull_request(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _event(tmp_path, monkeypatch, "pull_request", _pull_request("fan/app", "org/app", fork=True))
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "pull request #7 from the fork fan/app" in caught.value.message
    assert "forks no id-token permission" in caught.value.message


def test_github_same_repo_pull_request(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    # The base repository is itself a fork, so `fork` is true on both sides.
    _event(tmp_path, monkeypatch, "pull_request", _pull_request("org/app", "org/app", fork=True))
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "fork" not in caught.value.message
    assert caught.value.hint is not None
    assert "id-token: write" in caught.value.hint


def test_github_dependabot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_ACTOR", "dependabot[bot]")
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "triggered by Dependabot" in caught.value.message


def test_github_masks_token_first(github_job: Issuer, capsys: pytest.CaptureFixture[str]) -> None:
    token = obtain_token("vault", retry=FAST_RETRY)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"::add-mask::{token.raw.reveal()}"


# GitLab CI


@pytest.fixture
def gitlab_job(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")


def test_gitlab_single_variable(
    gitlab_job: None, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="vault"))
    token = obtain_token(None)
    assert token.provider == "gitlab:VAULT_ID_TOKEN"
    assert token.claims["project_path"] == "my-group/my-project"


def test_gitlab_variable_named_after_audience(
    gitlab_job: None, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="other"))
    monkeypatch.setenv(
        "STS_AMAZONAWS_COM_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="x")
    )
    token = obtain_token("sts.amazonaws.com")
    assert token.provider == "gitlab:STS_AMAZONAWS_COM_ID_TOKEN"
    assert variable_for("https://vault.example.com") == "VAULT_EXAMPLE_COM_ID_TOKEN"


def test_gitlab_variable_with_audience(
    gitlab_job: None, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("A_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="https://a"))
    monkeypatch.setenv("B_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="https://b"))
    token = obtain_token("https://b")
    assert token.provider == "gitlab:B_ID_TOKEN"


def test_gitlab_ambiguous_variables(
    gitlab_job: None, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("A_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="https://a"))
    monkeypatch.setenv("B_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="https://b"))
    with pytest.raises(IdentityError) as caught:
        obtain_token("https://c")
    assert "A_ID_TOKEN (aud https://a), B_ID_TOKEN (aud https://b)" in caught.value.message
    assert caught.value.hint == "choose one with --token-env NAME"


def test_gitlab_token_env_selects(
    gitlab_job: None, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("A_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="https://a"))
    monkeypatch.setenv("B_ID_TOKEN", oidc_issuer.mint(flavor="gitlab", audience="https://b"))
    token = obtain_token("https://c", token_env="A_ID_TOKEN")
    assert token.claims["aud"] == "https://a"


def test_gitlab_removed_ci_job_jwt(
    gitlab_job: None, oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI_JOB_JWT_V2", oidc_issuer.mint(flavor="gitlab"))
    with pytest.raises(IdentityError) as caught:
        obtain_token("https://vault.example.com")
    assert "removed CI_JOB_JWT and CI_JOB_JWT_V2 in GitLab 17.0" in caught.value.message
    assert caught.value.hint is not None
    assert "id_tokens:" in caught.value.hint
    assert "aud: https://vault.example.com" in caught.value.hint


def test_gitlab_no_id_tokens(gitlab_job: None) -> None:
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "no *_ID_TOKEN variable is set" in caught.value.message


# CircleCI and Buildkite


def test_circleci_prefers_v2(oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCLECI", "true")
    monkeypatch.setenv("CIRCLE_OIDC_TOKEN", oidc_issuer.mint({"sub": "v1"}))
    monkeypatch.setenv("CIRCLE_OIDC_TOKEN_V2", oidc_issuer.mint({"sub": "v2"}))
    token = obtain_token(None)
    assert token.provider == "circleci:CIRCLE_OIDC_TOKEN_V2"
    assert token.claims["sub"] == "v2"


def test_circleci_without_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRCLECI", "true")
    with pytest.raises(IdentityError) as caught:
        obtain_token(None)
    assert caught.value.hint is not None
    assert "context" in caught.value.hint


def _fake_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """Put a `buildkite-agent` executable first on PATH; it records its argv."""
    folder = tmp_path / "bin"
    folder.mkdir()
    agent = folder / "buildkite-agent"
    agent.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        "with open(os.environ['FAKE_AGENT_ARGV'], 'w') as f: json.dump(sys.argv, f)\n" + body,
        encoding="utf-8",
    )
    agent.chmod(agent.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AGENT_ARGV", str(tmp_path / "argv.json"))
    monkeypatch.setenv("BUILDKITE", "true")
    return tmp_path / "argv.json"


def test_buildkite_requests_token(
    oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    minted = oidc_issuer.mint(audience="sts.amazonaws.com")
    (tmp_path / "token").write_text(minted, encoding="utf-8")
    argv_file = _fake_agent(
        tmp_path, monkeypatch, f"print(open({str(tmp_path / 'token')!r}).read())\n"
    )
    token = obtain_token("sts.amazonaws.com")
    assert token.provider == "buildkite"
    assert token.raw.reveal() == minted
    argv = json.loads(argv_file.read_text(encoding="utf-8"))
    assert argv[1:] == ["oidc", "request-token", "--audience", "sts.amazonaws.com"]
    assert all(minted not in argument for argument in argv)


def test_buildkite_without_audience(
    oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text(oidc_issuer.mint(), encoding="utf-8")
    argv_file = _fake_agent(
        tmp_path, monkeypatch, f"print(open({str(tmp_path / 'token')!r}).read())\n"
    )
    obtain_token(None)
    argv = json.loads(argv_file.read_text(encoding="utf-8"))
    assert argv[1:] == ["oidc", "request-token"]


def test_token_file_beats_platform(github_job: Issuer, oidc_issuer: Issuer, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(oidc_issuer.mint({"sub": "from-file"}), encoding="utf-8")
    token = obtain_token("vault", token_file=str(token_file), token_env="UNUSED")
    assert token.provider == f"file:{token_file}"
    assert token.claims["sub"] == "from-file"
    assert github_job.token_requests == []


def test_buildkite_agent_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_agent(
        tmp_path, monkeypatch, "sys.stderr.write('fatal: 401 Unauthorized\\n')\nsys.exit(1)\n"
    )
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "failed with exit code 1: fatal: 401 Unauthorized" in caught.value.message


def test_buildkite_agent_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BUILDKITE", "true")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "buildkite-agent is not on PATH" in caught.value.message


def test_no_platform_no_token() -> None:
    with pytest.raises(IdentityError) as caught:
        obtain_token("vault")
    assert "no identity token found" in caught.value.message
