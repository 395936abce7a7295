"""Configuration: exclude, disable, allowlists, custom detectors, unknown keys, no code."""

from __future__ import annotations

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, run, scan_json

TOKEN = fakes.github_token()


@pytest.fixture
def project(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    # Not assigned to a name, so only the GitHub detector finds it.
    repo.write("src/app.py", f"print('{TOKEN}')\n")
    repo.write("tests/data/fixture.txt", f"token {fakes.slack_token()}\n")
    monkeypatch.chdir(repo.path)
    return repo


def test_no_config_finds_both(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    _, document = scan_json(capsys)
    assert [f["path"] for f in document["findings"]] == ["src/app.py", "tests/data/fixture.txt"]


@pytest.mark.parametrize("pattern", ["tests/", "tests", "tests/**", "*.txt", "tests/data/*"])
def test_exclude(project: GitRepo, capsys: pytest.CaptureFixture[str], pattern: str) -> None:
    project.write(".keyless.toml", f'exclude = ["{pattern}"]\n')
    _, document = scan_json(capsys)
    assert [f["path"] for f in document["findings"]] == ["src/app.py"]
    assert document["skipped"] == {"excluded": 1}


def test_exclude_flag_adds_to_config(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(".keyless.toml", 'exclude = ["tests/"]\n')
    result, document = scan_json(capsys, "--exclude", "src/*.py")
    assert result.code == 0
    assert document["skipped"] == {"excluded": 2}


def test_pyproject_section(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(
        "pyproject.toml", '[project]\nname = "x"\n\n[tool.keyless]\ndisable = ["slack-token"]\n'
    )
    _, document = scan_json(capsys)
    assert [f["rule_id"] for f in document["findings"]] == ["github-token"]


def test_keyless_toml_wins_over_pyproject(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("pyproject.toml", '[tool.keyless]\ndisable = ["slack-token"]\n')
    project.write(".keyless.toml", 'disable = ["github-token"]\n')
    _, document = scan_json(capsys)
    assert [f["rule_id"] for f in document["findings"]] == ["slack-token"]


def test_explicit_config(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write("ci/keyless.toml", 'disable = ["github-token", "slack-token"]\n')
    result, document = scan_json(capsys, "--config", "ci/keyless.toml")
    assert result.code == 0
    assert document["findings"] == []


def test_allowlist_value_and_line(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(
        ".keyless.toml",
        f'allowlist = ["^{TOKEN[:12]}"]\nallowlist-lines = ["^token xox"]\n',
    )
    result, document = scan_json(capsys)
    assert result.code == 0
    assert document["findings"] == []
    assert document["suppressed"] == 2


def test_ignore_entries(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(".keyless.toml", '[[ignore]]\nrule = "slack-token"\npath = "tests/**"\n')
    _, document = scan_json(capsys)
    assert [f["rule_id"] for f in document["findings"]] == ["github-token"]


def test_custom_detector(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    internal = "acme_" + fakes.random_string(32)
    project.write("deploy.sh", f"export ACME_KEY={internal}\n")
    project.write(
        ".keyless.toml",
        "[[detectors]]\n"
        'id = "acme-api-key"\n'
        'title = "ACME API key"\n'
        "regex = '''\\b(acme_[A-Za-z0-9]{32})\\b'''\n"
        'keywords = ["acme_"]\n'
        'severity = "critical"\n',
    )
    result, document = scan_json(capsys)
    assert result.code == 1
    custom = [f for f in document["findings"] if f["rule_id"] == "acme-api-key"]
    assert [(f["path"], f["line"], f["column"], f["severity"]) for f in custom] == [
        ("deploy.sh", 1, 17, "critical")
    ]
    assert custom[0]["title"] == "ACME API key"
    assert internal not in result.out


def test_custom_detector_without_keywords(
    project: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write("notes.txt", "ticket INTERNAL-SECRET-123456\n")
    project.write(
        ".keyless.toml",
        '[[detectors]]\nid = "internal"\nregex = "INTERNAL-SECRET-[0-9]+"\n',
    )
    _, document = scan_json(capsys)
    assert ("internal", "notes.txt", 1, 8) in located(document)


def test_unknown_keys_warn(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(
        ".keyless.toml",
        'excludes = ["tests/"]\n[[detectors]]\nid = "x"\nregex = "x{9}"\ncolour = "red"\n',
    )
    result, document = scan_json(capsys)
    assert result.code == 1
    assert "unknown config key 'excludes' ignored" in result.err
    assert ".keyless.toml: detectors: unknown keys colour ignored" in result.err
    assert len(document["findings"]) == 2


def test_config_runs_no_code(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    marker = project.path / "executed"
    payload = f"open({str(marker)!r}, 'w').write('ran')\n"
    project.write("setup.py", payload)
    project.write("conftest.py", payload)
    project.write("keyless_plugin.py", payload)
    project.write(
        "pyproject.toml",
        '[build-system]\nrequires = []\nbuild-backend = "keyless_plugin"\n\n'
        '[tool.keyless]\nplugins = ["keyless_plugin"]\n'
        '[[tool.keyless.detectors]]\nid = "x"\nregex = "__import__(\'os\')"\n',
    )
    result = run(capsys, "scan")
    assert result.code == 1
    assert not marker.exists()
    assert "unknown config key 'plugins' ignored" in result.err


def test_max_file_size_from_config(project: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    project.write(".keyless.toml", 'max-file-size = "16 B"\n')
    result, document = scan_json(capsys)
    assert result.code == 0
    assert document["skipped"] == {"too-large": 3}
