"""The GitLab CI/CD components in templates/, run by tests.support.gitlab."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.integrations.conftest import VAULT_AUDIENCE, VaultServer
from tests.support.gitlab import ComponentError, load_component, predefined_variables, run_job
from tests.support.issuer import Issuer
from tests.support.snapshot import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "templates"
EXCHANGES = ("vault", "aws", "gcp", "azure")
SCANS = {"secrets": "secret_detection", "history": "secret_detection", "audit": "codequality"}
# The `keyless` of this interpreter, so jobs run the code under test with `install: ""`.
KEYLESS_BIN = str(Path(sys.executable).parent)


def _spec(name: str) -> dict[str, Any]:
    spec: dict[str, Any] = next(yaml.safe_load_all((TEMPLATES / f"{name}.yml").read_text()))
    return spec["spec"]


def _required_inputs(name: str) -> dict[str, Any]:
    placeholders: dict[str, Any] = {}
    for input_name, spec in (_spec(name).get("inputs") or {}).items():
        if spec is None or "default" not in spec:
            placeholders[input_name] = "placeholder"
    return placeholders


# --- definitions ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SCANS, *EXCHANGES])
def test_component_interpolates_all_inputs(name: str) -> None:
    component = load_component(TEMPLATES / f"{name}.yml", _required_inputs(name))
    text = yaml.safe_dump(component.jobs)
    assert "$[[" not in text
    assert component.jobs, name


@pytest.mark.parametrize("name", sorted(SCANS))
def test_scan_component_reports(name: str) -> None:
    component = load_component(TEMPLATES / f"{name}.yml", {})
    (job_name, job), *others = component.jobs.items()
    assert others == []
    assert job_name == f"keyless-{name}"
    report = job["artifacts"]["reports"][SCANS[name]]
    assert job["artifacts"]["when"] == "always"
    assert job["variables"]["KEYLESS_REPORT"] == report
    assert any('-output "$KEYLESS_REPORT"' in line for line in job["script"])


@pytest.mark.parametrize("name", EXCHANGES)
def test_exchange_component_revokes(name: str) -> None:
    component = load_component(TEMPLATES / f"{name}.yml", _required_inputs(name))
    job = component.jobs[f".keyless-{name}"]
    assert list(job["id_tokens"]) == ["KEYLESS_ID_TOKEN"]
    assert job["id_tokens"]["KEYLESS_ID_TOKEN"]["aud"]
    assert job["variables"]["KEYLESS_TOKEN_ENV"] == "KEYLESS_ID_TOKEN"
    assert any(f"keyless_exports=$(keyless {name} " in line for line in job["before_script"])
    assert any("keyless revoke" in line for line in job["after_script"])


def test_harness_checks_inputs() -> None:
    with pytest.raises(ComponentError, match="'url' is required"):
        load_component(TEMPLATES / "vault.yml", {"audience": "x"})
    with pytest.raises(ComponentError, match="unknown inputs"):
        load_component(TEMPLATES / "secrets.yml", {"no-such-input": "x"})
    with pytest.raises(ComponentError, match="must be a boolean"):
        load_component(
            TEMPLATES / "vault.yml", {"audience": "x", "url": "y", "export-token": "yes"}
        )


# --- scan components -----------------------------------------------------------------


@pytest.fixture
def project(repo: GitRepo) -> GitRepo:
    repo.write("README.md", "a small project\n")
    repo.commit("initial")
    return repo


def _variables(project: GitRepo, **extra: str) -> dict[str, str]:
    head = project.git("rev-parse", "HEAD").strip()
    return predefined_variables(project.path, head, **extra)


def test_secrets_component_report(project: GitRepo) -> None:
    token = github_token()
    project.write("deploy/settings.py", f'TOKEN = "{token}"\n')
    job = load_component(TEMPLATES / "secrets.yml", {"install": ""}).jobs["keyless-secrets"]
    result = run_job(job, project.path, _variables(project), path_prefix=KEYLESS_BIN)
    assert result.returncode == 1, result.output
    assert "deploy/settings.py:1:" in result.output
    assert token not in result.output
    report = json.loads((project.path / "gl-secret-detection-report.json").read_text())
    assert report["scan"]["type"] == "secret_detection"
    paths = [item["location"]["file"] for item in report["vulnerabilities"]]
    assert paths == ["deploy/settings.py"]


def test_history_component_push_range(project: GitRepo) -> None:
    before = project.git("rev-parse", "HEAD").strip()
    project.write("deploy.sh", f"export GITHUB_TOKEN={github_token()}\n")
    project.commit("add a token")
    project.write("deploy.sh", "export GITHUB_TOKEN=$FROM_VAULT\n")
    project.commit("remove it")
    job = load_component(TEMPLATES / "history.yml", {"install": ""}).jobs["keyless-history"]
    variables = _variables(project, CI_COMMIT_BEFORE_SHA=before)
    result = run_job(job, project.path, variables, path_prefix=KEYLESS_BIN)
    assert result.returncode == 1, result.output
    assert f"keyless: scanning {before}.." in result.output
    report = json.loads((project.path / "gl-secret-detection-history.json").read_text())
    assert [item["location"]["file"] for item in report["vulnerabilities"]] == ["deploy.sh"]


def test_audit_component_code_quality(project: GitRepo) -> None:
    project.write(
        ".gitlab-ci.yml",
        "deploy:\n  variables:\n    CI_DEBUG_TRACE: 'true'\n  script:\n    - ./deploy.sh\n",
    )
    job = load_component(TEMPLATES / "audit.yml", {"install": ""}).jobs["keyless-audit"]
    result = run_job(job, project.path, _variables(project), path_prefix=KEYLESS_BIN)
    assert result.returncode == 1, result.output
    issues = json.loads((project.path / "gl-code-quality-report.json").read_text())
    assert any(issue["location"]["path"] == ".gitlab-ci.yml" for issue in issues)


def test_history_component_range_selection(project: GitRepo) -> None:
    """The range logic alone, stopped before the scan: merge request, push, new branch."""
    job = load_component(TEMPLATES / "history.yml", {"install": ""}).jobs["keyless-history"]
    job = {**job, "script": [line for line in job["script"] if "--gitlab-output" not in line]}
    head = project.git("rev-parse", "HEAD").strip()
    cases = [
        ({"CI_MERGE_REQUEST_DIFF_BASE_SHA": "a" * 40}, f"{'a' * 40}..{head}"),
        ({"CI_COMMIT_BEFORE_SHA": "b" * 40}, f"{'b' * 40}..{head}"),
        ({}, f"{'0' * 40}..{head}"),
    ]
    for extra, expected in cases:
        result = run_job(job, project.path, _variables(project, **extra), path_prefix=KEYLESS_BIN)
        assert result.returncode == 0, result.output
        assert f"keyless: scanning {expected}" in result.output


# --- exchange components -------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_vault_component_job(
    project: GitRepo, vault_server: VaultServer, oidc_issuer_session: Issuer, tmp_path: Path
) -> None:
    inputs = {
        "url": vault_server.server.url,
        "audience": VAULT_AUDIENCE,
        "role": "gitlab",
        "secret": "secret/app password | APP_PASSWORD\nsecret/app pem | APP_PEM",
        "export-token": True,
        "install": "",
    }
    job = load_component(TEMPLATES / "vault.yml", inputs).jobs[".keyless-vault"]
    audiences: list[str] = []

    def mint(audience: str) -> str:
        audiences.append(audience)
        return oidc_issuer_session.mint(audience=audience, flavor="gitlab")

    seen = tmp_path / "seen"
    # The user's own script: record hashes of what it received, never the values.
    user_script = [
        f'printf %s "$APP_PASSWORD" | sha256sum | cut -c1-64 > "{seen}"',
        f'printf %s "$APP_PEM" | sha256sum | cut -c1-64 >> "{seen}"',
        f'printf %s "$VAULT_TOKEN" > "{tmp_path / "vault-token"}"',
    ]
    result = run_job(
        job,
        project.path,
        _variables(project),
        mint_id_token=mint,
        extra_script=user_script,
        path_prefix=KEYLESS_BIN,
    )
    assert result.returncode == 0, result.output + result.after_output
    assert audiences == [VAULT_AUDIENCE]
    assert seen.read_text().split() == [
        _digest(vault_server.password),
        _digest(vault_server.pem),
    ]
    for value in (vault_server.password, *vault_server.pem.splitlines()[1:-1]):
        assert value not in result.output + result.after_output

    assert result.after_returncode == 0, result.after_output
    vault_token = (tmp_path / "vault-token").read_text()
    lookup = requests.get(
        f"{vault_server.server.url}/v1/auth/token/lookup-self",
        headers={"X-Vault-Token": vault_token},
        timeout=10,
    )
    assert lookup.status_code == 403


def test_vault_component_refused_login_fails_job(
    project: GitRepo, vault_server: VaultServer, oidc_issuer_session: Issuer
) -> None:
    """A role that does not match the token fails before the user's script runs."""
    inputs = {
        "url": vault_server.server.url,
        "audience": VAULT_AUDIENCE,
        "role": "ci",  # bound to a GitHub repository, not this GitLab project
        "secret": "secret/app password | APP_PASSWORD",
        "install": "",
    }
    job = load_component(TEMPLATES / "vault.yml", inputs).jobs[".keyless-vault"]
    result = run_job(
        job,
        project.path,
        _variables(project),
        mint_id_token=lambda audience: oidc_issuer_session.mint(audience=audience, flavor="gitlab"),
        extra_script=["echo user script ran"],
        path_prefix=KEYLESS_BIN,
    )
    assert result.returncode != 0
    assert "user script ran" not in result.output
    assert "repository" in result.output
    assert result.after_returncode == 0, result.after_output


