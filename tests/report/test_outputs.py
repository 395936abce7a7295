"""Several reports from one run: --FORMAT-output options and their checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jsonschema
import pytest

from keyless.cli import main
from keyless.commands.reporting import finish
from keyless.errors import UsageError
from keyless.findings import Severity
from keyless.report import gitlab
from tests.conftest import GitRepo
from tests.report.conftest import PlantedRepo
from tests.report.support import audit_finding, audit_report, audit_rule, load_schema


def test_text_and_file_reports_together(
    planted: PlantedRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        "sarif": tmp_path / "keyless.sarif",
        "gitlab": tmp_path / "gl-secret-detection-report.json",
        "codequality": tmp_path / "gl-code-quality-report.json",
        "json": tmp_path / "keyless.json",
        "text": tmp_path / "keyless.txt",
    }
    argv = ["scan", "--format", "text"]
    for name, path in files.items():
        argv += [f"--{name}-output", str(path)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.endswith("4 secrets (1 critical, 3 high) in 3 files scanned.\n")
    assert json.loads(files["sarif"].read_text())["version"] == "2.1.0"
    assert json.loads(files["gitlab"].read_text())["scan"]["type"] == "secret_detection"
    assert len(json.loads(files["codequality"].read_text())) == 4
    assert len(json.loads(files["json"].read_text())["findings"]) == 4
    assert files["text"].read_text() == out


def test_output_option_from_environment(
    planted: PlantedRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "from-env.sarif"
    monkeypatch.setenv("KEYLESS_SARIF_OUTPUT", str(target))
    assert main(["scan", "--quiet"]) == 1
    assert json.loads(target.read_text())["runs"][0]["results"]


def test_same_file_twice_is_usage_error(
    planted: PlantedRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = str(tmp_path / "one.json")
    code = main(["scan", "--output", target, "--sarif-output", target])
    assert code == 2
    err = capsys.readouterr().err
    assert "both the text and the sarif report would be written there" in err
    assert not Path(target).exists()


def test_github_has_no_file_option(planted: PlantedRepo) -> None:
    assert main(["scan", "--github-output", "x.txt"]) == 2


def test_audit_to_gitlab_writes_nothing(tmp_path: Path) -> None:
    rule = audit_rule("unpinned-action", Severity.MEDIUM)
    report = audit_report([audit_finding(rule)], [rule])
    sarif_file = tmp_path / "a.sarif"
    args = argparse.Namespace(
        format="text",
        output=str(tmp_path / "a.txt"),
        fail_on="medium",
        text_output=None,
        json_output=None,
        sarif_output=str(sarif_file),
        gitlab_output=str(tmp_path / "gl.json"),
        codequality_output=None,
    )
    with pytest.raises(UsageError) as raised:
        finish(args, report)
    assert "use the codequality format instead" in raised.value.diagnostics()
    assert list(tmp_path.iterdir()) == []


def test_audit_to_codequality_and_sarif(tmp_path: Path) -> None:
    rule = audit_rule("unpinned-action", Severity.MEDIUM)
    report = audit_report([audit_finding(rule)], [rule])
    args = argparse.Namespace(
        format="json",
        output=str(tmp_path / "a.json"),
        fail_on="medium",
        text_output=None,
        json_output=None,
        sarif_output=str(tmp_path / "a.sarif"),
        gitlab_output=None,
        codequality_output=str(tmp_path / "cq.json"),
    )
    assert finish(args, report) == 1
    assert json.loads((tmp_path / "cq.json").read_text())[0]["check_name"] == "unpinned-action"
    run = json.loads((tmp_path / "a.sarif").read_text())["runs"][0]
    assert run["automationDetails"]["id"].startswith("keyless/audit/")


def test_clean_scan_reports_are_valid(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "nothing secret here\n")
    repo.commit("clean")
    monkeypatch.chdir(repo.path)
    sarif_file, gitlab_file = tmp_path / "k.sarif", tmp_path / "gl.json"
    argv = ["scan", "--format", "github", "--sarif-output", str(sarif_file)]
    assert main([*argv, "--gitlab-output", str(gitlab_file)]) == 0
    log = json.loads(sarif_file.read_text())
    jsonschema.Draft4Validator(load_schema("sarif-schema-2.1.0.json")).validate(log)
    assert log["runs"][0]["results"] == []
    document = json.loads(gitlab_file.read_text())
    schema = load_schema(f"secret-detection-report-format-{gitlab.SCHEMA_VERSION}.json")
    jsonschema.Draft7Validator(schema).validate(document)
    assert document["vulnerabilities"] == []
