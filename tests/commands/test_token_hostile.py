"""`keyless token` with hostile tokens, token files and issuers: no injection, no crash."""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from keyless.cli import main
from keyless.identity.token import MAX_TOKEN_BYTES
from tests.identity.test_verify_hostile import HOSTILE_TOKENS, forge
from tests.support.issuer import DISCOVERY_SUFFIX, TOKEN_REQUEST_PATH, Issuer

INJECTED_CLAIMS = {
    "workflow": "Deploy\n::error title=INJ::x",
    "environment": "prod\r::warning::y",
    "actor": "\x1b[2K\x1b[1Goctocat ##[error]z",
    "job_workflow_ref": "::notice::w",
    "x-extra\n::error::name": "value\u2028::error::v",
}


def _write_token(tmp_path: Path, raw: str) -> str:
    path = tmp_path / "token"
    path.write_text(raw, encoding="utf-8")
    return str(path)


def _assert_no_command(text: str, *, masks: int) -> None:
    """Only keyless's own mask command may start a line, and no line contains `##[`."""
    commands = [line for line in text.splitlines() if line.lstrip().startswith("::")]
    assert len(commands) == masks
    assert all(line.startswith("::add-mask::") for line in commands)
    assert "##[" not in text
    assert "\x1b" not in text
    assert "\r" not in text
    assert "\u2028" not in text


@pytest.fixture
def actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")


