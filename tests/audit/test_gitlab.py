"""GitLab pipelines: local includes, other include kinds, extends and !reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.support import audit_json, found


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_local_includes_followed_nested_and_wildcard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path, ".gitlab-ci.yml", "include:\n  - local: /ci/base.yml\n  - local: ci/jobs/*.yml\n"
    )
    write(tmp_path, "ci/base.yml", "include: ci/nested.yml\nvariables:\n  CI_DEBUG_TRACE: 'true'\n")
    write(tmp_path, "ci/nested.yml", 'nested:\n  script:\n    - eval "$CI_COMMIT_TITLE"\n')
    write(tmp_path, "ci/jobs/deploy.yml", "deploy:\n  script:\n    - echo $CI_JOB_JWT\n")
    report = audit_json(capsys, ".")
    located = {(f["path"], f["line"], f["rule_id"]) for f in report["findings"]}
    assert located == {
        ("ci/base.yml", 3, "debug-trace"),
        ("ci/nested.yml", 3, "script-injection"),
        ("ci/jobs/deploy.yml", 3, "deprecated-ci-job-jwt"),
    }
    assert report["scanned"] == 4


def test_other_include_kinds_listed_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        "include:\n"
        "  - project: group/templates\n    file: /deploy.yml\n"
        "  - remote: https://example.com/ci.yml\n"
        "  - template: Security/SAST.gitlab-ci.yml\n"
        "  - component: $CI_SERVER_FQDN/group/comp/scan@1.0\n"
        "  - https://example.com/other.yml\n"
        "  - local: missing.yml\n",
    )
    report = audit_json(capsys, ".")
    notes = "\n".join(report["notes"])
    assert "include project 'group/templates:/deploy.yml' not followed" in notes
    assert "include remote 'https://example.com/ci.yml' not followed" in notes
    assert "include template 'Security/SAST.gitlab-ci.yml' not followed" in notes
    assert "include component '$CI_SERVER_FQDN/group/comp/scan@1.0' not followed" in notes
    assert "include remote 'https://example.com/other.yml' not followed" in notes
    assert "local include 'missing.yml' not read: not found" in notes


def test_include_cannot_escape_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    write(tmp_path, "outside.yml", "variables:\n  CI_DEBUG_TRACE: 'true'\n")
    write(project, ".gitlab-ci.yml", "include:\n  - local: ../outside.yml\n")
    monkeypatch.chdir(project)
    report = audit_json(capsys, ".")
    assert report["findings"] == []
    assert any("outside the repository" in note for note in report["notes"])


def test_include_loop_terminates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, ".gitlab-ci.yml", "include: a.yml\n")
    write(tmp_path, "a.yml", "include: b.yml\n")
    write(tmp_path, "b.yml", "include: a.yml\nvariables:\n  CI_DEBUG_TRACE: 'true'\n")
    report = audit_json(capsys, ".")
    assert found(report) == {(3, "debug-trace")}


def test_include_inputs_are_not_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        "include:\n  - local: t.yml\n    inputs:\n      debug:\n        CI_DEBUG_TRACE: x\n"
        "      CI_DEBUG_TRACE: 'true'\n",
    )
    write(tmp_path, "t.yml", "spec:\n  inputs:\n    CI_DEBUG_TRACE:\n---\njob:\n  script: [make]\n")
    report = audit_json(capsys, ".")
    assert found(report) == set()


def test_multi_level_extends_and_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        ".a:\n"
        "  artifacts:\n    reports:\n      dotenv: build.env\n"
        ".b:\n  extends: .a\n  variables:\n    X: '1'\n"
        ".c:\n  script:\n    - echo ignored\n"
        "job:\n  extends: [.b, .c]\n  script:\n"
        '    - echo "TOKEN=$CI_JOB_TOKEN" >> build.env\n',
    )
    report = audit_json(capsys, ".")
    assert found(report) == {(15, "secrets-in-artifacts")}


def test_extends_loop_and_unknown_parent_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        ".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: [.a, .nope]\n  script: [make]\n",
    )
    report = audit_json(capsys, ".", expect=0)
    notes = "\n".join(report["notes"])
    assert "extends loop" in notes
    assert "extends unknown job '.nope'" in notes


def test_reference_resolves_scripts_and_variables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        '.setup:\n  script:\n    - eval "$CI_MERGE_REQUEST_TITLE"\n'
        ".vars:\n  variables:\n    TITLE: $CI_MERGE_REQUEST_DESCRIPTION\n"
        "job:\n  variables: !reference [.vars, variables]\n  script:\n"
        '    - !reference [.setup, script]\n    - sh -c "echo $TITLE"\n'
        "    - !reference [.missing, script]\n",
    )
    report = audit_json(capsys, ".")
    assert found(report) == {(3, "script-injection"), (11, "script-injection")}
    assert any(".missing" in note for note in report["notes"])


def test_hidden_template_reported_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        '.t:\n  script:\n    - eval "$CI_COMMIT_MESSAGE"\na:\n  extends: .t\nb:\n  extends: .t\n',
    )
    report = audit_json(capsys, ".")
    assert len(report["findings"]) == 1


def test_default_section_inherited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        'default:\n  before_script:\n    - eval "$CI_COMMIT_MESSAGE"\nbuild:\n  script: [make]\n',
    )
    report = audit_json(capsys, ".")
    assert found(report) == {(3, "script-injection")}


def test_default_not_inherited_when_disabled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        'before_script:\n  - eval "$CI_COMMIT_MESSAGE"\n'
        "build:\n  inherit:\n    default: false\n  script: [make]\n"
        "test:\n  inherit:\n    default: [image]\n  script: [make test]\n"
        "lint:\n  before_script: [echo]\n  script: [make lint]\n",
    )
    report = audit_json(capsys, ".")
    assert found(report) == set()


def test_folded_script_line_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        "job:\n  script:\n    - >\n      echo start &&\n"
        '      eval "echo $CI_MERGE_REQUEST_TITLE"\n',
    )
    report = audit_json(capsys, ".")
    (finding,) = report["findings"]
    assert (finding["line"], finding["column"]) == (5, 18)


def test_job_in_include_and_main_deep_merged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        ".gitlab-ci.yml",
        "include: base.yml\ndeploy:\n  variables:\n    REGION: eu\n",
    )
    write(
        tmp_path,
        "base.yml",
        "deploy:\n  variables:\n    CI_DEBUG_TRACE: 'true'\n"
        '  script:\n    - eval "$CI_COMMIT_TITLE"\n',
    )
    report = audit_json(capsys, ".")
    located = {(f["path"], f["line"], f["rule_id"]) for f in report["findings"]}
    assert located == {("base.yml", 3, "debug-trace"), ("base.yml", 5, "script-injection")}


def test_cloud_key_fix_names_template_and_globals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = write(
        tmp_path,
        ".gitlab-ci.yml",
        "variables:\n  AZURE_CLIENT_SECRET: $SP_SECRET\n"
        ".base-aws:\n  variables:\n    AWS_SECRET_ACCESS_KEY: $KEY\n"
        ".setup:\n  - echo $GCP_SA_KEY > key.json\n"
        "deploy:\n  extends: .base-aws\n  script:\n    - !reference [.setup]\n    - make\n",
    )
    report = audit_json(capsys, target)
    by_line = {
        f["line"]: f for f in report["findings"] if f["rule_id"] == "static-cloud-credentials"
    }
    assert set(by_line) == {2, 5, 7}
    assert "Give each job that uses the key an ID token" in by_line[2]["remediation"]
    assert "Give template `.base-aws`" in by_line[5]["remediation"]
    assert "job deploy reads a stored Google Cloud service account key" in by_line[7]["message"]
    assert "signs in" not in by_line[7]["message"]
    for finding in by_line.values():
        assert "``" not in finding["remediation"]
        assert "<job>" not in finding["remediation"]


def test_job_place_quotes_odd_names() -> None:
    from keyless.audit.gitlab import Job
    from keyless.audit.loader import load_text
    from keyless.audit.nodes import Mapping, Scalar

    root = load_text("f.yml", ".base-aws: {}\nbuild: {}\n").documents[0]
    assert isinstance(root, Mapping)
    places = []
    for name, value in root.items():
        key = root.key_node(name)
        assert isinstance(key, Scalar)
        assert isinstance(value, Mapping)
        places.append(Job(name=name, key=key, node=value).describe)
    assert places == ['jobs[".base-aws"]', "jobs.build"]
