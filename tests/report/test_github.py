"""GitHub annotations: escaping, limits, ordering, and the job summary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keyless.cli import main
from keyless.findings import Finding, Severity
from keyless.report import github
from keyless.report.model import Report
from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.report.conftest import HOSTILE_NAME, PlantedRepo
from tests.report.support import (
    audit_finding,
    audit_report,
    audit_rule,
    secret_finding,
)
from tests.report.workflow_commands import read_log


def secrets_report(findings: list[Finding]) -> Report:
    report = audit_report(findings, [])
    report.kind = "secrets"
    return report


def test_scan_annotations_hostile_name(
    planted: PlantedRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--format", "github"]) == 1
    out = capsys.readouterr().out
    commands = read_log(out)
    assert [c.name for c in commands] == ["error"] * 4
    files = sorted(c.properties["file"] for c in commands)
    assert files == sorted(["app.py", "config/aws.ini", "config/aws.ini", f"ci/{HOSTILE_NAME}"])
    hostile = next(c for c in commands if c.properties["file"] == f"ci/{HOSTILE_NAME}")
    assert hostile.properties["line"] == "2"
    assert hostile.properties["title"] == "GitHub token (github-token)"
    assert hostile.data.startswith("GitHub token found (ghs_****)")
    # The first finding is the critical one.
    assert commands[0].properties["title"].endswith("(aws-secret-access-key)")
    assert out.splitlines()[-1] == "keyless: 4 secrets, all annotated."


HOSTILE_TEXTS = [
    "x\n::error file=evil.py::injected",
    "x\r\n::warning::injected",
    "x%0A::error::injected",
    "x ##[error]injected",
    "x ##[add-mask]value",
    "a,b:c=d%25e",
    "::stop-commands::abc",
]


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS)
def test_hostile_text_stays_in_one_annotation(hostile: str) -> None:
    rule = audit_rule("rule", Severity.HIGH)
    finding = audit_finding(rule, path=f"dir/{hostile}.yml")
    finding.message = f"message {hostile}"
    finding.title = f"title {hostile}"
    finding.remediation = f"fix {hostile}"
    output = github.render(audit_report([finding], [rule]))
    commands = read_log(output)
    assert len(commands) == 1
    command = commands[0]
    assert command.name == "error"
    assert command.properties["file"] == f"dir/{hostile}.yml"
    assert command.properties["title"] == f"title {hostile} (rule)"
    assert command.data == f"message {hostile}. Fix: fix {hostile}"
    assert set(command.properties) == {"file", "line", "col", "endColumn", "title"}


@pytest.mark.parametrize("hostile", HOSTILE_TEXTS)
def test_hostile_text_in_overflow_list(hostile: str) -> None:
    rule = audit_rule("rule", Severity.HIGH)
    findings = [audit_finding(rule, path=f"f{i}.yml", node=str(i)) for i in range(10)]
    extra = audit_finding(rule, path=f"z/{hostile}.yml", node="extra")
    extra.message = f"message {hostile}"
    output = github.render(audit_report([*findings, extra], [rule]))
    commands = read_log(output)
    names = [c.name for c in commands]
    assert names.count("error") == 10
    assert names[10] == "stop-commands"
    assert len(commands) == 12
    assert commands[11].name == commands[10].data
    # The hostile finding is still in the log, on one line.
    listed = [line for line in output.splitlines() if "z/" in line]
    assert len(listed) == 1
    assert listed[0].startswith("  z/")


def test_annotation_limits_per_kind() -> None:
    findings = [
        secret_finding(f"high-secret-{i:03d}", f"h{i:02d}.txt", 1, Severity.HIGH, "high-rule")
        for i in range(14)
    ]
    findings += [
        secret_finding(f"med-secret-{i:03d}", f"m{i:02d}.txt", 1, Severity.MEDIUM, "med-rule")
        for i in range(3)
    ]
    findings += [
        secret_finding(f"low-secret-{i:03d}", f"l{i:02d}.txt", 1, Severity.LOW, "low-rule")
        for i in range(12)
    ]
    findings.append(secret_finding("crit-secret-001", "zz.txt", 1, Severity.CRITICAL, "crit-rule"))
    output = github.render(secrets_report(findings))
    commands = read_log(output)
    annotations = [c for c in commands if c.name in ("error", "warning", "notice")]
    assert [c.name for c in annotations] == ["error"] * 10 + ["warning"] * 3 + ["notice"] * 10
    # Most severe first: the critical finding takes the first error slot.
    assert annotations[0].properties["file"] == "zz.txt"
    assert "7 more are listed below" in output
    assert "annotated the 23 most severe" in output
    listed = output.split("::stop-commands::", 1)[1].splitlines()[1:-1]
    assert len(listed) == 7
    assert sum("high-rule" in line for line in listed) == 5
    assert sum("low-rule" in line for line in listed) == 2


def test_multi_line_finding_uses_end_line() -> None:
    rule = audit_rule("rule", Severity.MEDIUM)
    finding = audit_finding(rule, line=3)
    finding.location = type(finding.location)(path="k.pem", line=3, column=1, end_line=9)
    command = read_log(github.render(audit_report([finding], [rule])))[0]
    assert command.name == "warning"
    assert command.properties["endLine"] == "9"
    assert "endColumn" not in command.properties


def test_step_summary_appended(
    planted: PlantedRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["scan", "--format", "github"]) == 1
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n### keyless secrets: 4 secrets\n")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Severity | Rule | Location | Finding |"
    assert len(rows) == 2 + 4
    assert rows[2].startswith("| critical | aws-secret-access-key | config/aws.ini:3 |")
    assert "| high | github-token | ci/a%0A::error::b.yml:2 |" in text


def test_step_summary_escapes_markdown() -> None:
    rule = audit_rule("rule", Severity.HIGH)
    finding = audit_finding(rule, path="a|b<img src=x>[l](http://e).yml")
    finding.message = "line one\nline | two"
    text = github.step_summary(audit_report([finding], [rule]))
    row = text.strip().splitlines()[-1]
    assert row.count(" | ") == 3
    # Every "<", "[" and "(" from the repository is backslash-escaped, so none starts markup.
    assert re.search(r"(?<!\\)[<\[(]", row) is None
    assert "\\<img src=x\\>\\[l\\]\\(http://e\\).yml" in row
    assert "line one line \\| two" in row


def test_step_summary_not_written_without_variable(planted: PlantedRepo, tmp_path: Path) -> None:
    assert main(["scan", "--format", "github"]) == 1
    assert not list(tmp_path.glob("*.md"))


def test_step_summary_only_for_github_format(
    planted: PlantedRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["scan", "--format", "text"]) == 1
    assert not summary.exists()


def test_no_findings_message(capsys: pytest.CaptureFixture[str]) -> None:
    output = github.render(audit_report([], []))
    assert output == "keyless: 0 findings, all annotated.\n"
    assert read_log(output) == []


def test_scan_newline_in_file_name(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "x\n::set-output name=pwned::1\n##[add-mask]y.py"
    repo.write(name, f'TOKEN = "{github_token()}"\n')
    repo.commit("newline in a file name")
    monkeypatch.chdir(repo.path)
    assert main(["scan", "--format", "github"]) == 1
    commands = read_log(capsys.readouterr().out)
    assert len(commands) == 1
    assert commands[0].name == "error"
    assert commands[0].properties["file"] == name


def test_overflow_beyond_sarif_limit_names_json() -> None:
    from keyless.report.sarif import MAX_RESULTS

    findings = [
        secret_finding(f"secret-{i:05d}", f"f{i:05d}.txt", 1, Severity.HIGH, "high-rule")
        for i in range(MAX_RESULTS + 1)
    ]
    output = github.render(secrets_report(findings))
    assert "the JSON report has them all (SARIF keeps the 5,000 most severe" in output
    assert "the SARIF or JSON report has them all" not in output
    summary = github.step_summary(secrets_report(findings))
    assert "the JSON report has them all" in summary
