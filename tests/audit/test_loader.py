"""The located YAML loader, and the audit's handling of every kind of malformed file."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyless.audit.loader import load_text
from keyless.audit.nodes import Mapping, Scalar, Sequence
from tests.audit.support import audit_json, found

WORKFLOW_OK = """\
name: ok
on: push
permissions:
  contents: read
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: example/tool@main
"""


def test_marks_are_one_based() -> None:
    loaded = load_text("f.yml", "a:\n  b: value\n")
    root = loaded.documents[0]
    assert isinstance(root, Mapping)
    inner = root.mapping("a")
    assert inner is not None
    value = inner.scalar("b")
    assert value is not None
    assert (value.start.line, value.start.column) == (2, 6)
    key = inner.key_node("b")
    assert key is not None
    assert (key.start.line, key.start.column) == (2, 3)


def test_alias_shares_anchor_node() -> None:
    text = "base: &env\n  TOKEN: x\njob:\n  env: *env\n"
    root = load_text("f.yml", text).documents[0]
    assert isinstance(root, Mapping)
    assert root.get("base") is root.mapping("job").get("env")  # type: ignore[union-attr]


def test_merge_key_explicit_wins() -> None:
    text = "a: &a\n  x: 1\n  y: 2\nb: &b\n  y: 3\n  z: 4\nc:\n  <<: [*a, *b]\n  x: 9\n"
    root = load_text("f.yml", text).documents[0]
    assert isinstance(root, Mapping)
    merged = root.mapping("c")
    assert merged is not None
    assert merged.text("x") == "9"
    assert merged.text("y") == "2"
    assert merged.text("z") == "4"
    assert "<<" not in merged


def test_reference_tag_kept() -> None:
    root = load_text("f.yml", "job:\n  script: !reference [.a, script]\n").documents[0]
    assert isinstance(root, Mapping)
    script = root.mapping("job").get("script")  # type: ignore[union-attr]
    assert isinstance(script, Sequence)
    assert script.tag == "!reference"


def test_literal_block_locates_each_line() -> None:
    text = "run: |\n  first\n    second $X\n"
    root = load_text("f.yml", text).documents[0]
    assert isinstance(root, Mapping)
    run = root.scalar("run")
    assert isinstance(run, Scalar)
    offset = run.value.index("$X")
    mark = run.locate(offset)
    assert (mark.line, mark.column) == (3, 12)


def test_duplicate_key_is_problem_and_last_wins() -> None:
    loaded = load_text("f.yml", "a: 1\nb: 2\na: 3\n")
    assert [p.kind for p in loaded.problems] == ["duplicate-key"]
    assert loaded.problems[0].mark.line == 3
    root = loaded.documents[0]
    assert isinstance(root, Mapping)
    assert root.text("a") == "3"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n b: 2\n", 2),  # bad indentation
        ("a: 'unclosed\nb: 2\n", 3),  # unclosed quote runs to the end
        ("a: [1, 2\nb: 3\n", 2),  # unclosed flow sequence
        ("a:\n\t- 1\n", 2),  # tab indentation
        ("a: *missing\n", 1),  # undefined alias
        ("key: value: other\n", 1),  # mapping values not allowed here
        ("- a\nb: 1\n", 2),  # sequence then mapping at the same level
    ],
)
def test_syntax_error_reported_with_line(text: str, line: int) -> None:
    loaded = load_text("bad.yml", text)
    assert not loaded.valid
    problem = loaded.problems[0]
    assert problem.kind == "invalid-yaml"
    assert problem.mark.line == line
    assert problem.message.startswith("invalid YAML")


def test_recursive_alias_does_not_hang() -> None:
    loaded = load_text("f.yml", "a: &a\n  b: *a\n")
    assert any(p.key == "recursive-alias" for p in loaded.problems)


def test_multi_document_keeps_documents_before_error() -> None:
    loaded = load_text("f.yml", "a: 1\n---\nb: 2\n---\nc: [\n")
    assert len(loaded.documents) == 2
    assert not loaded.valid


@pytest.mark.parametrize("text", ["", "# only a comment\n", "just a string\n", "- a\n- b\n"])
def test_odd_documents_audit_cleanly(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(text, encoding="utf-8")
    report = audit_json(capsys, target, expect=0)
    assert report["findings"] == []
    assert report["scanned"] == 1


def test_invalid_file_reported_and_rest_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "broken.yml").write_text("on: push\njobs:\n  a: [\n", encoding="utf-8")
    (workflows / "ok.yml").write_text(WORKFLOW_OK, encoding="utf-8")
    report = audit_json(capsys, tmp_path, expect=0)
    by_path = {(f["path"].rsplit("/", 1)[-1], f["rule_id"]) for f in report["findings"]}
    assert ("broken.yml", "invalid-yaml") in by_path
    assert ("ok.yml", "unpinned-action") in by_path
    assert report["skipped"] == {"invalid-yaml": 1}
    assert report["scanned"] == 2


def test_invalid_yaml_logged_with_path_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text("job:\n  script:\n    - echo\n  bad: [\n", encoding="utf-8")
    report = audit_json(capsys, target)
    assert [f["rule_id"] for f in report["findings"]] == ["invalid-yaml"]
    assert report["findings"][0]["line"] == 5


def test_duplicate_key_finding_and_rules_still_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(
        "variables:\n  CI_DEBUG_TRACE: 'true'\n  CI_DEBUG_TRACE: 'false'\n"
        "job:\n  variables:\n    CI_DEBUG_SERVICES: 'true'\n  script: [make]\n",
        encoding="utf-8",
    )
    report = audit_json(capsys, target)
    assert found(report) == {(3, "duplicate-key"), (6, "debug-trace")}


def test_non_utf8_bytes_do_not_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_bytes(
        b"job:\n  script:\n    - echo \xff\xfe\n  variables:\n    CI_DEBUG_TRACE: 'true'\n"
    )
    report = audit_json(capsys, target)
    assert found(report) == {(5, "debug-trace")}


def test_unknown_tags_do_not_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(
        "job:\n  script: !!python/object:os.system [echo]\n  variables: !custom\n"
        "    CI_DEBUG_TRACE: 'true'\n",
        encoding="utf-8",
    )
    report = audit_json(capsys, target)
    assert found(report) == {(4, "debug-trace")}


def test_anchor_finding_points_at_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(
        ".vars: &vars\n  CI_DEBUG_TRACE: 'true'\n"
        "a:\n  variables: *vars\n  script: [make]\n"
        "b:\n  variables:\n    <<: *vars\n    OTHER: x\n  script: [make]\n",
        encoding="utf-8",
    )
    report = audit_json(capsys, target)
    assert found(report) == {(2, "debug-trace")}


ODD_WORKFLOWS = [
    "on: push\njobs: [a, b]\n",
    "on: push\njobs:\n  a: just a string\n",
    "on: push\njobs:\n  a:\n    steps: {uses: x}\n",
    "on: push\njobs:\n  a:\n    steps:\n      - just a string\n"
    "      - uses: {a: b}\n      - run: [a]\n",
    "on: push\npermissions: [contents]\njobs:\n  a:\n    permissions: 7\n    env: [A]\n"
    "    steps:\n      - uses: actions/checkout@v4\n        with: none\n",
    "on: [pull_request_target]\njobs:\n  a:\n    runs-on: x\n    secrets: [inherit]\n"
    "    steps:\n      - uses: actions/checkout@v4\n        with:\n          ref: [1]\n",
    "on:\njobs:\n  a:\n    uses: 12\n",
    "jobs:\n  a:\n    steps:\n      - run: echo\n",
]
ODD_PIPELINES = [
    "job: [a, b]\n",
    "job:\n  script: {a: b}\n",
    "variables: [A, B]\njob:\n  variables: 7\n  script: [make]\n",
    "include: 12\n",
    "include:\n  - {}\n  - [a]\n  - local: [x]\n",
    "job:\n  extends: {a: b}\n  script: [make]\n",
    "job:\n  id_tokens: token\n  secrets: [a]\n  script: [make]\n",
    "job:\n  id_tokens:\n    T: 5\n  artifacts:\n    paths: out\n    reports: 3\n"
    "  script: [make]\n",
    "job:\n  script: !reference []\n",
    "job:\n  script:\n    - !reference [a, b, c, d]\n    - [nested, [deeper]]\n",
    "default: 5\nbefore_script: {a: b}\njob:\n  inherit: 3\n  script: [make]\n",
]


@pytest.mark.parametrize("text", ODD_WORKFLOWS)
def test_odd_workflow_shapes_do_not_crash(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "odd.yml"
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    report = audit_json(capsys, target, expect=0)
    assert report["scanned"] == 1


@pytest.mark.parametrize("text", ODD_PIPELINES)
def test_odd_pipeline_shapes_do_not_crash(
    text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(text, encoding="utf-8")
    report = audit_json(capsys, target, expect=0)
    assert report["scanned"] == 1


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_unicode_line_separators_keep_lines(
    separator: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".github" / "workflows" / "ci.yml"
    target.parent.mkdir(parents=True)
    text = WORKFLOW_OK.replace("name: ok", f"name: 'ok{separator}still the name'")
    target.write_text(text, encoding="utf-8")
    report = audit_json(capsys, target)
    line = text.split("\n").index("      - uses: example/tool@main") + 1
    assert found(report) == {(line, "unpinned-action")}
    assert report["findings"][0]["column"] == 15


def test_source_lines_split_only_at_line_ends() -> None:
    loaded = load_text("f.yml", "a: 1\r\nb: 'x\u2028y'\rc: 3\n")
    assert loaded.source.lines == ["a: 1", "b: 'x\u2028y'", "c: 3"]
    root = loaded.documents[0]
    assert isinstance(root, Mapping)
    value = root.scalar("c")
    assert value is not None
    assert (value.start.line, value.start.column) == (3, 4)
