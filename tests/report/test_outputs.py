"""Several reports from one run: --FORMAT-output options and their checks."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from keyless.cli import main
from keyless.commands.options import write_files
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


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty folder for reports, apart from the scanned repository."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.mark.parametrize("spelling", ["dotdot", "symlink", "hardlink"])
def test_same_file_by_another_name_is_usage_error(
    planted: PlantedRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: str
) -> None:
    target = tmp_path / "o1"
    target.write_text("before\n")
    other = tmp_path / "other"
    if spelling == "dotdot":
        other.mkdir()
        alias = str(other / ".." / "o1")
    elif spelling == "symlink":
        other.symlink_to(target)
        alias = str(other)
    else:
        other.hardlink_to(target)
        alias = str(other)
    code = main(["scan", "--json-output", str(target), "--sarif-output", alias])
    captured = capsys.readouterr()
    assert code == 2
    assert f"both the json and the sarif report would be written there ({target}" in captured.err
    assert target.read_text() == "before\n"
    assert captured.out == ""


def test_output_option_aliasing_file_option(
    planted: PlantedRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "o1"
    link = tmp_path / "link"
    link.symlink_to(target)
    assert main(["scan", "-o", str(link), "--sarif-output", str(target)]) == 2
    assert "both the text and the sarif report" in capsys.readouterr().err
    assert not target.exists()


def test_two_reports_on_stdout_is_usage_error(
    planted: PlantedRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--json-output", "-"]) == 2
    captured = capsys.readouterr()
    assert "stdout: both the text and the json report would be written there" in captured.err
    assert captured.out == ""


def test_directory_as_output_writes_nothing(
    planted: PlantedRepo, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main_file = out_dir / "main.txt"
    assert main(["scan", "-o", str(main_file), "--json-output", str(out_dir)]) == 2
    captured = capsys.readouterr()
    assert f"{out_dir}: is a folder, not a file, so the json report cannot be written there" in (
        captured.err
    )
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []


def test_directory_as_output_prints_nothing(
    planted: PlantedRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--json-output", str(tmp_path)]) == 2
    assert capsys.readouterr().out == ""


def test_missing_folder_is_usage_error_and_not_created(
    planted: PlantedRepo, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = out_dir / "no" / "such"
    target = missing / "x.json"
    assert (
        main(["scan", "--sarif-output", str(out_dir / "k.sarif"), "--json-output", str(target)])
        == 2
    )
    captured = capsys.readouterr()
    assert (
        f"{target}: cannot write the json report, because the folder {missing} does not exist"
        in (captured.err)
    )
    assert captured.out == ""
    assert list(out_dir.iterdir()) == []


def test_reports_replace_files_atomically(planted: PlantedRepo, out_dir: Path) -> None:
    existing = out_dir / "keyless.json"
    existing.write_text("old\n")
    existing.chmod(0o640)
    link = out_dir / "latest.sarif"
    sarif_file = out_dir / "k.sarif"
    link.symlink_to(sarif_file)
    argv = ["scan", "-o", str(existing), "--format", "json", "--sarif-output", str(link)]
    assert main(argv) == 1
    assert len(json.loads(existing.read_text())["findings"]) == 4
    assert existing.stat().st_mode & 0o777 == 0o640
    assert link.is_symlink()
    assert json.loads(sarif_file.read_text())["version"] == "2.1.0"
    # No temporary file is left next to the reports.
    assert sorted(p.name for p in out_dir.iterdir()) == ["k.sarif", "keyless.json", "latest.sarif"]


def test_write_error_leaves_earlier_files_untouched(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    first.write_text("old\n")
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("")
    second = not_a_folder / "second.json"
    with pytest.raises(UsageError, match="cannot write output"):
        write_files([(str(first), "new\n"), (str(second), "new\n")])
    assert first.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.json", "plain-file"]


def test_named_pipe_output_written_in_place(planted: PlantedRepo, out_dir: Path) -> None:
    pipe = out_dir / "pipe"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    assert main(["scan", "--quiet", "--json-output", str(pipe)]) == 1
    reader.join(timeout=10)
    assert len(json.loads(received[0])["findings"]) == 4
    assert pipe.is_fifo()


def test_stdout_redirected_to_report_file(planted: PlantedRepo, out_dir: Path) -> None:
    target = out_dir / "same.json"
    with target.open("w") as stdout:
        proc = subprocess.run(
            [sys.executable, "-m", "keyless", "scan", "--json-output", str(target)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert proc.returncode == 2
    assert "both the text and the json report would be written there" in proc.stderr
    assert target.read_text() == ""
