"""Inputs built to exhaust the audit: alias bombs, symlinks, special and oversize files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keyless.audit import gitlab
from keyless.audit.loader import MAX_EXPANDED_NODES, load_text
from keyless.audit.nodes import Mapping
from keyless.cli import main
from tests.audit.support import audit_json, found


def alias_chain(levels: int, prefix: str = "a") -> str:
    """Return YAML anchors a0..aN where each level lists the previous one ten times."""
    lines = [f"{prefix}0: &{prefix}0 [" + ", ".join(["lol"] * 10) + "]"]
    for level in range(1, levels + 1):
        previous = ", ".join([f"*{prefix}{level - 1}"] * 10)
        lines.append(f"{prefix}{level}: &{prefix}{level} [{previous}]")
    return "\n".join(lines) + "\n"


def mapping_chain(levels: int, prefix: str = "m") -> str:
    """Return anchors m0..mN where each level maps ten keys to the previous one."""
    lines = [f"{prefix}0: &{prefix}0 {{" + ", ".join(f"k{j}: lol" for j in range(10)) + "}"]
    for level in range(1, levels + 1):
        entries = ", ".join(f"k{j}: *{prefix}{level - 1}" for j in range(10))
        lines.append(f"{prefix}{level}: &{prefix}{level} {{{entries}}}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_invalid_yaml() -> None:
    text = alias_chain(9) + "job: {script: [echo], variables: {X: *a9}}\n"
    loaded = load_text(".gitlab-ci.yml", text)
    assert loaded.documents == []
    assert [p.key for p in loaded.problems] == ["alias-expansion"]
    assert f"{MAX_EXPANDED_NODES:,}" in loaded.problems[0].message


@pytest.mark.parametrize(
    "job",
    [
        "job: {script: [echo], variables: {X: *a9}}",
        "job: {script: *a9}",
        ".t: {variables: *m9}\njob: {extends: .t, script: [echo]}",
    ],
)
def test_alias_bomb_audit_reports_and_ends(
    job: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(alias_chain(9) + mapping_chain(9) + job + "\n", encoding="utf-8")
    report = audit_json(capsys, target)
    assert found(report) == {(1, "invalid-yaml")}


class _CountingReader:
    def __call__(self, relative: str) -> None:
        return None

    def glob(self, pattern: str) -> list[str]:
        return []


def test_shared_nodes_resolved_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # About 10**5 nodes per anchor, below the bound: resolving must visit each shared node once.
    text = alias_chain(4) + mapping_chain(4)
    text += "job: {script: *a4, variables: {X: *a4}, id_tokens: *m4}\n"
    text += ".t: {variables: *m4}\n.u: {variables: *m4, extends: .t}\n"
    text += "other: {extends: [.t, .u], variables: *m4}\n"
    calls = 0
    original = gitlab._Resolver._resolve_references
    merges = 0
    original_merge = gitlab._merge

    def counting(self: gitlab._Resolver, node: object, depth: int) -> object:
        nonlocal calls
        calls += 1
        return original(self, node, depth)  # type: ignore[arg-type]

    def counting_merge(*args: object) -> object:
        nonlocal merges
        merges += 1
        return original_merge(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(gitlab._Resolver, "_resolve_references", counting)
    monkeypatch.setattr(gitlab, "_merge", counting_merge)
    pipeline = gitlab.build_pipeline(load_text(".gitlab-ci.yml", text), _CountingReader())
    job = next(j for j in pipeline.jobs if j.name == "job")
    assert isinstance(job.node.get("id_tokens"), Mapping)
    assert len(list(job.scripts())) == 10
    assert calls < 200
    assert merges < 200


DEBUG_PIPELINE = "job:\n  script: [make]\n  variables:\n    CI_DEBUG_TRACE: 'true'\n"


def test_symlink_to_device_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".gitlab-ci.yml").symlink_to("/dev/zero")
    monkeypatch.chdir(tmp_path)
    report = audit_json(capsys, ".", expect=0)
    assert report["skipped"] == {"symlink": 1}
    assert report["scanned"] == 0


def test_symlink_outside_repository_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside.yml"
    outside.write_text(DEBUG_PIPELINE, encoding="utf-8")
    project = tmp_path / "project"
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (project / ".gitlab-ci.yml").symlink_to(outside)
    (workflows / "ci.yml").symlink_to(outside)
    (project / "broken.gitlab-ci.yml").symlink_to(tmp_path / "missing.yml")
    monkeypatch.chdir(project)
    report = audit_json(capsys, ".", expect=0)
    assert report["findings"] == []
    assert report["skipped"] == {"broken-symlink": 1, "symlink": 2}


def test_named_symlink_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".gitlab-ci.yml").symlink_to("/dev/zero")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", ".gitlab-ci.yml"]) == 2
    assert "symbolic link" in capsys.readouterr().err


def test_fifo_pipeline_file_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    os.mkfifo(tmp_path / ".gitlab-ci.yml")
    monkeypatch.chdir(tmp_path)
    report = audit_json(capsys, ".", expect=0)
    assert report["skipped"] == {"not-a-file": 1}


def test_include_symlink_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yml").write_text(DEBUG_PIPELINE, encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "linked.yml").symlink_to(outside / "secret.yml")
    (project / "ci").symlink_to(outside)
    (project / ".gitlab-ci.yml").write_text(
        "include:\n  - local: linked.yml\n  - local: ci/secret.yml\n  - local: 'ci/*.yml'\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(project)
    report = audit_json(capsys, ".", expect=0)
    assert report["findings"] == []
    notes = "\n".join(report["notes"])
    assert "'linked.yml' not read: a symbolic link" in notes
    assert "'ci/secret.yml' not read: outside the repository" in notes


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ci/*.yml", ["ci/a.yml"]),
        ("ci/**.yml", ["ci/a.yml", "ci/sub/b.yml", "ci/sub/deeper/c.yml"]),
        ("ci/**/*.yml", ["ci/sub/b.yml", "ci/sub/deeper/c.yml"]),
        ("**.yml", [".gitlab-ci.yml", "ci/a.yml", "ci/sub/b.yml", "ci/sub/deeper/c.yml"]),
        ("ci/[ab].yml", []),
        ("ci/**", ["ci/a.yml", "ci/notes.txt", "ci/sub/b.yml", "ci/sub/deeper/c.yml"]),
    ],
)
def test_include_wildcards_match_gitlab(
    pattern: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ["ci/a.yml", "ci/notes.txt", "ci/sub/b.yml", "ci/sub/deeper/c.yml"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x: 1\n", encoding="utf-8")
    (tmp_path / ".gitlab-ci.yml").write_text("x: 1\n", encoding="utf-8")
    reader = gitlab.DirectoryReader(tmp_path, tmp_path, load_text)
    assert reader.glob(pattern) == expected


def test_double_star_include_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "ci" / "jobs"
    nested.mkdir(parents=True)
    (nested / "deploy.yml").write_text(DEBUG_PIPELINE, encoding="utf-8")
    (tmp_path / ".gitlab-ci.yml").write_text("include:\n  local: ci/**.yml\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    report = audit_json(capsys, ".", expect=0)
    assert {(f["path"], f["rule_id"]) for f in report["findings"]} == {
        ("ci/jobs/deploy.yml", "debug-trace")
    }


def test_oversize_discovered_file_fails_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "big.yml").write_text("on: push\n" + "# padding\n" * 300, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    report = audit_json(capsys, ".", "--max-file-size", "1KiB")
    assert found(report) == {(1, "file-not-audited")}
    assert report["skipped"] == {"too-large": 1}
    assert main(["audit", "--max-file-size", "1KiB", "."]) == 1
    err = capsys.readouterr().err
    assert "no pipeline files found" not in err
    assert "over the 1024-byte limit" in err


def test_oversize_named_file_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "big.gitlab-ci.yml"
    target.write_text(DEBUG_PIPELINE + "# padding\n" * 300, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "--max-file-size", "1KiB", str(target)]) == 2
    assert "over the 1024-byte limit" in capsys.readouterr().err


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_bom_encoded_pipeline_audited(
    encoding: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_bytes(DEBUG_PIPELINE.encode(encoding))
    report = audit_json(capsys, target)
    assert found(report) == {(4, "debug-trace")}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("job:\n  script: [make]\nx: a\0b\n", 3),
        ("job:\n\tscript: [make]\n", 2),
        ("job:\n  script: [make]\nx: " + "[" * 300 + "]" * 300 + "\n", 3),
        ("job:\n  script: [make]\nx: " + "{a: " * 150 + "1" + "}" * 150 + "\n", 3),
    ],
    ids=["nul-byte", "tab-indent", "deep-sequence", "deep-mapping"],
)
def test_unparsable_file_fails_default_gate(
    text: str, line: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / ".gitlab-ci.yml"
    target.write_text(text, encoding="utf-8")
    report = audit_json(capsys, target)
    assert found(report) == {(line, "invalid-yaml")}
    assert report["findings"][0]["severity"] == "medium"
    assert main(["audit", str(target)]) == 1


def test_deep_alias_stack_is_invalid() -> None:
    lines = ["l0: &l0 [x]"]
    lines += [f"l{n}: &l{n} [[[[[*l{n - 1}]]]]]" for n in range(1, 30)]
    loaded = load_text(".gitlab-ci.yml", "\n".join(lines) + "\n")
    assert loaded.documents == []
    assert [p.key for p in loaded.problems] == ["too-deep"]
