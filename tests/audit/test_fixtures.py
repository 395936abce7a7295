"""Each fixture marks the lines a rule must report (`bad:`) and must not (`good:`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keyless.audit.rules import RULES
from tests.audit.support import audit_json
from tests.support.audit_fakes import render

FIXTURES = Path(__file__).parent / "fixtures"
FILES = sorted(FIXTURES.rglob("*.yml"))
_MARK = re.compile(r"(?:#|//)\s*(bad|good):\s*([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)")


def marks(text: str, kind: str) -> set[tuple[int, str]]:
    """Return (line, rule id) for each `# bad: rule` or `# good: rule` mark in `text`."""
    result: set[tuple[int, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _MARK.finditer(line):
            if match.group(1) == kind:
                result.update((number, rule.strip()) for rule in match.group(2).split(","))
    return result


@pytest.mark.parametrize("fixture", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixture_marks(fixture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = render(fixture.read_text(encoding="utf-8"))
    target = tmp_path / fixture.name
    target.write_text(text, encoding="utf-8")
    bad = marks(text, "bad")
    good = marks(text, "good")
    # A fixture that starts with `# exact` marks every finding of every rule.
    rules = set(RULES) if text.startswith("# exact") else {rule for _, rule in bad | good}
    assert rules <= set(RULES), f"unknown rule in marks: {rules - set(RULES)}"

    report = audit_json(capsys, target, expect=0)
    reported = {(f["line"], f["rule_id"]) for f in report["findings"] if f["rule_id"] in rules}

    assert reported - bad == set(), "reported but not marked bad"
    assert bad - reported == set(), "marked bad but not reported"
    assert reported & good == set()


def test_marks_cover_every_rule() -> None:
    bad_rules: set[str] = set()
    good_rules: set[str] = set()
    for fixture in FILES:
        text = fixture.read_text(encoding="utf-8")
        bad_rules.update(rule for _, rule in marks(text, "bad"))
        good_rules.update(rule for _, rule in marks(text, "good"))
    # The YAML problem rules have their own tests with malformed files.
    expected = set(RULES) - {"invalid-yaml", "duplicate-key", "file-not-audited"}
    assert expected - bad_rules == set()
    assert expected - good_rules == set()


def test_marks_parser_reads_lists() -> None:
    text = "a: 1  # bad: rule-a, rule-b\nb: 2  # good: rule-c\n"
    assert marks(text, "bad") == {(1, "rule-a"), (1, "rule-b")}
    assert marks(text, "good") == {(2, "rule-c")}
