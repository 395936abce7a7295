"""Exclude globs follow .gitignore rules; a glob that matches nothing is reported."""

from __future__ import annotations

import pytest

from keyless.scan.sources import is_excluded
from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import scan_json

CASES = [
    ("fixtures/", "tests/fixtures/a.json", True),
    ("fixtures/", "fixtures/a.json", True),
    ("fixtures/", "tests/fixtures", False),
    ("fixtures", "tests/fixtures", True),
    ("/tests/fixtures", "tests/fixtures/a.json", True),
    ("/tests/fixtures", "src/tests/fixtures/a.json", False),
    ("/fixtures/", "tests/fixtures/a.json", False),
    ("tests/fixtures", "src/tests/fixtures/a.json", False),
    ("**/fixtures", "fixtures/a.json", True),
    ("**/fixtures", "src/tests/fixtures/a.json", True),
    ("*.min.js", "web/app.min.js", True),
    ("*.min.js", "web/app.js", False),
    ("docs/*.md", "docs/a.md", True),
    ("/", "a.py", False),
]


@pytest.mark.parametrize(("pattern", "path", "excluded"), CASES)
def test_glob(pattern: str, path: str, excluded: bool) -> None:
    assert is_excluded(path, [pattern]) is excluded


def test_glob_matching_nothing_warns(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("tests/fixtures/data.txt", f"token {fakes.slack_token()}\n")
    monkeypatch.chdir(repo.path)
    result, document = scan_json(capsys, "--exclude", "fixtures/", "--exclude", "fixture/")
    assert document["findings"] == []
    assert "exclude pattern 'fixture/' matched none" in result.err
    assert "'fixtures/' matched" not in result.err
