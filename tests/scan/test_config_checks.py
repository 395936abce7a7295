"""Configuration mistakes that are rejected or warned about before a scan starts."""

from __future__ import annotations

import pytest

from keyless.regex_check import nested_repeat
from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, run, scan_json


@pytest.fixture
def project(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo.write("notes.txt", "ticket INTERNAL-SECRET-123456\n")
    monkeypatch.chdir(repo.path)
    return repo


def detector(regex: str, *extra: str, rule_id: str = "internal") -> str:
    return "\n".join(["[[detectors]]", f'id = "{rule_id}"', f"regex = '''{regex}'''", *extra])


@pytest.mark.parametrize(
    "regex", ["(a+)+$", r"(\w+\s?)*$", "(a{1,3})+b", "(?:x|(?:ab?)+)*c", "(a|b+)+"]
)
def test_exponential_regex_rejected(
    project: GitRepo, capsys: pytest.CaptureFixture[str], regex: str
) -> None:
    project.write(".keyless.toml", detector(regex) + "\n")
    result = run(capsys, "scan")
    assert result.code == 2
    assert "can take exponential time" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "regex",
    [
        r"\b(acme_[A-Za-z0-9]{32})\b",
        r"(?:[a-z]+\.)+com",
        "(ab)+",
        r"(?:\d{2})+",
        "(a+)?b",
        r"key=(?:x[a-z]+)+",
    ],
)
def test_linear_regex_accepted(regex: str) -> None:
    assert nested_repeat(regex) is None


def test_exponential_regex_does_not_hang(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    # The rejected regex never runs, so a line that would take hours takes no time.
    project.write("a.txt", "a" * 40 + "!\n")
    project.write(".keyless.toml", detector("(a+)+$") + "\n")
    assert run(capsys, "scan").code == 2


def test_builtin_rule_id_rejected(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(".keyless.toml", detector("ghp_[a-z]+", rule_id="github-token") + "\n")
    result = run(capsys, "scan")
    assert result.code == 2
    assert "'github-token' is the id of a built-in rule" in result.err


def test_empty_regex_rejected(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(".keyless.toml", '[[detectors]]\nid = "x"\nregex = ""\n')
    result = run(capsys, "scan")
    assert result.code == 2
    assert "empty regex" in result.err


def test_named_secret_group(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(
        ".keyless.toml",
        detector(r"(ticket) (?P<value>INTERNAL-SECRET-[0-9]+)", 'secret-group = "value"') + "\n",
    )
    _, document = scan_json(capsys)
    assert ("internal", "notes.txt", 1, 8) in located(document)


def test_unknown_secret_group_name(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(
        ".keyless.toml", detector("(?P<value>INTERNAL-[0-9]+)", 'secret-group = "val"') + "\n"
    )
    result = run(capsys, "scan")
    assert result.code == 2
    assert "secret-group 'val' is not a group" in result.err


def test_unknown_ignore_key_warns(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write("a.py", f"print('{fakes.github_token()}')\n")
    project.write(".keyless.toml", '[[ignore]]\nrule = "github-token"\npath = "a.py"\nlines = 1\n')
    result = run(capsys, "scan")
    assert "ignore: unknown keys lines ignored" in result.err
