"""Inputs built to exhaust the audit: alias bombs, symlinks, special and oversize files."""

from __future__ import annotations

from pathlib import Path

import pytest

from keyless.audit import gitlab
from keyless.audit.loader import MAX_EXPANDED_NODES, load_text
from keyless.audit.nodes import Mapping
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
