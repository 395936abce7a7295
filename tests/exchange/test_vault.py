"""`keyless vault` and `keyless revoke` against a real OpenBao dev server."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from keyless import cli
from keyless.errors import ExitCode
from tests.exchange.conftest import AUDIENCE, NAMESPACE, Vault
from tests.support.actions import parse_env_file


@dataclass
class Result:
    code: int
    out: str
    err: str


def keyless(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def login_args(vault: Vault, token_file: Path, state: Path, *extra: str) -> list[str]:
    return [
        "vault",
        "--url",
        vault.url,
        "--role",
        "ci",
        "--token-file",
        str(token_file),
        "--state-dir",
        str(state),
        "--retry-deadline",
        "2",
        *extra,
    ]


def assert_no_leak(texts: Iterable[str], secrets: Iterable[str]) -> None:
    """Assert no secret appears in the texts, outside the deliberate `::add-mask::` lines."""
    secrets = list(secrets)
    for text in texts:
        lines = [line for line in text.splitlines() if not line.startswith("::add-mask::")]
        for secret in secrets:
            for line in secret.splitlines():
                assert line not in "\n".join(lines)


def recorded_tokens(state: Path) -> list[str]:
    path = state / "state.json"
    if not path.exists():
        return []
    entries = json.loads(path.read_text())["entries"]
    return [entry["token"] for entry in entries if entry["kind"] == "vault-token"]


def lookup_self(vault: Vault, token: str) -> int:
    response = requests.get(
        f"{vault.url}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token}, timeout=5
    )
    return response.status_code


def shell_values(out: str) -> dict[str, str]:
    script = out + 'python3 -c "import json, os; print(json.dumps(dict(os.environ)))"'
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    environment: dict[str, str] = json.loads(result.stdout)
    return environment


# Logins and reads


def test_kv2_key_to_shell(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    args = login_args(vault, token_file, state, "--secret", "secret/app password | DB_PASSWORD")
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert shell_values(result.out)["DB_PASSWORD"] == vault.values["app_password"]
    assert_no_leak([result.err], vault.values.values())
    tokens = recorded_tokens(state)
    assert len(tokens) == 1
    assert_no_leak([result.out, result.err], tokens)


def test_kv2_api_form_accepted(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(
        vault, token_file, tmp_path / "s", "--secret", "secret/data/app password | PW"
    )
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert shell_values(result.out)["PW"] == vault.values["app_password"]


def test_kv1_key_default_name(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert shell_values(result.out)["PASSWORD"] == vault.values["kv1_password"]


def test_whole_secret_with_prefix(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "secret/app | APP_")
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    values = shell_values(result.out)
    assert values["APP_PASSWORD"] == vault.values["app_password"]
    assert values["APP_API_KEY"] == vault.values["app_api_key"]


def test_several_specs_in_one_value(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = "secret/app password | A;\nkv1/app password | B"
    result = keyless(capsys, *login_args(vault, token_file, tmp_path / "s", "--secret", specs))
    assert result.code == 0, result.err
    values = shell_values(result.out)
    assert values["A"] == vault.values["app_password"]
    assert values["B"] == vault.values["kv1_password"]


def test_default_role_used(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    args.remove("--role")
    args.remove("ci")
    result = keyless(capsys, *args, "--mount", "jwt-default")
    assert result.code == 0, result.err


def test_token_from_env(
    vault: Vault,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI_JOB_JWT_VAULT", vault.signer.mint())
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    result = keyless(
        capsys,
        "vault",
        "--role",
        "ci",
        "--token-env",
        "CI_JOB_JWT_VAULT",
        "--state-dir",
        str(tmp_path / "s"),
        "--secret",
        "kv1/app password",
    )
    assert result.code == 0, result.err
    assert shell_values(result.out)["PASSWORD"] == vault.values["kv1_password"]


# Output modes and revocation


@pytest.fixture
def github_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runner = tmp_path / "runner"
    (runner / "temp").mkdir(parents=True)
    (runner / "work").mkdir()
    (runner / "env").write_text("")
    (runner / "output").write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("RUNNER_TEMP", str(runner / "temp"))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(runner / "work"))
    monkeypatch.setenv("GITHUB_ENV", str(runner / "env"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(runner / "output"))
    return runner


def test_github_export_then_revoke(
    vault: Vault,
    token_file: Path,
    github_job: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    result = keyless(
        capsys,
        "vault",
        "--role",
        "ci",
        "--token-file",
        str(token_file),
        "--secret",
        "secret/app password | DB_PASSWORD",
        "--secret",
        "secret/multi pem | TLS_KEY",
    )
    assert result.code == 0, result.err
    env = parse_env_file((github_job / "env").read_text())
    assert env["DB_PASSWORD"] == vault.values["app_password"]
    assert env["TLS_KEY"] == vault.values["pem"]
    masked = {line.removeprefix("::add-mask::") for line in result.err.splitlines()}
    assert vault.values["app_password"] in masked
    for line in vault.values["pem"].splitlines():
        assert line in masked
    assert_no_leak([result.out, result.err], vault.values.values())

    state = github_job / "temp" / "keyless"
    [token] = recorded_tokens(state)
    assert stat.S_IMODE((state / "state.json").stat().st_mode) == 0o600
    assert lookup_self(vault, token) == 200

    revoked = keyless(capsys, "revoke")
    assert revoked.code == 0, revoked.err
    assert lookup_self(vault, token) == 403
    assert not (state / "state.json").exists()
    cleared = parse_env_file((github_job / "env").read_text())
    assert cleared["DB_PASSWORD"] == ""
    assert cleared["TLS_KEY"] == ""

    again = keyless(capsys, "revoke")
    assert again.code == 0, again.err


def test_revoke_with_nothing_issued(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = keyless(capsys, "revoke", "--state-dir", str(tmp_path / "empty"))
    assert result.code == 0
    assert result.out == ""


def test_revoke_after_token_expired_elsewhere(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    result = keyless(capsys, *login_args(vault, token_file, state, "--secret", "kv1/app password"))
    assert result.code == 0, result.err
    [token] = recorded_tokens(state)
    vault.server.write("auth/token/revoke", token=token)
    revoked = keyless(capsys, "revoke", "--state-dir", str(state))
    assert revoked.code == 0, revoked.err
    assert recorded_tokens(state) == []


def test_json_export_to_file(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    target = tmp_path / "values.json"
    args = login_args(
        vault,
        token_file,
        state,
        "--secret",
        "secret/app | APP_",
        "--export",
        "json",
        "--output",
        str(target),
    )
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert result.out == ""
    body = json.loads(target.read_text())
    assert body == {
        "APP_PASSWORD": vault.values["app_password"],
        "APP_API_KEY": vault.values["app_api_key"],
    }
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert keyless(capsys, "revoke", "--state-dir", str(state)).code == 0
    assert not target.exists()


def test_json_export_to_stdout(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(
        vault, token_file, tmp_path / "s", "--secret", "secret/multi pem | PEM", "--export", "json"
    )
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"PEM": vault.values["pem"]}


def test_files_export_then_revoke(
    vault: Vault,
    token_file: Path,
    github_job: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = github_job / "temp" / "keyless"
    args = login_args(vault, token_file, state, "--secret", "secret/multi pem | TLS_KEY")
    result = keyless(capsys, *args, "--export", "files")
    assert result.code == 0, result.err
    [line] = [line for line in result.out.splitlines() if line.startswith("TLS_KEY=")]
    path = Path(line.split("=", 1)[1])
    assert path.read_text() == vault.values["pem"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.is_relative_to(github_job / "temp")
    assert keyless(capsys, "revoke").code == 0
    assert not path.exists()
    assert not path.parent.exists()


def test_files_in_workspace_rejected(
    vault: Vault,
    token_file: Path,
    github_job: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = github_job / "temp" / "keyless"
    args = login_args(vault, token_file, state, "--secret", "kv1/app password")
    target = github_job / "work" / "secrets"
    result = keyless(capsys, *args, "--export", "files", "--files-dir", str(target))
    assert result.code == ExitCode.USAGE
    assert "workspace" in result.err
    assert not target.exists()
    assert recorded_tokens(state) == []


def test_github_export_outside_actions(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    args = login_args(vault, token_file, state, "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--export", "github")
    assert result.code == ExitCode.USAGE
    assert "GITHUB_ENV is not set" in result.err
    assert recorded_tokens(state) == []


def test_gitlab_dotenv(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "builds" / "group" / "app"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PROJECT_DIR", str(project))
    monkeypatch.setenv("CI_BUILDS_DIR", str(tmp_path / "builds"))
    monkeypatch.setenv("CI_JOB_ID", "42")
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    result = keyless(
        capsys,
        "vault",
        "--role",
        "ci",
        "--token-file",
        str(token_file),
        "--secret",
        "secret/app password | DB_PASSWORD",
    )
    assert result.code == 0, result.err
    dotenv = project / "keyless.env"
    assert dotenv.read_text() == f"DB_PASSWORD={vault.values['app_password']}\n"
    assert result.out == ""
    state = tmp_path / "builds" / ".keyless-42" / "keyless"
    assert len(recorded_tokens(state)) == 1


def test_export_token_named_vault_token(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    result = keyless(capsys, *login_args(vault, token_file, state, "--export-token"))
    assert result.code == 0, result.err
    [token] = recorded_tokens(state)
    assert shell_values(result.out)["VAULT_TOKEN"] == token
    assert token not in result.err


# --exec


def test_exec_passes_values_and_revokes(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    seen = tmp_path / "seen"
    script = f'import os, sys; open({str(seen)!r}, "w").write(os.environ["PW"]); sys.exit(3)'
    args = login_args(
        vault, token_file, state, "--secret", "kv1/app password | PW", "--export-token"
    )
    result = keyless(capsys, *args, "--exec", "--", sys.executable, "-c", script)
    assert result.code == 3
    assert seen.read_text() == vault.values["kv1_password"]
    assert "PW" not in os.environ
    assert recorded_tokens(state) == []
    assert_no_leak([result.out, result.err], vault.values.values())


def test_exec_token_revoked_after_exit(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = tmp_path / "token"
    script = f'import os; open({str(seen)!r}, "w").write(os.environ["VAULT_TOKEN"])'
    args = login_args(vault, token_file, tmp_path / "s", "--export-token")
    result = keyless(capsys, *args, "--exec", "--", sys.executable, "-c", script)
    assert result.code == 0, result.err
    assert lookup_self(vault, seen.read_text()) == 403


def test_exec_missing_command(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    args = login_args(vault, token_file, state, "--export-token")
    result = keyless(capsys, *args, "--exec", "--", str(tmp_path / "no-such-command"))
    assert result.code == 127
    assert "cannot run the command" in result.err
    assert recorded_tokens(state) == []


def test_exec_forwards_sigterm(vault: Vault, token_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "s"
    ready = tmp_path / "ready"
    seen = tmp_path / "token"
    script = (
        "import os, signal, sys, time\n"
        f"open({str(seen)!r}, 'w').write(os.environ['VAULT_TOKEN'])\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
        f"open({str(ready)!r}, 'w').close()\n"
        "time.sleep(30)\n"
    )
    command = [
        str(Path(sys.executable).parent / "keyless"),
        *login_args(vault, token_file, state, "--export-token"),
        "--exec",
        "--",
        sys.executable,
        "-c",
        script,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 7, err
    assert lookup_self(vault, seen.read_text()) == 403


# Logins through the local OIDC issuer, configured as real deployments are


def test_github_job_end_to_end(
    vault: Vault,
    github_job: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in vault.issuer.github_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    requests_before = len(vault.issuer.token_requests)
    result = keyless(
        capsys,
        "vault",
        "--mount",
        "github",
        "--role",
        "deploy",
        "--audience",
        AUDIENCE,
        "--secret",
        "secret/app | APP_",
    )
    assert result.code == 0, result.err
    [request] = vault.issuer.token_requests[requests_before:]
    assert request.query["audience"] == [AUDIENCE]
    env = parse_env_file((github_job / "env").read_text())
    assert env["APP_PASSWORD"] == vault.values["app_password"]
    assert env["APP_API_KEY"] == vault.values["app_api_key"]
    assert_no_leak([result.out, result.err], vault.values.values())
    assert keyless(capsys, "revoke").code == 0


def test_jwks_url_login(vault: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "id-token"
    token_file.write_text(vault.issuer.mint(audience=AUDIENCE))
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    args[args.index("--role") + 1] = "deploy"
    result = keyless(capsys, *args, "--mount", "jwks")
    assert result.code == 0, result.err
    assert shell_values(result.out)["PASSWORD"] == vault.values["kv1_password"]


def test_discovery_audience_mismatch(
    vault: Vault,
    github_job: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in vault.issuer.github_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    result = keyless(
        capsys, "vault", "--mount", "github", "--role", "deploy", "--secret", "kv1/app password"
    )
    assert result.code == ExitCode.USAGE
    assert "the token's aud https://github.com/octo-org is not in the bound_audiences" in result.err
    assert "--audience" in result.err


# Namespaces and TLS


def test_namespace_login_and_revoke(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    args = login_args(vault, token_file, state, "--secret", "kv/app password | PW")
    result = keyless(capsys, *args, "--namespace", NAMESPACE)
    assert result.code == 0, result.err
    assert shell_values(result.out)["PW"] == vault.values["team_password"]
    [token] = recorded_tokens(state)
    assert keyless(capsys, "revoke", "--state-dir", str(state)).code == 0
    response = requests.get(
        f"{vault.url}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": token, "X-Vault-Namespace": NAMESPACE},
        timeout=5,
    )
    assert response.status_code == 403


def tls_args(vault_tls: Vault, tmp_path: Path, *extra: str) -> list[str]:
    token_file = tmp_path / "id-token"
    token_file.write_text(vault_tls.signer.mint())
    return login_args(vault_tls, token_file, tmp_path / "s", "--secret", "kv1/app password", *extra)


def test_tls_with_ca_cert(
    vault_tls: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = str(vault_tls.server.ca_path)
    result = keyless(capsys, *tls_args(vault_tls, tmp_path, "--ca-cert", ca))
    assert result.code == 0, result.err
    assert shell_values(result.out)["PASSWORD"] == vault_tls.values["kv1_password"]
    [token] = recorded_tokens(tmp_path / "s")
    assert keyless(capsys, "revoke", "--state-dir", str(tmp_path / "s")).code == 0
    response = requests.get(
        f"{vault_tls.url}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": token},
        verify=ca,
        timeout=5,
    )
    assert response.status_code == 403


def test_tls_unknown_ca_explained(
    vault_tls: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = keyless(capsys, *tls_args(vault_tls, tmp_path))
    assert result.code == ExitCode.USAGE
    assert f"TLS verification of {vault_tls.url} failed: certificate verify failed" in result.err
    assert "--ca-cert" in result.err
    assert "Traceback" not in result.err


def test_tls_skip_verify_warns(
    vault_tls: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = keyless(capsys, *tls_args(vault_tls, tmp_path, "--tls-skip-verify"))
    assert result.code == 0, result.err
    assert f"TLS verification of {vault_tls.url} is off" in result.err
    assert shell_values(result.out)["PASSWORD"] == vault_tls.values["kv1_password"]


def test_debug_logs_leak_nothing(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s"
    args = login_args(
        vault, token_file, state, "--secret", "secret/app | APP_", "--export", "files"
    )
    result = keyless(capsys, "-vv", *args)
    assert result.code == 0, result.err
    assert "Vault: logged in at auth/jwt" in result.err
    assert_no_leak([result.out, result.err], [*vault.values.values(), token_file.read_text()])
    assert_no_leak([result.out, result.err], recorded_tokens(state))


def test_client_certificate_accepted(
    vault_tls: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = vault_tls.server.mutual_tls
    assert files is not None
    args = tls_args(
        vault_tls,
        tmp_path,
        "--ca-cert",
        str(files.ca),
        "--client-cert",
        str(files.client_cert),
        "--client-key",
        str(files.client_key),
    )
    args[args.index("--url") + 1] = vault_tls.server.mutual_tls_url
    result = keyless(capsys, *args)
    assert result.code == 0, result.err
    assert shell_values(result.out)["PASSWORD"] == vault_tls.values["kv1_password"]
    assert keyless(capsys, "revoke", "--state-dir", str(tmp_path / "s")).code == 0


def test_client_certificate_missing_explained(
    vault_tls: Vault, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = vault_tls.server.mutual_tls
    assert files is not None
    args = tls_args(vault_tls, tmp_path, "--ca-cert", str(files.ca))
    args[args.index("--url") + 1] = vault_tls.server.mutual_tls_url
    result = keyless(capsys, *args)
    assert result.code == ExitCode.USAGE
    # The rejection reaches the client as the server's TLS alert or, when the server
    # closes the connection first, as an unexpected EOF; both are explained.
    rejected = "requires a TLS client certificate" in result.err
    closed = "closed the TLS connection during the handshake" in result.err
    assert rejected or closed, result.err
    assert "--client-cert" in result.err


def test_dotenv_kept_by_revoke(
    vault: Vault,
    token_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "s"
    dotenv = tmp_path / "keyless.env"
    args = login_args(vault, token_file, state, "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--export", "gitlab", "--dotenv-file", str(dotenv))
    assert result.code == 0, result.err
    assert keyless(capsys, "revoke", "--state-dir", str(state)).code == 0
    assert dotenv.read_text() == f"PASSWORD={vault.values['kv1_password']}\n"


def test_exec_ignores_export_with_warning(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = login_args(vault, token_file, tmp_path / "s", "--secret", "kv1/app password")
    result = keyless(capsys, *args, "--export", "json", "--exec", "--", "true")
    assert result.code == 0, result.err
    assert "--export is ignored with --exec" in result.err
    assert result.out == ""


def test_revoke_retried_after_failure(
    vault: Vault, token_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.support.openbao import free_port

    state = tmp_path / "s"
    args = login_args(vault, token_file, state, "--secret", "kv1/app password")
    assert keyless(capsys, *args).code == 0
    state_file = state / "state.json"
    body = json.loads(state_file.read_text())
    body["entries"][0]["url"] = f"http://127.0.0.1:{free_port()}"
    state_file.write_text(json.dumps(body))

    failed = keyless(capsys, "revoke", "--state-dir", str(state))
    assert failed.code == ExitCode.FINDINGS
    assert "could not be undone" in failed.err
    [token] = recorded_tokens(state)
    assert lookup_self(vault, token) == 200

    body["entries"][0]["url"] = vault.url
    state_file.write_text(json.dumps(body))
    assert keyless(capsys, "revoke", "--state-dir", str(state)).code == 0
    assert lookup_self(vault, token) == 403
    assert recorded_tokens(state) == []


def test_shell_export_in_actions_masks_on_stderr(
    vault: Vault,
    token_file: Path,
    github_job: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = github_job / "temp" / "keyless"
    args = login_args(vault, token_file, state, "--secret", "secret/app | APP_")
    result = keyless(capsys, *args, "--export", "shell")
    assert result.code == 0, result.err
    assert "::add-mask::" not in result.out
    assert shell_values(result.out)["APP_PASSWORD"] == vault.values["app_password"]
    masked = {line.removeprefix("::add-mask::") for line in result.err.splitlines()}
    assert vault.values["app_password"] in masked
    assert vault.values["app_api_key"] in masked
    [token] = recorded_tokens(state)
    assert token in masked
    assert token_file.read_text() in masked
