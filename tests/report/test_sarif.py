"""The SARIF report: schema, the fields GitHub code scanning reads, limits."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyless.cli import main
from keyless.findings import Severity
from keyless.logs import logger
from keyless.report import sarif
from tests.report.conftest import PlantedRepo
from tests.report.support import (
    audit_finding,
    audit_report,
    audit_rule,
    history_finding,
    load_schema,
    secret_finding,
)

SCHEMA = load_schema("sarif-schema-2.1.0.json")


def scan_sarif(tmp_path: Path, name: str = "k.sarif") -> dict[str, Any]:
    target = tmp_path / name
    assert main(["scan", "--format", "text", "--sarif-output", str(target)]) == 1
    data: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
    return data


def test_scan_sarif_matches_schema(planted: PlantedRepo, tmp_path: Path) -> None:
    log = scan_sarif(tmp_path)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_scan_sarif_rules_once_each(planted: PlantedRepo, tmp_path: Path) -> None:
    run = scan_sarif(tmp_path)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))
    for rule in rules:
        assert rule["name"].isalnum()
        assert rule["name"].lower() != rule["id"].lower()
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["markdown"].startswith("**")
        assert "security" in rule["properties"]["tags"]
        assert 0.0 <= float(rule["properties"]["security-severity"]) <= 10.0
    used = {result["ruleId"] for result in run["results"]}
    assert used <= set(ids)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_scan_sarif_results(planted: PlantedRepo, tmp_path: Path) -> None:
    run = scan_sarif(tmp_path)["runs"][0]
    by_place = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["ruleId"],
        ): r
        for r in run["results"]
    }
    token = by_place[("app.py", "github-token")]
    assert token["level"] == "error"
    region = token["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 3, "startColumn": 10, "endLine": 3, "endColumn": 50}
    assert token["message"]["text"] == "GitHub token found (ghp_****)"
    assert by_place[("config/aws.ini", "aws-secret-access-key")]["level"] == "error"
    uris = {uri for uri, _ in by_place}
    assert "app.py" in uris
    assert "config/aws.ini" in uris
    # The file name contains "%" and ":", which a URI must percent-encode.
    assert "ci/a%250A%3A%3Aerror%3A%3Ab.yml" in uris
    assert all(not uri.startswith("/") for uri in uris)
    assert run["automationDetails"]["id"].startswith("keyless/secrets/")
    for result in run["results"]:
        assert result["properties"]["commit"] == planted.head
        assert result["partialFingerprints"][sarif.FINGERPRINT_KEY]


def test_scan_sarif_results_worst_first(planted: PlantedRepo, tmp_path: Path) -> None:
    results = scan_sarif(tmp_path)["runs"][0]["results"]
    ranks = [Severity(r["properties"]["severity"]).rank for r in results]
    assert ranks == sorted(ranks, reverse=True)


def test_fingerprints_survive_line_moves(planted: PlantedRepo, tmp_path: Path) -> None:
    before = scan_sarif(tmp_path, "before.sarif")["runs"][0]["results"]
    app = planted.repo.path / "app.py"
    app.write_text("# a new header\n\n\n" + app.read_text(encoding="utf-8"), encoding="utf-8")
    ini = planted.repo.path / "config" / "aws.ini"
    ini.write_text("; moved down\n" + ini.read_text(encoding="utf-8"), encoding="utf-8")
    after = scan_sarif(tmp_path, "after.sarif")["runs"][0]["results"]

    def by_fingerprint(results: list[dict[str, Any]]) -> dict[str, int]:
        return {
            r["partialFingerprints"][sarif.FINGERPRINT_KEY]: r["locations"][0]["physicalLocation"][
                "region"
            ]["startLine"]
            for r in results
        }

    lines_before, lines_after = by_fingerprint(before), by_fingerprint(after)
    assert set(lines_before) == set(lines_after)
    moved = [fp for fp in lines_before if lines_before[fp] != lines_after[fp]]
    assert len(moved) >= 3


def test_audit_sarif_has_own_category() -> None:
    rules = [
        audit_rule("unpinned-action", Severity.MEDIUM),
        audit_rule("long-lived-key", Severity.HIGH),
    ]
    report = audit_report([audit_finding(rules[0]), audit_finding(rules[1], line=9)], rules)
    log = sarif.build(report)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    run = log["runs"][0]
    assert run["automationDetails"]["id"] == "keyless/audit/2026-12-04T10:00:00Z"
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"unpinned-action": "warning", "long-lived-key": "error"}
    tags = run["tool"]["driver"]["rules"][0]["properties"]["tags"]
    assert "security" in tags
    assert "secret" not in tags


def test_history_finding_carries_commits() -> None:
    finding = history_finding("ghp_" + "Q" * 36)
    report = audit_report([], [])
    report.kind = "secrets"
    report.findings = [finding]
    log = sarif.build(report)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    properties = log["runs"][0]["results"][0]["properties"]
    assert properties["commit"] == "1" * 40
    assert properties["firstSeen"]["sha"] == "1" * 40
    assert properties["lastSeen"]["sha"] == "2" * 40
    assert properties["presentAtTip"] is False
    assert "first seen in commit 111111111111" in log["runs"][0]["results"][0]["message"]["text"]


def test_results_capped_most_severe_first(caplog: pytest.LogCaptureFixture) -> None:
    findings = [
        secret_finding(f"value-{i:05d}-abcdef", f"f{i}.txt", 1, Severity.LOW, "low-rule")
        for i in range(sarif.MAX_RESULTS)
    ]
    findings += [
        secret_finding(f"crit-{i}-abcdefgh", "z.txt", i + 1, Severity.CRITICAL, "crit-rule")
        for i in range(3)
    ]
    report = audit_report(findings, [])
    report.kind = "secrets"
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="keyless"):
            log = sarif.build(report)
    finally:
        logger.removeHandler(caplog.handler)
    run = log["runs"][0]
    assert len(run["results"]) == sarif.MAX_RESULTS
    assert [r["ruleId"] for r in run["results"][:3]] == ["crit-rule"] * 3
    assert run["properties"]["omittedResults"] == 3
    messages = [record.getMessage() for record in caplog.records]
    assert any("left out 3 (3 low)" in message for message in messages), messages
    notification = run["invocations"][0]["toolExecutionNotifications"][0]
    assert "left out 3" in notification["message"]["text"]


def test_notes_become_notifications() -> None:
    report = audit_report([], [])
    report.notes = ["history scan stopped at 1000 commits"]
    log = sarif.build(report)
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    notifications = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notifications == [
        {"level": "note", "message": {"text": "history scan stopped at 1000 commits"}}
    ]
