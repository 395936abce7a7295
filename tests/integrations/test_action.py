"""The composite GitHub Action in action.yml, run step by step by tests.support.actions."""

from __future__ import annotations

import argparse
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from keyless import __version__
from keyless.cli import COMMANDS
from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.integrations.conftest import VAULT_AUDIENCE, VaultServer
from tests.support.actions import ActionRun, ActionRunner, parse_env_file
from tests.support.issuer import Issuer
from tests.support.snapshot import PROJECT_ROOT, Snapshot

pytestmark = pytest.mark.slow

# Inputs that steer the action itself rather than set a keyless flag.
NOT_FLAGS = {
    "mode",
    "paths",
    "history",
    "audit",
    "sarif",
    "python",
    "cache",
    "working-directory",
    "log-level",
}

# Inputs whose variable means different things to different commands, so run.sh
# passes them as flags.
PASSED_AS_FLAGS = {"format", "credentials"}

# The command whose flag each input sets (one of them, where several share it).
FLAG_COMMANDS = {
    "fail-on": "scan",
    "format": "scan",
    "config": "scan",
    "baseline": "scan",
    "exclude": "scan",
    "max-file-size": "scan",
    "no-inline-allow": "scan",
    "audience": "vault",
    "token-env": "vault",
    "export": "vault",
    "state-dir": "revoke",
    "credentials": "aws",
    "url": "vault",
    "namespace": "vault",
    "ca-cert": "vault",
    "mount": "vault",
    "role": "vault",
    "secret": "vault",
    "export-token": "vault",
    "role-arn": "aws",
    "region": "aws",
    "duration": "aws",
    "session-name": "aws",
    "chain-role-arn": "aws",
    "profile": "aws",
    "sts-endpoint": "aws",
    "workload-identity-provider": "gcp",
    "service-account": "gcp",
    "lifetime": "gcp",
    "scopes": "gcp",
    "tenant-id": "azure",
    "client-id": "azure",
    "scope": "azure",
}

ACTION = yaml.safe_load((PROJECT_ROOT / "action.yml").read_text())


def _run_step_env() -> dict[str, str]:
    steps = {step.get("id"): step for step in ACTION["runs"]["steps"]}
    return {key: str(value) for key, value in steps["run"]["env"].items()}


def _flag_variables(command: str) -> dict[str, str]:
    """Return each long flag of `command` with the environment variable it reads."""
    module = importlib.import_module(COMMANDS[command][0])
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    variables = {}
    for action in parser._actions:
        found = re.search(r"\(env: (\w+)\)", action.help or "")
        for flag in action.option_strings:
            if flag.startswith("--") and found:
                variables[flag] = found.group(1)
    return variables


@pytest.fixture(scope="session")
def runner_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated runner's folders; its tool cache outlives single tests."""
    return tmp_path_factory.mktemp("runner")