def test_aws_component_job(
    project: GitRepo, moto_sts: str, oidc_issuer_session: Issuer, tmp_path: Path
) -> None:
    inputs = {
        "role-arn": "arn:aws:iam::123456789012:role/deploy",
        "region": "us-east-1",
        "install": "",
    }
    job = load_component(TEMPLATES / "aws.yml", inputs).jobs[".keyless-aws"]
    job["variables"]["KEYLESS_STS_ENDPOINT"] = moto_sts
    audiences: list[str] = []

    def mint(audience: str) -> str:
        audiences.append(audience)
        return oidc_issuer_session.mint(audience=audience, flavor="gitlab")

    user_script = [
        'case "$AWS_ACCESS_KEY_ID" in ASIA*) ;; *) echo "no key id"; exit 9 ;; esac',
        'test -n "$AWS_SECRET_ACCESS_KEY" && test -n "$AWS_SESSION_TOKEN"',
        'test "$AWS_REGION" = us-east-1',
        f'printf %s "$AWS_SECRET_ACCESS_KEY" > "{tmp_path / "secret-key"}"',
    ]
    result = run_job(
        job,
        project.path,
        _variables(project),
        mint_id_token=mint,
        extra_script=user_script,
        path_prefix=KEYLESS_BIN,
    )
    assert result.returncode == 0, result.output
    assert audiences == ["sts.amazonaws.com"]
    secret_key = (tmp_path / "secret-key").read_text()
    assert secret_key
    assert secret_key not in result.output + result.after_output
    assert result.after_returncode == 0, result.after_output


