"""Tests of the output machinery: masking order, env files, shell, JSON, files, state."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from keyless.exchange.emit import EmitError, EmitSettings, Export, Output, emit
from keyless.exchange.state import State, StateError, state_dir
from keyless.secret import Secret
from tests import fakes
from tests.support.actions import parse_env_file


@pytest.fixture
def github_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GitHub Actions job's environment: env files, temp folder and workspace."""
    runner = tmp_path / "runner"
    (runner / "temp").mkdir(parents=True)
    (runner / "work").mkdir()
    (runner / "env").write_text("")
    (runner / "output").write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("RUNNER_TEMP", str(runner / "temp"))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(runner / "work"))
    monkeypatch.setenv("GITHUB_ENV", str(runner / "env"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(runner / "output"))
    return runner


def sample_outputs() -> list[Output]:
    key = fakes.random_string(32)
    pem = "-----BEGIN FAKE KEY-----\n" + fakes.random_string(40) + "\n-----END FAKE KEY-----"
    return [Output("API_KEY", Secret(key)), Output("TLS_KEY", Secret(pem))]


def test_github_masks_before_writing(github_job: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = sample_outputs()
    with State.open(state_dir()) as state:
        emit(outputs, EmitSettings([Export.GITHUB]), state)
    captured = capsys.readouterr()
    assert "::add-mask::" not in captured.out
    masked = [
        line.removeprefix("::add-mask::")
        for line in captured.err.splitlines()
        if line.startswith("::add-mask::")
    ]
    for output in outputs:
        value = output.value.reveal()
        assert value.replace("\n", "%0A") in masked
        for line in value.splitlines():
            assert line in masked


def test_github_env_heredoc_round_trip(github_job: Path) -> None:
    outputs = sample_outputs()
    with State.open(state_dir()) as state:
        emit(outputs, EmitSettings([Export.GITHUB]), state)
    env = parse_env_file((github_job / "env").read_text())
    step_outputs = parse_env_file((github_job / "output").read_text())
    for output in outputs:
        assert env[output.name] == output.value.reveal()
        assert step_outputs[output.name] == output.value.reveal()
    assert "<<ghadelimiter_" in (github_job / "env").read_text()


def test_github_heredoc_delimiter_random(github_job: Path) -> None:
    pem = Output("PEM", Secret("line one\nline two"))
    with State.open(state_dir()) as state:
        emit([pem], EmitSettings([Export.GITHUB]), state)
        emit([pem], EmitSettings([Export.GITHUB]), state)
    headers = [
        line for line in (github_job / "env").read_text().splitlines() if line.startswith("PEM<<")
    ]
    assert len(headers) == 2
    assert headers[0] != headers[1]


def test_github_env_names_recorded(github_job: Path) -> None:
    with State.open(state_dir()) as state:
        emit(sample_outputs(), EmitSettings([Export.GITHUB]), state)
    with State.open(state_dir()) as state:
        kinds = [(entry["kind"], entry.get("names")) for entry in state.entries]
    assert kinds == [("github-env", ["API_KEY", "TLS_KEY"])]


def test_shell_lines_survive_sh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tricky = Output("TRICKY", Secret('it\'s $HOME `id` "quoted"\nsecond line'))
    with State.open(state_dir(str(tmp_path / "state"))) as state:
        emit([tricky], EmitSettings([Export.SHELL]), state)
    script = capsys.readouterr().out + 'printf %s "$TRICKY"'
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout == tricky.value.reveal()


def test_json_to_file_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = sample_outputs()
    target = tmp_path / "out" / "values.json"
    target.parent.mkdir()
    with State.open(state_dir(str(tmp_path / "state"))) as state:
        emit(outputs, EmitSettings([Export.JSON], output=str(target)), state)
    assert capsys.readouterr().out == ""
    assert json.loads(target.read_text()) == {o.name: o.value.reveal() for o in outputs}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_json_stdout_stays_parseable_in_github(
    github_job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = sample_outputs()
    with State.open(state_dir()) as state:
        emit(outputs, EmitSettings([Export.JSON]), state)
    captured = capsys.readouterr()
    assert json.loads(captured.out)["API_KEY"] == outputs[0].value.reveal()
    assert "::add-mask::" in captured.err


def test_files_private_under_runner_temp(
    github_job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = sample_outputs()
    with State.open(state_dir()) as state:
        emit(outputs, EmitSettings([Export.FILES]), state)
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    for output in outputs:
        path = Path(printed[output.name])
        assert path.is_relative_to(github_job / "temp")
        assert path.read_text() == output.value.reveal()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_files_refused_in_workspace(github_job: Path) -> None:
    settings = EmitSettings([Export.FILES], files_dir=str(github_job / "work" / "secrets"))
    with State.open(state_dir()) as state, pytest.raises(StateError, match="workspace"):
        emit(sample_outputs(), settings, state)
    assert not (github_job / "work" / "secrets").exists()


def test_output_file_refused_in_workspace(github_job: Path) -> None:
    settings = EmitSettings([Export.JSON], output=str(github_job / "work" / "values.json"))
    with State.open(state_dir()) as state, pytest.raises(StateError, match="workspace"):
        emit(sample_outputs(), settings, state)


def test_state_dir_refused_in_workspace(github_job: Path) -> None:
    with pytest.raises(StateError, match="workspace"):
        state_dir(str(github_job / "work" / ".keyless"))


def test_dotenv_rejects_multiline(tmp_path: Path) -> None:
    settings = EmitSettings([Export.GITLAB], dotenv=str(tmp_path / "keyless.env"))
    with State.open(state_dir(str(tmp_path / "state"))) as state, pytest.raises(EmitError):
        emit(sample_outputs(), settings, state)
    assert not (tmp_path / "keyless.env").exists()


def test_dotenv_written_private(tmp_path: Path) -> None:
    value = fakes.random_string(24)
    settings = EmitSettings([Export.GITLAB], dotenv=str(tmp_path / "keyless.env"))
    with State.open(state_dir(str(tmp_path / "state"))) as state:
        emit([Output("DB_PASSWORD", Secret(value))], settings, state)
    dotenv = tmp_path / "keyless.env"
    assert dotenv.read_text() == f"DB_PASSWORD={value}\n"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["1ABC", "A-B", "", "A B"])
def test_invalid_names_rejected(tmp_path: Path, name: str) -> None:
    with State.open(state_dir(str(tmp_path / "state"))) as state, pytest.raises(EmitError):
        emit([Output(name, Secret("value-123456"))], EmitSettings([Export.SHELL]), state)


def test_duplicate_names_rejected(tmp_path: Path) -> None:
    outputs = [Output("A", Secret("value-123456")), Output("A", Secret("value-654321"))]
    with State.open(state_dir(str(tmp_path / "state"))) as state, pytest.raises(EmitError):
        emit(outputs, EmitSettings([Export.SHELL]), state)


def test_state_file_private_and_saved_on_error(tmp_path: Path) -> None:
    directory = state_dir(str(tmp_path / "state"))
    with pytest.raises(RuntimeError), State.open(directory) as state:
        state.add("file", path=str(tmp_path / "x"))
        raise RuntimeError("fail after issuing")
    state_file = directory / "state.json"
    assert json.loads(state_file.read_text())["entries"][0]["kind"] == "file"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_private_temp_outside_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    directory = state_dir()
    assert directory == tmp_path / f"keyless-{os.getuid()}" / "keyless"
    assert stat.S_IMODE(directory.parent.stat().st_mode) == 0o700


def test_gitlab_temp_beside_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "builds" / "group" / "project"
    project.mkdir(parents=True)
    Path(str(project) + ".tmp").mkdir()
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PROJECT_DIR", str(project))
    monkeypatch.setenv("CI_BUILDS_DIR", str(tmp_path / "builds"))
    assert state_dir() == Path(str(project) + ".tmp") / "keyless"