def test_text_report_escapes_claims(
    oidc_issuer: Issuer, actions: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint(INJECTED_CLAIMS)
    code = main(["token", "--token-file", _write_token(tmp_path, raw), "--verify"])
    out = capsys.readouterr().out
    assert code == 0
    _assert_no_command(out, masks=1)
    assert "  workflow               Deploy\\n::error title=INJ::x\n" in out
    assert "  job_workflow_ref       \\x3a:notice::w\n" in out
    assert "\\x1b[2K\\x1b[1Goctocat #\\x23[error]z" in out


def test_json_report_keeps_exact_claims(
    oidc_issuer: Issuer, actions: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint(INJECTED_CLAIMS)
    assert main(["token", "--token-file", _write_token(tmp_path, raw), "--format", "json"]) == 0
    claims = json.loads(capsys.readouterr().out)["claims"]
    assert {name: claims[name] for name in INJECTED_CLAIMS} == INJECTED_CLAIMS


def test_expectation_table_escapes_claims(
    oidc_issuer: Issuer, actions: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint(INJECTED_CLAIMS)
    token_file = _write_token(tmp_path, raw)
    argv = ["token", "--token-file", token_file, "--expect-claim", "workflow=Deploy"]
    assert main([*argv, "--expect-claim", "actor=x"]) == 1
    _assert_no_command(capsys.readouterr().out, masks=1)
    # With --raw the table goes to the log on stderr, as does the mask command.
    assert main([*argv, "--raw"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_no_command(captured.err, masks=1)
    assert "Deploy\\n::error title=INJ::x" in captured.err


def test_verification_details_escape_issuer_values(
    oidc_issuer: Issuer, actions: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint({"iss": "https://a.example/\n::error::iss"})
    assert main(["token", "--token-file", _write_token(tmp_path, raw), "--verify"]) == 1
    out = capsys.readouterr().out
    _assert_no_command(out, masks=1)
    assert "FAILED  issuer     https://a.example/\\n::error::iss is not a URL" in out


@pytest.mark.parametrize(("header", "claims", "check", "text"), HOSTILE_TOKENS)
@pytest.mark.parametrize("output", ["text", "json"])
def test_hostile_token_fails_verification(
    oidc_issuer: Issuer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    header: dict[str, Any],
    claims: dict[str, Any],
    check: str,
    text: str,
    output: str,
) -> None:
    token_file = _write_token(tmp_path, forge(oidc_issuer, header, claims))
    assert main(["token", "--token-file", token_file, "--verify", "--format", output]) == 1
    captured = capsys.readouterr()
    assert "internal error" not in captured.err
    if output == "json":
        failed = [c for c in json.loads(captured.out)["verification"]["checks"] if not c["ok"]]
        assert [c["name"] for c in failed] == [check]
    else:
        assert f"verification failed ({check})" in captured.out
    # Without --verify the same token is shown.
    assert main(["token", "--token-file", token_file, "--format", output]) == 0


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1e308, id="1e308"),
        pytest.param(10**400, id="10-to-400"),
        pytest.param(253402300800, id="year-10000"),
        pytest.param(-1e308, id="minus-1e308"),
    ],
)
def test_unreadable_exp_is_a_note(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str], value: Any
) -> None:
    token_file = _write_token(tmp_path, oidc_issuer.mint({"exp": value}))
    assert main(["token", "--token-file", token_file]) == 0
    out = capsys.readouterr().out
    assert f"expires     (not a valid time: exp is {json.dumps(value)[:37]}" in out
    assert "status      unknown: the token's exp or nbf is not a valid time" in out
    assert main(["token", "--token-file", token_file, "--format", "json"]) == 0
    time_section = json.loads(capsys.readouterr().out)["time"]
    assert time_section["expires_at"] is None
    assert list(time_section["invalid"]) == ["exp"]
    assert main(["token", "--token-file", token_file, "--verify"]) == 1
    out = capsys.readouterr().out
    assert "FAILED  time       exp is not a valid time" in out


def test_nan_claim_is_not_json(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = forge(oidc_issuer, {}, {})
    header, _, signature = raw.split(".")
    claims = json.dumps(oidc_issuer.claims()).replace('"exp": ', '"exp": NaN, "x": ', 1)
    payload = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
    token_file = _write_token(tmp_path, f"{header}.{payload}.{signature}")
    assert main(["token", "--token-file", token_file]) == 2
    assert "not base64url JSON" in capsys.readouterr().err


def test_long_expiry_in_days(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = _write_token(tmp_path, oidc_issuer.mint(expires_in=3 * 86400 + 3600 + 120))
    assert main(["token", "--token-file", token_file]) == 0
    assert "(in 3d 1h " in capsys.readouterr().out


def test_audience_unchecked_is_skip(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = _write_token(tmp_path, oidc_issuer.mint(audience="vault"))
    assert main(["token", "--token-file", token_file, "--verify"]) == 0
    out = capsys.readouterr().out
    assert "  skip    audience   vault: not checked" in out
    assert "ok      audience" not in out
    assert "result: verified (audience not checked)" in out
    assert main(["token", "--token-file", token_file, "--verify", "--format", "json"]) == 0
    checks = json.loads(capsys.readouterr().out)["verification"]["checks"]
    audience = next(check for check in checks if check["name"] == "audience")
    assert (audience["ok"], audience["checked"]) == (True, False)


def test_invalid_date_header_is_named(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oidc_issuer.date_header = "not a date"
    token_file = _write_token(tmp_path, oidc_issuer.mint())
    assert main(["token", "--token-file", token_file, "--verify", "--audience", "x"]) == 1
    out = capsys.readouterr().out
    assert "clock skew  not measured (the HTTP Date header from 127.0.0.1 was missing or " in out
    assert "no HTTP response" not in out


def test_github_oversized_token_response(
    oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in oidc_issuer.github_environment().items():
        monkeypatch.setenv(name, value)
    oidc_issuer.endless.add(TOKEN_REQUEST_PATH)
    assert main(["token"]) == 2
    err = capsys.readouterr().err
    assert "returned more than 128 KiB, which is no token response" in err
    assert oidc_issuer.endless_bytes_sent(TOKEN_REQUEST_PATH) < 16 * 1024 * 1024


def test_discovery_oversized_fails_verification(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oidc_issuer.endless.add(DISCOVERY_SUFFIX)
    token_file = _write_token(tmp_path, oidc_issuer.mint())
    assert main(["token", "--token-file", token_file, "--verify"]) == 1
    assert "returned more than 1 MiB" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("claims", "pattern", "code"),
    [
        ({"run_id": "42"}, "run_id=4[0-9]", 1),
        ({"run_id": "4[0-9]"}, "run_id=4[0-9]", 0),
        ({"repository": "octo-org/xrepo"}, "repository=octo-org/[x]repo", 1),
        ({"repository": "octo-org/[x]repo"}, "repository=octo-org/[x]repo", 0),
        ({"run_id": "42"}, "run_id=4?", 0),
    ],
)
def test_expect_claim_brackets_are_literal(
    oidc_issuer: Issuer,
    tmp_path: Path,
    claims: dict[str, str],
    pattern: str,
    code: int,
) -> None:
    token_file = _write_token(tmp_path, oidc_issuer.mint(claims))
    assert main(["token", "--token-file", token_file, "--expect-claim", pattern]) == code


# Token sources: exactly one JWT, bounded reads.


def test_token_file_with_extra_line_rejected(
    oidc_issuer: Issuer, actions: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint()
    token_file = _write_token(tmp_path, f"{raw}\r\n::error::INJ\n")
    assert main(["token", "--token-file", token_file]) == 2
    captured = capsys.readouterr()
    assert "the value is not a JWT: it has 2 lines" in captured.err
    # The whole value and each line were masked before the error.
    assert f"::add-mask::{raw}\n" in captured.out
    assert raw not in captured.err


def test_token_file_surrounding_whitespace_accepted(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = _write_token(tmp_path, f"\n  {oidc_issuer.mint()}\r\n\n")
    assert main(["token", "--token-file", token_file]) == 0


def test_token_env_with_extra_text_rejected(
    oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint()
    monkeypatch.setenv("MY_TOKEN", f"{raw} trailing")
    assert main(["token", "--token-env", "MY_TOKEN"]) == 2
    err = capsys.readouterr().err
    assert "env:MY_TOKEN: the value is not a JWT: character" in err
    assert raw not in err


def test_token_env_too_long_rejected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MY_TOKEN", "a" * (MAX_TOKEN_BYTES + 1) + ".b.c")
    assert main(["token", "--token-env", "MY_TOKEN"]) == 2
    assert "longer than 64 KiB" in capsys.readouterr().err


def test_token_file_too_long_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(b"a" * (MAX_TOKEN_BYTES + 1))
    assert main(["token", "--token-file", str(token_file)]) == 2
    assert "longer than 64 KiB" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_token_file_dev_zero_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--token-file", "/dev/zero"]) == 2
    assert "/dev/zero: the token file is longer than 64 KiB" in capsys.readouterr().err


def test_token_file_not_utf8_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_bytes(b"\xff\xfe.a.b")
    assert main(["token", "--token-file", str(token_file)]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_token_file_directory_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--token-file", str(tmp_path)]) == 2
    assert "cannot read token file" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_token_file_fifo_accepted(
    oidc_issuer: Issuer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "token.fifo"
    os.mkfifo(path)
    raw = oidc_issuer.mint()

    def write() -> None:
        with path.open("w", encoding="utf-8") as stream:
            stream.write(raw + "\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        assert main(["token", "--token-file", str(path)]) == 0
    finally:
        writer.join(timeout=5)
    assert "repository             octo-org/octo-repo" in capsys.readouterr().out


def test_gitlab_audience_warning_escapes_claim(
    oidc_issuer: Issuer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = oidc_issuer.mint(flavor="gitlab", audience="vault\n::error::aud")
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("VAULT_ID_TOKEN", raw)
    assert main(["token", "--audience", "https://vault.example.com"]) == 1
    err = capsys.readouterr().err
    assert "has the audience vault\\n::error::aud, not https://vault.example.com" in err
    _assert_no_command(err, masks=0)
