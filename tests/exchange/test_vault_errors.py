"""Vault's rejections, produced by a real OpenBao, explained with the token's claims."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keyless.errors import ExitCode
from tests.exchange.conftest import AUDIENCE, ISSUER, Vault, make_signer
from tests.exchange.test_vault import (
    Result,
    assert_no_leak,
    keyless,
    login_args,
    recorded_tokens,
)
from tests.support.jwks import JWKSServer


def login_with(
    vault: Vault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    token: str,
    *extra: str,
    role: str = "ci",
    spec: str = "kv1/app password",
) -> Result:
    token_file = tmp_path / "id-token"
    token_file.write_text(token)
    args = login_args(vault, token_file, tmp_path / "state", "--secret", spec, *extra)
    args[args.index("--role") + 1] = role
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE, result.err
    assert "Traceback" not in result.err
    assert_no_leak([result.out, result.err], [token, *vault.values.values()])
    return result


def test_role_without_bound_audiences(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), role="no-audience")
    assert "has no bound_audiences, but the token has aud vault.keyless.test" in result.err
    assert "bound_audiences=vault.keyless.test on auth/jwt/role/no-audience" in result.err


def test_no_bound_audiences_several_auds(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = vault.signer.mint(aud=["vault.keyless.test", "other"])
    result = login_with(vault, tmp_path, capsys, token, role="no-audience")
    assert "the token has aud vault.keyless.test, other" in result.err
    assert "bound_audiences=vault.keyless.test,other" in result.err


def test_audience_mismatch_shows_aud(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(aud="sigstore"))
    assert "the token's aud sigstore is not in the bound_audiences of role 'ci'" in result.err
    assert "--audience" in result.err


def test_bound_claim_mismatch_shows_value(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(repository="fork/app"))
    assert "the token's repository claim is 'fork/app'" in result.err
    assert "repository  fork/app" in result.err


def test_bound_claim_missing(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), role="environment")
    assert "binds the claim environment, which the token does not have" in result.err


def test_user_claim_missing(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), role="actor")
    assert "the user_claim of role 'actor' is 'actor', which the token lacks" in result.err


def test_role_not_found(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), role="deploy")
    assert "no role 'deploy' on auth/jwt" in result.err


def test_missing_role_without_default(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), role="")
    assert "no --role given and auth/jwt has no default_role" in result.err


def test_expired_token(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = int(time.time())
    token = vault.signer.mint(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    result = login_with(vault, tmp_path, capsys, token)
    assert "the token expired at" in result.err
    assert "s ago by this machine's clock" in result.err
    assert "clock_skew_leeway" in result.err


def test_token_not_yet_valid(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = int(time.time())
    token = vault.signer.mint(iat=now + 3600, nbf=now + 3600, exp=now + 7200)
    result = login_with(vault, tmp_path, capsys, token)
    assert "the token is not valid yet" in result.err
    assert "clocks" in result.err


def test_wrong_issuer(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = vault.signer.mint(iss="https://elsewhere.test")
    result = login_with(vault, tmp_path, capsys, token)
    assert "issuer 'https://elsewhere.test' is not bound_issuer" in result.err


def test_unknown_signing_key(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = make_signer("other-key").mint()
    result = login_with(vault, tmp_path, capsys, token)
    assert "signature does not verify" in result.err


def test_mount_not_found(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), "--mount", "gitea")
    assert "permission denied on auth/gitea/login" in result.err
    assert "--mount" in result.err


def test_jwks_unreachable(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = make_signer("jwks-key-1")
    second = make_signer("jwks-key-2")
    mount = "jwks-gone"
    jwks = JWKSServer([(first.key, first.kid)])
    try:
        vault.server.write(f"sys/auth/{mount}", type="jwt")
        vault.server.write(f"auth/{mount}/config", jwks_url=jwks.url, bound_issuer=ISSUER)
        vault.server.write(
            f"auth/{mount}/role/ci",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[AUDIENCE],
            token_policies=["app-read"],
        )
    finally:
        jwks.stop()
    # A key id Vault has not cached makes it fetch the JWKS again, which now fails.
    result = login_with(vault, tmp_path, capsys, second.mint(), "--mount", mount)
    assert f"Vault cannot fetch the issuer's signing keys (JWKS) for auth/{mount}" in result.err
    assert "connection refused" in result.err


def test_permission_denied_on_path(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(
        vault, tmp_path, capsys, vault.signer.mint(), spec="secret/other password | PW"
    )
    assert "permission denied reading secret/other" in result.err
    assert "app-read" in result.err
    assert 'path "secret/data/other"' in result.err
    assert recorded_tokens(tmp_path / "state") == []


def test_path_outside_visible_mounts(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), spec="private/app key")
    assert "permission denied reading private/app" in result.err
    assert recorded_tokens(tmp_path / "state") == []


def test_key_not_in_secret(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = login_with(vault, tmp_path, capsys, vault.signer.mint(), spec="secret/app passwd | PW")
    assert "secret/app has no key 'passwd' (keys: api-key, password)" in result.err
    assert recorded_tokens(tmp_path / "state") == []


def test_secret_not_found(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vault.server.write(
        "sys/policies/acl/missing-read",
        policy='path "secret/data/missing" { capabilities = ["read"] }',
    )
    vault.server.write(
        "auth/jwt/role/missing",
        role_type="jwt",
        user_claim="sub",
        bound_audiences=[AUDIENCE],
        token_policies=["missing-read"],
    )
    result = login_with(
        vault, tmp_path, capsys, vault.signer.mint(), role="missing", spec="secret/missing k"
    )
    assert "no secret at secret/missing (read as secret/data/missing)" in result.err


def test_vault_unreachable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.openbao import free_port

    token_file = tmp_path / "id-token"
    token_file.write_text(make_signer("k").mint())
    result = keyless(
        capsys,
        "vault",
        "--url",
        f"http://127.0.0.1:{free_port()}",
        "--token-file",
        str(token_file),
        "--secret",
        "kv1/app password",
        "--state-dir",
        str(tmp_path / "s"),
        "--retry-deadline",
        "0.5",
    )
    assert result.code == ExitCode.USAGE
    assert "cannot reach http://127.0.0.1:" in result.err
    assert "connection refused" in result.err
    assert "retry 1" in result.err


def test_invalid_secret_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = keyless(capsys, "vault", "--url", "http://127.0.0.1:1", "--secret", "a b c | D")
    assert result.code == ExitCode.USAGE
    assert "--secret 'a b c | D' is invalid" in result.err


def test_missing_url(capsys: pytest.CaptureFixture[str]) -> None:
    result = keyless(capsys, "vault", "--secret", "a b")
    assert result.code == ExitCode.USAGE
    assert "VAULT_ADDR" in result.err


def test_skip_verify_warns(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--tls-skip-verify")
    assert result.code == 0, result.err
    assert "TLS verification of" in result.err
