"""`keyless vault` input checks and clean-up on failure, against a real OpenBao dev server."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from keyless.errors import ExitCode
from keyless.exchange.state import State
from tests import fakes
from tests.exchange.conftest import AUDIENCE, Vault, make_signer
from tests.exchange.test_vault import (
    assert_no_leak,
    keyless,
    login_args,
    lookup_self,
    recorded_tokens,
)
from tests.support import openbao
from tests.support.jwks import JWKSServer

NAMES_POLICY = 'path "secret/data/names" { capabilities = ["read"] }'


@pytest.fixture(scope="module")
def names_role(vault: Vault) -> str:
    """Role `names`, which may read `secret/names`: a secret whose keys are hostile names."""
    vault.server.write(
        "secret/data/names",
        data={"ath": fakes.random_string(20), "ld_preload": fakes.random_string(20)},
    )
    vault.server.write("sys/policies/acl/names-read", policy=NAMES_POLICY)
    vault.server.write(
        "auth/jwt/role/names",
        role_type="jwt",
        user_claim="sub",
        bound_audiences=[AUDIENCE],
        token_policies=["app-read", "names-read"],
    )
    return "names"


def live_accessors(vault: Vault) -> set[str]:
    body = vault.server.request("LIST", "auth/token/accessors")
    return set(body["data"]["keys"])


@pytest.fixture
def no_new_token(vault: Vault) -> Iterator[None]:
    """Assert that the test leaves no Vault token alive that was not alive before."""
    before = live_accessors(vault)
    yield
    assert live_accessors(vault) - before == set()


def with_role(args: list[str], role: str) -> list[str]:
    args[args.index("--role") + 1] = role
    return args


# Names of exported values


@pytest.mark.parametrize(
    "spec",
    ["secret/names", "secret/names |", "secret/names * |", "secret/names *"],
)
def test_whole_secret_needs_prefix(
    spec: str, vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = keyless(capsys, *login_args(vault, token_file, tmp_path / "s", "--secret", spec))
    assert result.code == ExitCode.USAGE
    assert "Traceback" not in result.err
    assert "'PATH | PREFIX_'" in result.err or "add a prefix" in result.err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "name", ["PATH", "LD_PRELOAD", "BASH_ENV", "GITHUB_TOKEN", "PYTHONPATH", "path", "CI_JOB_ID"]
)
def test_reserved_name_rejected_before_login(
    name: str, vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"secret/app password | {name}"
    result = keyless(capsys, *login_args(vault, token_file, tmp_path / "s", "--secret", spec))
    assert result.code == ExitCode.USAGE
    assert f"refusing to export {name}" in result.err
    assert "--allow-reserved-names" in result.err
    assert not (tmp_path / "s").exists()


def test_reserved_prefix_rejected_before_login(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "secret/app | GITHUB_")
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE
    assert "names starting with GITHUB_" in result.err


def test_key_forming_reserved_name_revokes(
    vault: Vault,
    names_role: str,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_new_token: None,
) -> None:
    # Prefix P and key "ath" make PATH: only known after the read.
    args = with_role(
        login_args(vault, token_file, tmp_path / "s", "--secret", "secret/names | P"), names_role
    )
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE
    assert "refusing to export PATH" in result.err
    assert recorded_tokens(tmp_path / "s") == []


def test_reserved_name_allowed_on_request(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "secret/app password | NODE_OPTIONS"
    args = login_args(vault, token_file, tmp_path / "s", "--secret", spec, "--export", "json")
    result = keyless(capsys, *args, "--allow-reserved-names")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"NODE_OPTIONS": vault.values["app_password"]}


def test_reserved_name_allowed_from_environment(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYLESS_ALLOW_RESERVED_NAMES", "true")
    spec = "secret/app password | GIT_PASSWORD"
    args = login_args(vault, token_file, tmp_path / "s", "--secret", spec, "--export", "json")
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert "GIT_PASSWORD" in json.loads(result.out)


# The state folder


def test_shared_state_dir_rejected_untouched(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    args = login_args(vault, token_file, shared, "--secret", "secret/app password | PW")
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE
    assert "other users can use this folder (mode 1777)" in result.err
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert list(shared.iterdir()) == []
    revoked = keyless(capsys, "revoke", "--state-dir", str(shared))
    assert revoked.code == ExitCode.USAGE
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777


# Connection settings checked before login


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:18200", "is not an http:// or https:// address"),
        ("ftp://127.0.0.1:18200", "is not an http:// or https:// address"),
        ("http://127.0.0.1:18200/v1", "ends in /v1"),
        ("http://127.0.0.1:18200/v1/", "ends in /v1"),
    ],
)
def test_bad_url_is_usage_error(
    url: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = keyless(
        capsys,
        "vault",
        "--url",
        url,
        "--secret",
        "kv1/app password",
        "--state-dir",
        str(tmp_path / "s"),
    )
    assert result.code == ExitCode.USAGE
    assert message in result.err
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("option", ["--ca-cert", "--client-cert"])
def test_missing_tls_file_is_usage_error(
    option: str, vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    result = keyless(capsys, *args, option, "nonexist.pem")
    assert result.code == ExitCode.USAGE
    assert f"{option} " in result.err
    assert "nonexist.pem: no such file" in result.err
    assert not (tmp_path / "s").exists()


def test_relative_ca_cert_revoked_elsewhere(
    vault_tls: Vault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_file = tmp_path / "id-token"
    token_file.write_text(vault_tls.signer.mint())
    state = tmp_path / "state"
    monkeypatch.chdir(vault_tls.server.ca_path.parent)
    args = login_args(vault_tls, token_file, state, "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--ca-cert", vault_tls.server.ca_path.name)
    assert result.code == 0, result.err
    [token] = recorded_tokens(state)
    [entry] = json.loads((state / "state.json").read_text())["entries"]
    assert entry["ca_cert"] == str(vault_tls.server.ca_path)

    monkeypatch.chdir(tmp_path)
    assert keyless(capsys, "revoke", "--state-dir", str(state)).code == 0
    assert recorded_tokens(state) == []
    response = requests.get(
        f"{vault_tls.url}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": token},
        verify=str(vault_tls.server.ca_path),
        timeout=5,
    )
    assert response.status_code == 403


def test_failing_cleanup_does_not_stop_revoke(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    result = keyless(capsys, *login_args(vault, token_file, state, "--secret", "kv1/app password"))
    assert result.code == 0, result.err
    [token] = recorded_tokens(state)
    with State.open(state) as record:
        # An entry a cleanup cannot handle, newer than the token, so it is undone first.
        record.add("file")
    revoked = keyless(capsys, "revoke", "--state-dir", str(state))
    assert revoked.code == ExitCode.FINDINGS
    assert "internal error while undoing a file entry" in revoked.err
    assert lookup_self(vault, token) == 403
    assert recorded_tokens(state) == []


# Writing the values fails after login


def test_gitlab_multiline_revokes_token(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_new_token: None,
) -> None:
    dotenv = tmp_path / "keyless.env"
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "secret/multi pem | PEM")
    result = keyless(capsys, *args, "--export", "gitlab", "--dotenv-file", str(dotenv))
    assert result.code == ExitCode.USAGE
    assert "PEM: GitLab dotenv files cannot hold multi-line values" in result.err
    assert not dotenv.exists()
    assert recorded_tokens(tmp_path / "s") == []


def test_output_in_missing_folder_fails_before_login(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_new_token: None,
) -> None:
    target = tmp_path / "nodir" / "x.json"
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--export", "json", "-o", str(target))
    assert result.code == ExitCode.USAGE
    assert "nodir of --output does not exist" in result.err


def test_github_env_in_missing_folder_fails_before_login(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_new_token: None,
) -> None:
    monkeypatch.setenv("GITHUB_ENV", str(tmp_path / "nodir" / "env"))
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--export", "github")
    assert result.code == ExitCode.USAGE
    assert "of GITHUB_ENV does not exist" in result.err


def test_unwritable_github_env_revokes_and_records_nothing(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_new_token: None,
) -> None:
    # A folder in place of the env file: the folder check passes, the append fails.
    env_file = tmp_path / "env"
    env_file.mkdir()
    monkeypatch.setenv("GITHUB_ENV", str(env_file))
    state = tmp_path / "s"
    args = login_args(vault, token_file, state, "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--export", "github")
    assert result.code == ExitCode.USAGE
    assert "cannot append to GITHUB_ENV" in result.err
    assert not (state / "state.json").exists()
    assert keyless(capsys, "revoke", "--state-dir", str(state)).code == 0


# Explanations of what OpenBao returns


def test_kv2_deleted_version_explained(
    vault: Vault,
    names_role: str,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vault.server.write("secret/data/names", data={"gone": fakes.random_string(12)})
    vault.server.request("DELETE", "secret/data/names")
    try:
        args = with_role(
            login_args(vault, token_file, tmp_path / "s", "--secret", "secret/names gone"),
            names_role,
        )
        result = keyless(capsys, *args)
    finally:
        vault.server.write(
            "secret/data/names",
            data={"ath": fakes.random_string(20), "ld_preload": fakes.random_string(20)},
        )
    assert result.code == ExitCode.USAGE
    assert "of secret/names was deleted at" in result.err
    assert "vault kv undelete -versions=" in result.err
    assert recorded_tokens(tmp_path / "s") == []


def test_permission_denied_unlisted_mount_uses_data_path(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vault.server.write("sys/mounts/hidden", type="kv", options={"version": "2"})
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "hidden/app key")
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE
    assert "permission denied reading hidden/app" in result.err
    assert 'path "hidden/data/app"' in result.err
    assert "policies (app-read, default)" in result.err
    assert_no_leak([result.out, result.err], vault.values.values())


def failed_login(
    vault: Vault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    token: str,
    *extra: str,
    role: str = "ci",
    url: str | None = None,
) -> str:
    token_file = tmp_path / "id-token"
    token_file.write_text(token)
    args = with_role(
        login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password", *extra),
        role,
    )
    if url is not None:
        args[args.index("--url") + 1] = url
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE, result.err
    assert "Traceback" not in result.err
    return result.err


def test_discovery_unreachable_explained(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = make_signer("discovery-key")
    jwks = JWKSServer([(signer.key, signer.kid)])
    mount = "discovery-gone"
    try:
        vault.server.write(f"sys/auth/{mount}", type="jwt")
        vault.server.write(
            f"auth/{mount}/config", oidc_discovery_url=jwks.issuer, bound_issuer=jwks.issuer
        )
        vault.server.write(
            f"auth/{mount}/role/ci",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[AUDIENCE],
            token_policies=["app-read"],
        )
    finally:
        jwks.stop()
    # OpenBao builds the validator at the first login, and then fetches the discovery
    # document, which is gone.
    err = failed_login(vault, tmp_path, capsys, signer.mint(iss=jwks.issuer), "--mount", mount)
    assert f"Vault cannot fetch the issuer's signing keys (JWKS) for auth/{mount}" in err
    assert "keyset configuration error" in err
    assert "jwks_url or oidc_discovery_url" in err


def test_iat_in_future_is_clock_problem(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = vault.signer.mint(iat=int(time.time()) + 3600)
    err = failed_login(vault, tmp_path, capsys, token)
    assert "the token was issued in the future (iat" in err
    assert "Vault's clock is behind the issuer's" in err
    assert "clock_skew_leeway" in err


def test_bound_subject_mismatch_named(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = vault.signer.mint(aud=None, sub="repo:fork/app:ref:refs/heads/main")
    err = failed_login(vault, tmp_path, capsys, token, role="no-audience")
    assert "sub 'repo:fork/app:ref:refs/heads/main' is not the bound_subject" in err
    assert "auth/jwt/role/no-audience" in err


def test_unknown_namespace_points_at_namespace(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = failed_login(vault, tmp_path, capsys, vault.signer.mint(), "--namespace", "nope")
    assert "the namespace given with --namespace does not exist" in err
    assert "bound claims" not in err


def test_url_not_vault_points_at_url(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test issuer returns 501 for POST, as many web servers do.
    err = failed_login(vault, tmp_path, capsys, vault.signer.mint(), url=vault.issuer.url)
    assert "may not point at a Vault server" in err
    assert "check --url (VAULT_ADDR)" in err
    assert "retry" not in err


def test_https_to_plain_listener_explained(
    vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = vault.url.replace("http://", "https://")
    err = failed_login(vault, tmp_path, capsys, vault.signer.mint(), url=url)
    assert f"{url} does not speak TLS" in err
    assert f"use {vault.url}" in err


def test_retry_deadline_bounds_silent_server(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A listener that accepts connections and never responds.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
        args[args.index("--url") + 1] = url
        args[args.index("--retry-deadline") + 1] = "1.5"
        started = time.monotonic()
        result = keyless(capsys, *args)
        elapsed = time.monotonic() - started
    assert result.code == ExitCode.USAGE
    assert "timed out" in result.err
    # The per-request timeout is 10 s; bounded by the deadline, the run ends well before.
    assert elapsed < 6


def test_docs_role_example_accepted_by_bao(vault: Vault, tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "vault.md").read_text()
    start = docs.index("vault write auth/jwt/role/deploy - <<'EOF'\n")
    body = docs[docs.index("\n", start) + 1 : docs.index("\nEOF\n", start)]
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "BAO_ADDR": vault.url,
        "BAO_TOKEN": vault.server.root_token,
    }
    process = subprocess.run(
        [openbao.bao_binary(), "write", "auth/jwt/role/docs-example", "-"],
        input=body,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    role = vault.server.read("auth/jwt/role/docs-example")["data"]
    assert role["bound_claims"] == json.loads(body)["bound_claims"]
    assert role["bound_audiences"] == ["https://vault.example.com"]
