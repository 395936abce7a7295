"""Every rule has a page in docs/rules whose bad example triggers it and good one does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keyless.audit.rules import RULES
from tests.audit.support import audit_json

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
# The hardcoded-secret page shows a placeholder where a real token would be, and the
# file-not-audited page cannot hold a file over the size limit.
_PLACEHOLDER_BAD = {"hardcoded-secret", "file-not-audited"}


def examples(page: str, heading: str) -> list[str]:
    """Return the YAML blocks between `## heading` and the next `## ` heading."""
    match = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", page, re.DOTALL | re.MULTILINE)
    assert match is not None, f"no '## {heading}' section"
    return _BLOCK.findall(match.group(1))


def audit_example(block: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    first = block.splitlines()[0]
    assert first.startswith("# "), "each example starts with a comment naming its file"
    target = tmp_path / first[2:].strip()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(block, encoding="utf-8")
    report = audit_json(capsys, target)
    return {f["rule_id"] for f in report["findings"]}


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_page(rule_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = (DOCS / f"{rule_id}.md").read_text(encoding="utf-8")
    rule = RULES[rule_id].rule
    assert page.startswith(f"# {rule_id}: {rule.title}\n")
    bad = examples(page, "Bad")
    good = examples(page, "Good")
    assert bad
    assert good
    if rule_id not in _PLACEHOLDER_BAD:
        for index, block in enumerate(bad):
            found = audit_example(block, tmp_path / f"bad{index}", capsys)
            assert rule_id in found, f"bad example {index} not reported"
    for index, block in enumerate(good):
        found = audit_example(block, tmp_path / f"good{index}", capsys)
        assert rule_id not in found, f"good example {index} reported"