# --- gitlab-ci-local -------------------------------------------------------------------

GITLAB_CI_LOCAL = PROJECT_ROOT / ".venv" / "gitlab-ci-local" / "node_modules" / ".bin"
needs_gitlab_ci_local = pytest.mark.skipif(
    not (GITLAB_CI_LOCAL / "gitlab-ci-local").exists() or shutil.which("rsync") is None,
    reason="gitlab-ci-local (installed by scripts/test) or rsync, which it needs, is missing",
)

PIPELINE = """\
include:
  - local: templates/secrets.yml
    inputs:
      install: ""
  - local: templates/audit.yml
    inputs:
      install: ""
  - local: templates/vault.yml
    inputs:
      url: {url}
      audience: {audience}
      role: gitlab
      secret: secret/app password | APP_PASSWORD
      install: ""

deploy:
  extends: .keyless-vault
  script:
    - test "$(printf %s "$APP_PASSWORD" | sha256sum | cut -c1-64)" = {digest}
    - echo deployed with the password from Vault
"""


@pytest.mark.slow
@needs_gitlab_ci_local
def test_components_in_gitlab_ci_local(
    project: GitRepo, vault_server: VaultServer, oidc_issuer_session: Issuer, tmp_path: Path
) -> None:
    """The real gitlab-ci-local validates the pipeline against GitLab's schema and runs it."""
    shutil.copytree(TEMPLATES, project.path / "templates")
    project.write(
        ".gitlab-ci.yml",
        PIPELINE.format(
            url=vault_server.server.url,
            audience=VAULT_AUDIENCE,
            digest=_digest(vault_server.password),
        ),
    )
    project.write("leak.py", f'TOKEN = "{github_token()}"\n')
    project.commit("pipeline")

    # gitlab-ci-local does not request id_tokens, so the job's token comes as a variable.
    id_token = oidc_issuer_session.mint(audience=VAULT_AUDIENCE, flavor="gitlab")
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([KEYLESS_BIN, env.get("PATH", "")])
    proc = subprocess.run(
        [
            str(GITLAB_CI_LOCAL / "gitlab-ci-local"),
            "--force-shell-executor",
            "--home",
            str(tmp_path / "gitlab-ci-local-home"),
            "--variable",
            f"KEYLESS_ID_TOKEN={id_token}",
            "keyless-secrets",
            "keyless-audit",
            "deploy",
        ],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    output = proc.stdout + proc.stderr
    assert "json schema validated" in output
    assert re.search(r"PASS\s+deploy", output), output
    assert re.search(r"PASS\s+keyless-audit", output), output
    assert re.search(r"FAIL\s+keyless-secrets", output), output
    assert "deployed with the password from Vault" in output
    assert re.search(r"deploy\s+Running after script", output), output
    assert "revoke failed" not in output
    assert vault_server.password not in output
    artifacts = project.path / ".gitlab-ci-local" / "artifacts"
    report = json.loads(
        (artifacts / "keyless-secrets" / "gl-secret-detection-report.json").read_text()
    )
    assert [item["location"]["file"] for item in report["vulnerabilities"]] == ["leak.py"]
    quality = json.loads((artifacts / "keyless-audit" / "gl-code-quality-report.json").read_text())
    assert quality == []