@pytest.fixture(scope="session")
def cold_run(
    snapshot: Snapshot, runner_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[ActionRunner, ActionRun]:
    """The first run of the action in this session, which installs keyless."""
    workspace = GitRepo(tmp_path_factory.mktemp("cold") / "repo")
    workspace.write("README.md", "a small project\n")
    workspace.git("add", "-A")
    workspace.git(
        "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "initial"
    )
    runner = ActionRunner(
        action_dir=snapshot.path, workspace=workspace.path, runner_root=runner_root
    )
    return runner, runner.run({})


@pytest.fixture
def installed(cold_run: tuple[ActionRunner, ActionRun], runner_root: Path) -> Path:
    """The runner folders after the cold run, so later runs find keyless installed."""
    return runner_root


@pytest.fixture
def workspace(repo: GitRepo) -> GitRepo:
    repo.write("README.md", "a small project\n")
    repo.write("src/app.py", "print('hello')\n")
    repo.commit("initial")
    return repo


def _runner(
    snapshot: Snapshot, workspace: GitRepo, runner_root: Path, **kwargs: Any
) -> ActionRunner:
    return ActionRunner(
        action_dir=snapshot.path, workspace=workspace.path, runner_root=runner_root, **kwargs
    )


# --- definition ----------------------------------------------------------------------


def test_action_is_composite_without_docker() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert "image" not in ACTION["runs"]
    for step in ACTION["runs"]["steps"]:
        assert "docker://" not in str(step.get("uses", ""))


@pytest.mark.parametrize("name", sorted(set(ACTION["inputs"]) - NOT_FLAGS))
def test_input_sets_flag_variable(name: str) -> None:
    flags = _flag_variables(FLAG_COMMANDS[name])
    assert f"--{name}" in flags
    if name in PASSED_AS_FLAGS:
        variable = "KEYLESS_ACTION_" + name.upper().replace("-", "_")
        assert _run_step_env()[variable] == f"${{{{ inputs.{name} }}}}"
        assert flags[f"--{name}"] not in _run_step_env()
        return
    variable = flags[f"--{name}"]
    # An empty input keeps the job's own value of the variable.
    assert _run_step_env()[variable] == f"${{{{ inputs.{name} || env.{variable} }}}}"


def test_every_flag_input_has_command() -> None:
    flag_inputs = set(ACTION["inputs"]) - NOT_FLAGS
    assert flag_inputs == set(FLAG_COMMANDS)


# --- install and cache ---------------------------------------------------------------


def test_install_then_cached(cold_run: tuple[ActionRunner, ActionRun]) -> None:
    runner, cold = cold_run
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert cold.outputs["cache-hit"] == "false"
    assert cold.outputs["version"] == __version__
    locate = cold.step("locate").outputs
    assert re.fullmatch(
        rf"keyless-{re.escape(__version__)}-[0-9a-f]{{12}}-linux-\w+-py3\.\d+", locate["key"]
    )
    venv = Path(locate["venv"])
    assert venv.is_relative_to(runner.tool_cache)
    assert cold.path_entries == [str(venv / "bin")]
    cache_step = next(step for step in cold.steps if step.uses)
    assert cache_step.uses is not None
    assert cache_step.uses.startswith("actions/cache@")
    assert cache_step.with_ == {"path": str(venv), "key": locate["key"]}

    warm = runner.run({})
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert warm.outputs["cache-hit"] == "true"
    assert warm.step("locate").outputs["key"] == locate["key"]


def test_half_built_environment_is_rebuilt(
    cold_run: tuple[ActionRunner, ActionRun], tmp_path: Path
) -> None:
    """An environment without its completion marker (an interrupted build) is rebuilt."""
    runner, cold = cold_run
    venv = Path(cold.step("locate").outputs["venv"])
    (venv / ".keyless-action-key").unlink()
    rebuilt = runner.run({})
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert rebuilt.outputs["cache-hit"] == "false"
    marker = (venv / ".keyless-action-key").read_text().strip()
    assert marker == rebuilt.step("locate").outputs["key"]


def test_python_too_old_is_clear(
    snapshot: Snapshot, workspace: GitRepo, runner_root: Path, tmp_path: Path
) -> None:
    fake_python = tmp_path / "python-old"
    fake_python.write_text("#!/bin/sh\nexec python3 -c 'import sys; print(\"3.8\"); sys.exit(1)'\n")
    fake_python.chmod(0o755)
    run = _runner(snapshot, workspace, runner_root).run({"python": str(fake_python)})
    assert run.returncode == 2
    assert "keyless needs 3.10 or newer" in run.stdout
    assert not run.step("install").ran


# --- scan mode -----------------------------------------------------------------------


def test_scan_clean_repository(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    run = _runner(snapshot, workspace, installed).run({})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outputs["findings"] == "false"
    assert "| secrets in the work tree | passed |" in run.summary
    assert Path(run.outputs["sarif"]).is_dir()


def test_scan_finds_secret(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    token = github_token()
    workspace.write("deploy/settings.py", f'TOKEN = "{token}"\n')
    run = _runner(snapshot, workspace, installed).run({})
    assert run.returncode == 1
    assert run.outputs["findings"] == "true"
    assert "::error file=deploy/settings.py,line=1," in run.step("run").stdout
    assert "| secrets in the work tree | findings |" in run.summary
    assert token not in run.stdout + run.stderr + run.summary

    sarif = Path(run.outputs["sarif"])
    assert sorted(path.name for path in sarif.iterdir()) == [
        "audit.sarif",
        "history.sarif",
        "secrets.sarif",
    ]
    categories = {}
    for path in sarif.iterdir():
        log = json.loads(path.read_text())
        assert log["version"] == "2.1.0"
        (only_run,) = log["runs"]
        category = only_run["automationDetails"]["id"].rsplit("/", 1)[0]
        categories[path.name] = category
        assert token not in path.read_text()
    # GitHub rejects an upload with two runs of one category.
    assert len(set(categories.values())) == 3
    secrets_log = json.loads((sarif / "secrets.sarif").read_text())
    (result,) = secrets_log["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "deploy/settings.py"


def test_scan_text_format(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    workspace.write("deploy/settings.py", f'TOKEN = "{github_token()}"\n')
    run = _runner(snapshot, workspace, installed).run({"format": "text"})
    assert run.returncode == 1
    assert "deploy/settings.py:1:" in run.step("run").stdout
    assert "::error" not in run.step("run").stdout


def test_scan_inputs_reach_flags(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    workspace.write("deploy/settings.py", f'TOKEN = "{github_token()}"\n')
    workspace.write("fixtures/sample.py", f'TOKEN = "{github_token()}"\n')
    runner = _runner(snapshot, workspace, installed)

    above = runner.run({"fail-on": "critical"})
    assert above.returncode == 0, above.stdout + above.stderr
    assert above.outputs["findings"] == "false"

    excluded = runner.run({"exclude": "deploy/**\nfixtures/**\n", "format": "json"})
    assert excluded.returncode == 0, excluded.stdout + excluded.stderr
    assert '"findings": []' in excluded.step("run").stdout

    only_fixtures = runner.run({"paths": "fixtures\n"})
    assert only_fixtures.returncode == 1
    assert "fixtures/sample.py" in only_fixtures.step("run").stdout
    assert "deploy/settings.py" not in only_fixtures.step("run").stdout


def test_working_directory_input(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    workspace.write("service/leak.py", f'TOKEN = "{github_token()}"\n')
    workspace.write("other/leak.py", f'TOKEN = "{github_token()}"\n')
    run = _runner(snapshot, workspace, installed).run(
        {"working-directory": str(workspace.path / "service"), "paths": "."}
    )
    assert run.returncode == 1
    assert "leak.py" in run.step("run").stdout
    assert "other/leak.py" not in run.step("run").stdout


def test_invalid_mode(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    run = _runner(snapshot, workspace, installed).run({"mode": "deploy"})
    assert run.returncode == 2
    assert "::error title=keyless::mode 'deploy' is invalid" in run.stdout


def test_harness_parses_heredoc_outputs() -> None:
    text = "plain=1\nmulti<<EOF_abc\nline one\nline two\nEOF_abc\nempty=\n"
    assert parse_env_file(text) == {"plain": "1", "multi": "line one\nline two", "empty": ""}


# --- history and audit -----------------------------------------------------------------


def test_scan_push_range(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    """On push, the commits between `before` and the pushed head are scanned."""
    before = workspace.git("rev-parse", "HEAD").strip()
    token = github_token()
    workspace.write("deploy.sh", f"export GITHUB_TOKEN={token}\n")
    workspace.commit("add a token")
    workspace.write("deploy.sh", "export GITHUB_TOKEN=$FROM_VAULT\n")
    head = workspace.commit("remove it again")
    runner = _runner(
        snapshot,
        workspace,
        installed,
        event={"before": before, "after": head},
        extra_env={"GITHUB_SHA": head},
    )
    run = runner.run({})
    assert run.returncode == 1, run.stdout + run.stderr
    output = run.step("run").stdout
    assert f"keyless: secrets in commits {before}..{head}" in output
    assert "deploy.sh" in output
    assert "| secrets in the work tree | passed |" in run.summary
    assert f"| secrets in commits {before}..{head} | findings |" in run.summary
    assert token not in run.stdout + run.stderr

    # The same push seen from a later commit range has nothing new.
    later = runner.run({"history": f"{head}..{head}"})
    assert later.returncode == 0, later.stdout + later.stderr


def test_scan_pull_request_range(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    base = workspace.git("rev-parse", "HEAD").strip()
    workspace.git("checkout", "-q", "-b", "feature")
    workspace.write("config/app.env", f"TOKEN={github_token()}\n")
    workspace.commit("add config")
    workspace.write("config/app.env", "TOKEN=\n")
    head = workspace.commit("empty config")
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    runner = _runner(snapshot, workspace, installed, event_name="pull_request", event=event)
    run = runner.run({})
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"| secrets in commits {base}..{head} | findings |" in run.summary
    assert "config/app.env" in run.step("run").stdout


def test_scan_other_event_skips_history(
    snapshot: Snapshot, workspace: GitRepo, installed: Path
) -> None:
    runner = _runner(snapshot, workspace, installed, event_name="workflow_dispatch")
    run = runner.run({})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "secrets in commits" not in run.summary
    assert "no pushed range" in run.step("run").stderr


def test_scan_audits_pipeline(snapshot: Snapshot, workspace: GitRepo, installed: Path) -> None:
    workspace.write(
        ".gitlab-ci.yml",
        "deploy:\n  variables:\n    CI_DEBUG_TRACE: 'true'\n  script:\n    - ./deploy.sh\n",
    )
    runner = _runner(snapshot, workspace, installed)
    run = runner.run({"history": "none"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "| pipeline configuration | findings |" in run.summary
    assert "debug-trace" in run.step("run").stdout

    skipped = runner.run({"history": "none", "audit": "false"})
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "pipeline configuration" not in skipped.summary


# --- exchange modes ----------------------------------------------------------------------


def _assert_masked(run: ActionRun, values: list[str]) -> None:
    """Check every value was masked and appears in no log line but its own mask command."""
    for value in values:
        for line in value.splitlines() or [value]:
            assert line in run.masks
    for step in run.steps:
        log_lines = [
            line
            for line in (step.stdout + step.stderr).splitlines()
            if not line.startswith("::add-mask::")
        ]
        for value in values:
            for part in value.splitlines():
                assert not any(part in line for line in log_lines), step.name


def test_vault_mode_exports_and_revokes(
    snapshot: Snapshot,
    workspace: GitRepo,
    installed: Path,
    vault_server: VaultServer,
    oidc_issuer_session: Issuer,
) -> None:
    runner = _runner(
        snapshot, workspace, installed, extra_env=oidc_issuer_session.github_environment()
    )
    job = runner.new_job()
    run = runner.run(
        {
            "mode": "vault",
            "url": vault_server.server.url,
            "role": "ci",
            "audience": VAULT_AUDIENCE,
            "secret": "secret/app password | APP_PASSWORD\nsecret/app pem | APP_PEM\n",
            "export-token": "true",
        },
        job=job,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.env["APP_PASSWORD"] == vault_server.password
    assert run.env["APP_PEM"] == vault_server.pem
    assert run.step("run").outputs["APP_PASSWORD"] == vault_server.password
    vault_token = run.env["VAULT_TOKEN"]
    _assert_masked(run, [vault_server.password, vault_server.pem, vault_token])
    requests_seen = [r for r in oidc_issuer_session.token_requests if r.query.get("audience")]
    assert requests_seen[-1].query["audience"] == [VAULT_AUDIENCE]

    lookup = f"{vault_server.server.url}/v1/auth/token/lookup-self"
    assert requests.get(lookup, headers={"X-Vault-Token": vault_token}, timeout=10).ok

    # The documented final step: `- if: always()` / `run: keyless revoke`.
    revoke = runner.run_step(job, "keyless revoke")
    assert revoke.returncode == 0, revoke.stdout + revoke.stderr
    revoked = requests.get(lookup, headers={"X-Vault-Token": vault_token}, timeout=10)
    assert revoked.status_code == 403
    assert job.env["APP_PASSWORD"] == ""
    assert job.env["VAULT_TOKEN"] == ""
    leftovers = [
        path
        for path in job.temp.rglob("*")
        if path.is_file() and vault_server.password in path.read_text(errors="replace")
    ]
    assert leftovers == []

    # Revoking again, as the action's revoke mode, is harmless.
    again = runner.run({"mode": "revoke"}, job=job)
    assert again.returncode == 0, again.stdout + again.stderr


def test_vault_mode_without_id_token_permission(
    snapshot: Snapshot, workspace: GitRepo, installed: Path, vault_server: VaultServer
) -> None:
    """Without ACTIONS_ID_TOKEN_REQUEST_* the job lacks `id-token: write`; the error names it."""
    runner = _runner(snapshot, workspace, installed)
    run = runner.run(
        {
            "mode": "vault",
            "url": vault_server.server.url,
            "role": "ci",
            "audience": VAULT_AUDIENCE,
            "secret": "secret/app password | APP_PASSWORD",
        }
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "id-token: write" in run.step("run").stderr


def test_aws_mode_outputs(
    snapshot: Snapshot,
    workspace: GitRepo,
    installed: Path,
    moto_sts: str,
    oidc_issuer_session: Issuer,
) -> None:
    runner = _runner(
        snapshot, workspace, installed, extra_env=oidc_issuer_session.github_environment()
    )
    run = runner.run(
        {
            "mode": "aws",
            "role-arn": "arn:aws:iam::123456789012:role/deploy",
            "region": "us-east-1",
            "sts-endpoint": moto_sts,
        }
    )
    assert run.returncode == 0, run.stdout + run.stderr
    key_id = run.outputs["aws-access-key-id"]
    secret_key = run.outputs["aws-secret-access-key"]
    session_token = run.outputs["aws-session-token"]
    assert key_id.startswith("ASIA")
    assert secret_key
    assert session_token
    assert run.env["AWS_SECRET_ACCESS_KEY"] == secret_key
    _assert_masked(run, [secret_key, session_token])
