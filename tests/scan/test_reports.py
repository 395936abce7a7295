"""The text and JSON reports: layout, summary, schema, history fields."""

from __future__ import annotations

import json

import pytest

from keyless.findings import Commit, Confidence, Finding, History, Location, Severity
from keyless.report import render
from keyless.report.model import Report
from keyless.secret import Secret
from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import run, validate


def sample_finding(**overrides: object) -> Finding:
    values: dict[str, object] = {
        "rule_id": "github-token",
        "title": "GitHub token",
        "severity": Severity.HIGH,
        "confidence": Confidence.HIGH,
        "location": Location("src/app.py", 12, 9, end_line=12, end_column=49),
        "remediation": "Revoke it.",
        "secret": Secret(fakes.github_token()),
        "message": "GitHub token found",
    }
    values.update(overrides)
    return Finding(**values)  # type: ignore[arg-type]


def test_text_layout(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("src/app.py", f"x = 1\ncfg = {{'t': '{fakes.github_token()}'}}\n")
    repo.write("keys/id_rsa", fakes.pem_private_key())
    repo.write("logo.png", b"\x89PNG\x00")
    (repo.path / "dangling").symlink_to("gone")
    monkeypatch.chdir(repo.path)
    result = run(capsys, "scan")
    lines = result.out.splitlines()
    assert lines[0].startswith("keys/id_rsa:1:1: critical [private-key] Private key found: ")
    assert lines[0].endswith("**** (confidence high)")
    assert lines[1].startswith("    fix: Revoke the key")
    assert lines[2] == (
        "src/app.py:2:14: high [github-token] GitHub token found: ghp_**** (confidence high)"
    )
    assert lines[3].startswith("    fix: Revoke or rotate it")
    assert lines[4] == ""
    assert lines[5] == "2 secrets (1 critical, 1 high) in 2 files scanned."
    assert lines[6] == "Skipped 2 files: 1 binary file, 1 broken symbolic link."
    assert len(lines) == 7


def test_text_clean_summary(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("a.txt", "nothing\n")
    monkeypatch.chdir(repo.path)
    result = run(capsys, "scan")
    assert result.code == 0
    assert result.out == "0 secrets in 1 file scanned.\n"


def test_text_history_finding() -> None:
    commit = Commit("a" * 40, "2026-01-02T03:04:05+00:00")
    history = History(commit, commit, ["src/app.py"], True, 3.5)
    report = Report(kind="secrets", findings=[sample_finding(commit=commit, history=history)])
    text = render("text", report)
    assert (
        "\n    in commit aaaaaaaaaaaa (2026-01-02T03:04:05+00:00), still present at the tip\n"
        in text
    )


def test_json_history_fields_match_schema() -> None:
    first = Commit("b" * 40, "2025-01-01T00:00:00+00:00")
    last = Commit("c" * 40, "2026-01-01T00:00:00+00:00")
    history = History(first, last, ["a.py", "b.py"], False, 365.0)
    report = Report(
        kind="secrets",
        findings=[sample_finding(commit=last, history=history)],
        scanned=3,
        skipped={"binary": 1},
        commit="d" * 40,
        notes=["history scanned up to the tip"],
    )
    document = json.loads(render("json", report))
    validate(document)
    finding = document["findings"][0]
    assert finding["first_seen"] == {"sha": "b" * 40, "date": "2025-01-01T00:00:00+00:00"}
    assert finding["last_seen"]["sha"] == "c" * 40
    assert finding["paths"] == ["a.py", "b.py"]
    assert finding["present_at_tip"] is False
    assert finding["exposure_days"] == 365.0
    assert finding["commit"]["sha"] == "c" * 40


def test_json_audit_finding_without_secret() -> None:
    finding = sample_finding(
        rule_id="unpinned-action",
        secret=None,
        key="uses:actions/checkout@main",
        severity=Severity.MEDIUM,
        confidence=Confidence.MEDIUM,
    )
    document = json.loads(render("json", Report(kind="audit", findings=[finding])))
    validate(document)
    assert document["findings"][0]["preview"] == ""


def test_schema_rejects_leaky_or_broken_reports() -> None:
    good = json.loads(render("json", Report(kind="secrets", findings=[sample_finding()])))
    validate(good)
    for mutate in (
        lambda d: d.update(version=2),
        lambda d: d["findings"][0].update(severity="severe"),
        lambda d: d["findings"][0].update(line=0),
        lambda d: d["findings"][0].update(secret="value"),
        lambda d: d["findings"][0].pop("fingerprint"),
    ):
        broken = json.loads(json.dumps(good))
        mutate(broken)
        with pytest.raises(AssertionError):
            validate(broken)


def test_fingerprint_ignores_line() -> None:
    secret = fakes.github_token()
    moved = [
        sample_finding(secret=Secret(secret), location=Location("a.py", line, 1))
        for line in (1, 40)
    ]
    assert moved[0].fingerprint == moved[1].fingerprint
    elsewhere = sample_finding(secret=Secret(secret), location=Location("b.py", 1, 1))
    assert elsewhere.fingerprint != moved[0].fingerprint
