"""Report paths: relative to the scan root when possible, absolute outside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from keyless.cli import main
from keyless.report import codequality, gitlab, sarif
from keyless.report.model import Report
from tests.fakes import github_token
from tests.report.support import load_schema, secret_finding


@pytest.fixture
def loose_folder(tmp_path: Path) -> Path:
    """A folder outside any git work tree with one fake secret in it."""
    folder = tmp_path / "klx"
    (folder / "conf").mkdir(parents=True)
    (folder / "conf" / "app.env").write_text(f"TOKEN={github_token()}\n")
    return folder


def scan_reports(out: Path, *paths: str) -> dict[str, Any]:
    files = {name: out / f"report.{name}" for name in ("sarif", "gitlab", "codequality")}
    argv = ["scan", "--quiet", *paths]
    for name, path in files.items():
        argv += [f"--{name}-output", str(path)]
    assert main(argv) == 1
    return {name: json.loads(path.read_text()) for name, path in files.items()}


def artifact(reports: dict[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = reports["sarif"]["runs"][0]["results"][0]["locations"][0]
    return dict(location["physicalLocation"]["artifactLocation"])


def test_scan_outside_root_gives_absolute_uri(
    loose_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    reports = scan_reports(elsewhere, str(loose_folder))
    secret_file = loose_folder / "conf" / "app.env"
    assert artifact(reports) == {"uri": secret_file.as_uri()}
    jsonschema.Draft4Validator(load_schema("sarif-schema-2.1.0.json")).validate(reports["sarif"])
    assert reports["gitlab"]["vulnerabilities"][0]["location"]["file"] == str(secret_file)
    assert reports["codequality"][0]["location"]["path"] == str(secret_file)


def test_relative_path_outside_root_gives_absolute_uri(
    loose_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    reports = scan_reports(elsewhere, "../klx")
    assert artifact(reports) == {"uri": (loose_folder / "conf" / "app.env").as_uri()}


def test_scan_of_working_folder_gives_relative_uri(
    loose_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(loose_folder)
    out = tmp_path / "out"
    out.mkdir()
    reports = scan_reports(out)
    assert artifact(reports) == {"uri": "conf/app.env", "uriBaseId": "%SRCROOT%"}
    assert reports["gitlab"]["vulnerabilities"][0]["location"]["file"] == "conf/app.env"
    assert reports["codequality"][0]["location"]["path"] == "conf/app.env"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/r/repo/conf/app.env", "conf/app.env"),
        ("conf/./app.env", "conf/app.env"),
        ("conf/app%20x.env", "conf/app%20x.env"),
    ],
)
def test_paths_under_root_made_relative(path: str, expected: str) -> None:
    finding = secret_finding(github_token(), path, 3)
    report = Report(kind="secrets", findings=[finding], root="/r/repo", commit="a" * 40)
    location = sarif.build(report)["runs"][0]["results"][0]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": sarif.quote(expected, safe="/"),
        "uriBaseId": "%SRCROOT%",
    }
    assert gitlab.build(report)["vulnerabilities"][0]["location"]["file"] == expected
    assert json.loads(codequality.render(report))[0]["location"]["path"] == expected
