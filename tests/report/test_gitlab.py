"""GitLab's secret-detection and Code Quality reports."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyless.cli import main
from keyless.errors import UsageError
from keyless.findings import Severity
from keyless.logs import logger
from keyless.report import codequality, gitlab
from tests.report.conftest import HOSTILE_NAME, PlantedRepo
from tests.report.support import (
    audit_finding,
    audit_report,
    audit_rule,
    history_finding,
    load_schema,
    secret_finding,
)

SCHEMA = load_schema(f"secret-detection-report-format-{gitlab.SCHEMA_VERSION}.json")


def scan_gitlab(tmp_path: Path, name: str = "gl.json") -> dict[str, Any]:
    target = tmp_path / name
    assert main(["scan", "--format", "text", "--gitlab-output", str(target)]) == 1
    data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return data


def test_scan_gitlab_matches_schema(planted: PlantedRepo, tmp_path: Path) -> None:
    report = scan_gitlab(tmp_path)
    jsonschema.Draft7Validator(SCHEMA).validate(report)
    assert report["version"] == SCHEMA["self"]["version"]
    scan = report["scan"]
    assert scan["type"] == "secret_detection"
    assert scan["status"] == "success"
    assert scan["analyzer"]["id"] == "keyless"
    assert scan["start_time"] <= scan["end_time"]


def test_scan_gitlab_vulnerabilities(planted: PlantedRepo, tmp_path: Path) -> None:
    vulnerabilities = scan_gitlab(tmp_path)["vulnerabilities"]
    files = {v["location"]["file"] for v in vulnerabilities}
    assert files == {"app.py", "config/aws.ini", f"ci/{HOSTILE_NAME}"}
    for vulnerability in vulnerabilities:
        assert vulnerability["location"]["commit"]["sha"] == planted.head
        primary = vulnerability["identifiers"][0]
        assert primary["type"] == "keyless_rule_id"
        assert primary["value"] in {"github-token", "aws-access-key-id", "aws-secret-access-key"}
    severities = [v["severity"] for v in vulnerabilities]
    assert severities[0] == "Critical"
    assert set(severities[1:]) == {"High"}
    app = next(v for v in vulnerabilities if v["location"]["file"] == "app.py")
    assert app["location"]["start_line"] == 3
    assert app["location"]["end_line"] == 3


def test_gitlab_ids_survive_line_moves(planted: PlantedRepo, tmp_path: Path) -> None:
    before = scan_gitlab(tmp_path, "before.json")["vulnerabilities"]
    app = planted.repo.path / "app.py"
    app.write_text("\n\n# moved\n" + app.read_text(encoding="utf-8"), encoding="utf-8")
    after = scan_gitlab(tmp_path, "after.json")["vulnerabilities"]
    assert {v["id"] for v in before} == {v["id"] for v in after}
    line_before = next(v for v in before if v["location"]["file"] == "app.py")
    line_after = next(v for v in after if v["location"]["file"] == "app.py")
    assert line_before["id"] == line_after["id"]
    assert line_after["location"]["start_line"] == line_before["location"]["start_line"] + 3


def test_gitlab_history_finding_uses_its_commit() -> None:
    report = audit_report([history_finding("ghp_" + "H" * 36)], [])
    report.kind = "secrets"
    document = gitlab.build(report)
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    vulnerability = document["vulnerabilities"][0]
    assert vulnerability["location"]["commit"]["sha"] == "1" * 40
    assert vulnerability["details"]["last_seen"]["value"] == "2" * 40
    assert vulnerability["details"]["present_at_tip"]["value"] is False


def test_gitlab_repeated_secret_gets_distinct_ids() -> None:
    value = "repeated-secret-value"
    findings = [secret_finding(value, "a.txt", 1), secret_finding(value, "a.txt", 9)]
    report = audit_report(findings, [])
    report.kind = "secrets"
    document = gitlab.build(report)
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    ids = [v["id"] for v in document["vulnerabilities"]]
    assert len(set(ids)) == 2


def test_gitlab_without_commit_uses_ci_sha(monkeypatch: pytest.MonkeyPatch) -> None:
    report = audit_report([secret_finding("no-commit-secret", "a.txt", 1)], [])
    report.kind = "secrets"
    report.commit = None
    monkeypatch.setenv("CI_COMMIT_SHA", "c" * 40)
    document = gitlab.build(report)
    assert document["vulnerabilities"][0]["location"]["commit"]["sha"] == "c" * 40


def test_gitlab_without_any_commit_warns(caplog: pytest.LogCaptureFixture) -> None:
    report = audit_report([secret_finding("no-commit-secret", "a.txt", 1)], [])
    report.kind = "secrets"
    report.commit = None
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="keyless"):
            document = gitlab.build(report)
    finally:
        logger.removeHandler(caplog.handler)
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    assert document["vulnerabilities"][0]["location"]["commit"]["sha"] == "0000000"
    assert any("no git commit is known" in r.getMessage() for r in caplog.records)


def test_gitlab_rejects_audit_report() -> None:
    rule = audit_rule("unpinned-action", Severity.MEDIUM)
    with pytest.raises(UsageError) as raised:
        gitlab.render(audit_report([audit_finding(rule)], [rule]))
    assert "codequality" in raised.value.diagnostics()


def test_codequality_audit_findings() -> None:
    rules = [
        audit_rule("long-lived-key", Severity.CRITICAL),
        audit_rule("unpinned-action", Severity.MEDIUM),
        audit_rule("broad-permissions", Severity.LOW),
    ]
    findings = [
        audit_finding(rules[1], line=4, node="jobs.build.steps[0]"),
        audit_finding(rules[0], path=".gitlab-ci.yml", line=12, node="variables.AWS_KEY"),
        audit_finding(rules[2], line=1, node="permissions"),
        audit_finding(rules[1], line=8, node="jobs.build.steps[3]"),
    ]
    issues = json.loads(codequality.render(audit_report(findings, rules)))
    assert [issue["severity"] for issue in issues] == ["blocker", "major", "major", "minor"]
    for issue in issues:
        assert issue["description"]
        assert issue["check_name"] in {rule.id for rule in rules}
        assert isinstance(issue["location"]["path"], str)
        assert issue["location"]["lines"]["begin"] >= 1
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(set(fingerprints)) == len(fingerprints)
    first = issues[0]
    assert first["location"] == {"path": ".gitlab-ci.yml", "lines": {"begin": 12, "end": 12}}
    assert first["check_name"] == "long-lived-key"


def test_codequality_fingerprints_survive_line_moves() -> None:
    rule = audit_rule("unpinned-action", Severity.MEDIUM)
    before = json.loads(codequality.render(audit_report([audit_finding(rule, line=4)], [rule])))
    after = json.loads(codequality.render(audit_report([audit_finding(rule, line=40)], [rule])))
    assert before[0]["fingerprint"] == after[0]["fingerprint"]
    assert after[0]["location"]["lines"]["begin"] == 40


def test_gitlab_notes_and_skipped_as_messages() -> None:
    report = audit_report([secret_finding("noted-secret-value", "a.txt", 1)], [])
    report.kind = "secrets"
    report.notes = ["history scan stopped at 1000 commits"]
    report.skipped = {"too large": 2, "binary": 1}
    document = gitlab.build(report)
    jsonschema.Draft7Validator(SCHEMA).validate(document)
    assert document["scan"]["messages"] == [
        {"level": "info", "value": "history scan stopped at 1000 commits"},
        {"level": "info", "value": "skipped files: 2 too large, 1 binary"},
    ]
