"""The `keyless audit` command: discovery, suppression, config, baseline, formats, tips."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from keyless.cli import main
from keyless.report import FORMATS
from tests.audit.support import audit_json, found
from tests.conftest import GitRepo

AWS_STEP = """\
name: deploy
on: push
permissions:
  contents: read
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}
          aws-region: eu-central-1
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_discovery_finds_pipeline_files_only(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.path)
    write(repo.path, ".github/workflows/a.yml", AWS_STEP)
    write(repo.path, ".github/workflows/nested/ignored.yml", AWS_STEP)
    write(repo.path, "actions/setup/action.yaml", "runs:\n  using: composite\n  steps: []\n")
    write(repo.path, ".gitlab-ci.yml", "job:\n  script: [make]\n")
    write(repo.path, "config/other.yml", AWS_STEP)
    write(repo.path, "node_modules/x/action.yml", "runs:\n  using: node20\n")
    report = audit_json(capsys)
    assert report["scanned"] == 3
    assert {f["path"] for f in report["findings"]} == {".github/workflows/a.yml"}


def test_exit_codes_follow_fail_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    assert main(["audit"]) == 1
    assert main(["audit", "--fail-on", "critical"]) == 0
    low_only = (
        "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: x\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
    )
    write(tmp_path, ".github/workflows/a.yml", low_only)
    # A GitHub-owned action on a tag is low severity: below the default --fail-on medium.
    assert main(["audit"]) == 0
    assert main(["audit", "--fail-on", "low"]) == 1


def test_missing_path_is_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "nope"]) == 2
    assert "nope: no such file or directory" in capsys.readouterr().err


def test_help_lists_audit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "audit" in capsys.readouterr().out


def test_aws_tip_is_for_this_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    report = audit_json(capsys, target)
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "static-cloud-credentials"]
    assert finding["line"] == 12
    tip = finding["remediation"]
    assert "Give job `deploy` an ID token" in tip
    assert "id-token: write" in tip
    assert "aws-actions/configure-aws-credentials@v4" in tip
    assert "role-to-assume: arn:aws:iam::<account-id>:role/<role-name>" in tip
    assert "aws-region: eu-central-1" in tip


@pytest.mark.parametrize(
    ("uses", "inputs", "expected"),
    [
        (
            "google-github-actions/auth@v2",
            "credentials_json: ${{ secrets.GCP }}",
            ["workload_identity_provider:", "service_account:", "id-token: write"],
        ),
        (
            "azure/login@v2",
            "creds: ${{ secrets.AZURE }}",
            ["client-id:", "tenant-id:", "subscription-id:", "id-token: write"],
        ),
    ],
)
def test_gcp_and_azure_tips(
    uses: str,
    inputs: str,
    expected: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (
        "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: x\n    steps:\n"
        f"      - uses: {uses}\n        with:\n          {inputs}\n"
    )
    target = write(tmp_path, ".github/workflows/a.yml", text)
    report = audit_json(capsys, target)
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "static-cloud-credentials"]
    for fragment in expected:
        assert fragment in finding["remediation"]
    assert uses in finding["remediation"]


def test_gitlab_tip_shows_id_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = write(
        tmp_path,
        ".gitlab-ci.yml",
        "deploy:\n  script:\n    - aws configure set aws_secret_access_key $K\n",
    )
    report = audit_json(capsys, target)
    (finding,) = report["findings"]
    assert "id_tokens:" in finding["remediation"]
    assert "aud: sts.amazonaws.com" in finding["remediation"]
    assert "assume-role-with-web-identity" in finding["remediation"]


def test_deprecated_jwt_tip_shows_id_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write(tmp_path, ".gitlab-ci.yml", "j:\n  script:\n    - login $CI_JOB_JWT\n")
    report = audit_json(capsys, target)
    (finding,) = report["findings"]
    assert "id_tokens:" in finding["remediation"]


def test_inline_allow_places(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = AWS_STEP.replace(
        "          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n",
        "          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}  "
        "# keyless: allow[static-cloud-credentials] migrating next sprint\n",
    ).replace("@v4\n", "@v4  # keyless: allow[unpinned-action] pinned by renovate\n")
    target = write(tmp_path, ".github/workflows/a.yml", text)
    report = audit_json(capsys, target)
    assert report["findings"] == []
    assert report["suppressed"] == 2

    # A comment on the line above the step is not on the node's first line.
    comment_above = AWS_STEP.replace(
        "      - uses: aws-actions",
        "      # keyless: allow[static-cloud-credentials]\n      - uses: aws-actions",
    )
    write(tmp_path, ".github/workflows/a.yml", comment_above)
    report = audit_json(capsys, target)
    assert found(report, "static-cloud-credentials") == {(13, "static-cloud-credentials")}

    step_first_line = AWS_STEP.replace(
        "credentials@v4\n", "credentials@v4  # keyless: allow[static-cloud-credentials]\n"
    )
    write(tmp_path, ".github/workflows/a.yml", step_first_line)
    report = audit_json(capsys, target)
    assert found(report, "static-cloud-credentials") == set()

    job_comment = AWS_STEP.replace(
        "  deploy:\n", "  deploy:  # keyless: allow[static-cloud-credentials] legacy\n"
    )
    write(tmp_path, ".github/workflows/a.yml", job_comment)
    report = audit_json(capsys, target)
    assert found(report, "static-cloud-credentials") == set()


def test_inline_allow_other_rule_does_not_hide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = AWS_STEP.replace("@v4\n", "@v4  # keyless: allow[template-injection]\n")
    target = write(tmp_path, ".github/workflows/a.yml", text)
    report = audit_json(capsys, target)
    assert (9, "unpinned-action") in found(report)


def test_no_inline_allow_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = AWS_STEP.replace("@v4\n", "@v4  # keyless: allow[unpinned-action]\n")
    target = write(tmp_path, ".github/workflows/a.yml", text)
    report = audit_json(capsys, target, "--no-inline-allow")
    assert (9, "unpinned-action") in found(report)


def test_config_ignore_by_path_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    write(
        tmp_path,
        ".keyless.toml",
        '[[ignore]]\nrule = "unpinned-action"\npath = ".github/workflows/*.yml"\n\n'
        '[[ignore]]\nrule = "static-cloud-credentials"\npath = ".github/workflows/a.yml"\n'
        "line = 99\n",
    )
    report = audit_json(capsys)
    assert found(report) == {(12, "static-cloud-credentials")}
    assert report["ignored"] == 1
    assert report["suppressed"] == 0


def test_config_disable_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    write(tmp_path, ".keyless.toml", 'disable = ["unpinned-action"]\n')
    report = audit_json(capsys)
    assert {f["rule_id"] for f in report["findings"]} == {"static-cloud-credentials"}


def test_baseline_ignores_moved_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workflow = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    assert main(["audit", "--baseline", "base.json", "--update-baseline"]) == 0
    stored = json.loads((tmp_path / "base.json").read_text())
    assert len(stored["findings"]) == 2

    workflow.write_text("# a new comment\n\n" + AWS_STEP, encoding="utf-8")
    report = audit_json(capsys, "--baseline", "base.json")
    assert report["findings"] == []
    assert report["baselined"] == 2

    workflow.write_text(AWS_STEP.replace("@v4", "@main"), encoding="utf-8")
    report = audit_json(capsys, "--baseline", "base.json")
    assert found(report) == set()
    workflow.write_text(AWS_STEP + "      - uses: other/action@v1\n", encoding="utf-8")
    report = audit_json(capsys, "--baseline", "base.json")
    assert found(report) == {(14, "unpinned-action")}


def test_fingerprint_ignores_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    first = {f["rule_id"]: f["fingerprint"] for f in audit_json(capsys, target)["findings"]}
    target.write_text("\n\n\n" + AWS_STEP, encoding="utf-8")
    second = {f["rule_id"]: f["fingerprint"] for f in audit_json(capsys, target)["findings"]}
    assert first == second


@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_every_format_renders_or_names_alternative(
    format_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    module = importlib.import_module(FORMATS[format_name])
    accepts_audit = "audit" in getattr(module, "KINDS", ("audit",))
    code = main(["audit", "--format", format_name, str(target)])
    captured = capsys.readouterr()
    if accepts_audit:
        assert code == 1
        assert "static-cloud-credentials" in captured.out
    else:
        assert code == 2
        assert "not audit findings" in captured.err


def test_sarif_and_code_quality_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    sarif_path = tmp_path / "audit.sarif"
    quality_path = tmp_path / "quality.json"
    code = main(
        [
            "audit",
            str(target),
            "--sarif-output",
            str(sarif_path),
            "--codequality-output",
            str(quality_path),
        ]
    )
    capsys.readouterr()
    assert code == 1
    sarif = json.loads(sarif_path.read_text())
    rule_ids = {r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert {"static-cloud-credentials", "unpinned-action"} <= rule_ids
    quality = json.loads(quality_path.read_text())
    assert {item["check_name"] for item in quality} == {
        "static-cloud-credentials",
        "unpinned-action",
    }


def test_text_report_keeps_tip_indented(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    main(["audit", str(target)])
    out = capsys.readouterr().out
    assert "    fix: Give job `deploy` an ID token" in out
    assert "\n           permissions:\n" in out


def test_json_report_kind_and_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    report = audit_json(capsys, target)
    assert report["kind"] == "audit"
    finding = report["findings"][0]
    for key in ("rule_id", "title", "severity", "confidence", "line", "column", "fingerprint"):
        assert key in finding


def test_no_secret_values_in_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fakes import github_token

    token = github_token()
    target = write(tmp_path, ".gitlab-ci.yml", f"variables:\n  API: {token}\n")
    code = main(["audit", "--format", "json", str(target)])
    out = capsys.readouterr().out
    assert code == 1
    assert token not in out
    assert json.loads(out)["findings"][0]["rule_id"] == "hardcoded-secret"


def test_discovery_honours_gitignore(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.path)
    write(repo.path, ".gitignore", "vendor/\n")
    write(repo.path, "vendor/tool/action.yml", "runs:\n  using: composite\n  steps: []\n")
    write(repo.path, "tools/lint/action.yml", "runs:\n  using: composite\n  steps: []\n")
    repo.commit()
    write(repo.path, "untracked/action.yml", "runs:\n  using: composite\n  steps: []\n")
    report = audit_json(capsys)
    assert report["scanned"] == 2


def test_discovery_outside_git_walks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "a/action.yml", "runs:\n  using: composite\n  steps: []\n")
    write(tmp_path, ".venv/lib/action.yml", "runs:\n  using: composite\n  steps: []\n")
    report = audit_json(capsys)
    assert report["scanned"] == 1


def test_env_key_tip_uses_env_region(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "on: push\npermissions: {}\njobs:\n  sync:\n    runs-on: x\n    env:\n"
        "      AWS_DEFAULT_REGION: ap-southeast-2\n"
        "      AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n"
        "    steps:\n      - run: aws s3 sync . s3://bucket\n"
    )
    target = write(tmp_path, ".github/workflows/a.yml", text)
    report = audit_json(capsys, target)
    (finding,) = [f for f in report["findings"] if f["rule_id"] == "static-cloud-credentials"]
    assert finding["line"] == 8
    assert "Give job `sync` an ID token" in finding["remediation"]
    assert "aws-region: ap-southeast-2" in finding["remediation"]


GUARDED_HEAD_CHECKOUT = """\
on: pull_request_target
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - run: npm ci && npm test
        env:
          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
"""


def test_floating_checkout_of_head_is_high(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "pr.yml"
    target.parent.mkdir(parents=True)
    target.write_text(GUARDED_HEAD_CHECKOUT, encoding="utf-8")
    report = audit_json(capsys, target)
    findings = [f for f in report["findings"] if f["rule_id"] == "untrusted-code-with-secrets"]
    assert [(f["line"], f["severity"]) for f in findings] == [(8, "high")]
    message = findings[0]["message"]
    assert "checks out the pull request head" in message
    assert "step 2 (line 9) runs it" in message
    assert "cannot verify" in message
    assert "no job is seen" not in message


def test_floating_checkout_without_runner_is_low(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "pr.yml"
    target.parent.mkdir(parents=True)
    text = GUARDED_HEAD_CHECKOUT.split("      - run:", maxsplit=1)[0]
    target.write_text(text + "      - uses: actions/labeler@v5\n", encoding="utf-8")
    report = audit_json(capsys, target)
    findings = [f for f in report["findings"] if f["rule_id"] == "untrusted-code-with-secrets"]
    assert [(f["line"], f["severity"]) for f in findings] == [(8, "low")]


WORKFLOW_RUN_COMMENT = """\
on:
  workflow_run:
    workflows: [ci]
    types: [completed]
permissions:
  contents: read
jobs:
  comment:
    runs-on: ubuntu-latest
    permissions:
      pull-requests: write
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: pr
          run-id: ${{ github.event.workflow_run.id }}
          github-token: ${{ secrets.GITHUB_TOKEN }}
      - run: unzip pr.zip && cat ./NR
      - uses: actions/github-script@v7
        with:
          script: |
            const fs = require('fs');
            const issue = Number(fs.readFileSync('./NR'));
            const repo = context.repo;
            await github.rest.issues.createComment({...repo, issue_number: issue, body: 'ok'});
"""


def test_workflow_run_artifact_comment_is_low(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "comment.yml"
    target.parent.mkdir(parents=True)
    target.write_text(WORKFLOW_RUN_COMMENT, encoding="utf-8")
    report = audit_json(capsys, target)
    findings = [f for f in report["findings"] if f["rule_id"] == "untrusted-code-with-secrets"]
    assert [(f["line"], f["severity"]) for f in findings] == [(16, "low")]
    message = findings[0]["message"]
    assert "pull request code; no later step is seen to run it, with" in message


def test_template_injection_fix_names_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "comment.yml"
    target.parent.mkdir(parents=True)
    target.write_text(
        "on: issue_comment\npermissions: {}\njobs:\n  reply:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/github-script@v7\n        with:\n"
        "          script: console.log(`${{ github.event.comment.body }}`)\n",
        encoding="utf-8",
    )
    report = audit_json(capsys, target)
    [finding] = [f for f in report["findings"] if f["rule_id"] == "template-injection"]
    assert "COMMENT_BODY: ${{ github.event.comment.body }}" in finding["remediation"]
    assert "process.env.COMMENT_BODY" in finding["remediation"]
    assert "pull_request.title" not in finding["remediation"]


@pytest.mark.parametrize("command", ["audit", "scan"])
def test_config_unknown_rule_warns(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, ".github/workflows/a.yml", AWS_STEP)
    write(
        tmp_path,
        ".keyless.toml",
        'disable = ["unpinned-actoin", "secrets-inherit", "aws-access-key-id"]\n\n'
        '[[ignore]]\nrule = "hardcoded-secrets"\npath = "*"\n\n'
        '[[ignore]]\nrule = "*"\npath = "vendor/*"\n',
    )
    assert main([command, "--fail-on", "never", "."]) == 0
    err = capsys.readouterr().err
    assert "disable names unknown rule 'unpinned-actoin'" in err
    assert "[[ignore]] names unknown rule 'hardcoded-secrets'" in err
    assert "'secrets-inherit'" not in err
    assert "'aws-access-key-id'" not in err
    assert "'*'" not in err
