"""Checks of the shared output layer: reserved names, escaped masks, export combinations."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from keyless.exchange.emit import (
    EmitError,
    EmitSettings,
    Export,
    Output,
    check_names,
    emit,
    preflight,
)
from keyless.exchange.state import State, StateError, state_dir
from keyless.secret import Secret
from tests import fakes
from tests.exchange import test_emit

github_job = test_emit.github_job


def runner_masks(err: str) -> list[str]:
    """Return the values registered with `::add-mask::`, unescaped as the runner does."""
    masks = []
    for line in err.splitlines():
        if line.startswith("::add-mask::"):
            value = line.removeprefix("::add-mask::")
            masks.append(value.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%"))
    return sorted(masks, key=len, reverse=True)


def apply_masks(text: str, masks: list[str]) -> str:
    for mask in masks:
        text = text.replace(mask, "***")
    return text


def awkward_value() -> str:
    """Return a value whose JSON and shell forms differ from it: quotes, backslash, é."""
    return f"{fakes.random_string(12)}'\"\\é{fakes.random_string(12)}"


@pytest.mark.parametrize("export", [Export.JSON, Export.SHELL])
def test_escaped_forms_masked_in_github(
    export: Export, github_job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = awkward_value()
    with State.open(state_dir()) as state:
        emit([Output("TOKEN", Secret(value))], EmitSettings([export]), state)
    captured = capsys.readouterr()
    shown = apply_masks(captured.out, runner_masks(captured.err))
    assert value[:12] not in shown
    assert value[-12:] not in shown
    if export is Export.JSON:
        assert json.dumps(value)[1:-1] in runner_masks(captured.err)
    else:
        assert shlex.quote(value) in runner_masks(captured.err)


def test_no_masks_outside_github(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with State.open(state_dir(str(tmp_path / "s"))) as state:
        emit([Output("TOKEN", Secret(awkward_value()))], EmitSettings([Export.JSON]), state)
    assert "::add-mask::" not in capsys.readouterr().err


@pytest.mark.parametrize("other", [Export.SHELL, Export.JSON])
def test_files_and_stdout_export_rejected(other: Export) -> None:
    with pytest.raises(EmitError) as raised:
        preflight(EmitSettings([other, Export.FILES]))
    assert "would both write to stdout" in raised.value.message
    assert "--output FILE" in str(raised.value.hint)


def test_files_with_output_file_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "values.json"
    settings = EmitSettings([Export.JSON, Export.FILES], output=str(target))
    preflight(settings)
    value = fakes.random_string(20)
    with State.open(state_dir(str(tmp_path / "s"))) as state:
        emit([Output("TOKEN", Secret(value))], settings, state)
    assert json.loads(target.read_text()) == {"TOKEN": value}
    [line] = capsys.readouterr().out.splitlines()
    assert Path(line.split("=", 1)[1]).read_text() == value


def test_dotenv_in_workspace_rejected_on_github(github_job: Path) -> None:
    dotenv = github_job / "work" / "keyless.env"
    with pytest.raises(StateError):
        preflight(EmitSettings([Export.GITLAB], dotenv=str(dotenv)))


def test_dotenv_in_workspace_allowed_on_gitlab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PROJECT_DIR", str(tmp_path))
    preflight(EmitSettings([Export.GITLAB], dotenv=str(tmp_path / "keyless.env")))


@pytest.mark.parametrize(
    "name",
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_SESSION_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
        "AZURE_FEDERATED_TOKEN_FILE",
        "VAULT_TOKEN",
        "NODE_AUTH_TOKEN",
        "DB_PASSWORD",
    ],
)
def test_exchange_names_not_reserved(name: str) -> None:
    check_names([Output(name, Secret("x"))])


@pytest.mark.parametrize(
    "name", ["PATH", "LD_PRELOAD", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "RUNNER_TEMP", "ENV"]
)
def test_reserved_names_rejected_in_emit(name: str, tmp_path: Path) -> None:
    with State.open(state_dir(str(tmp_path / "s"))) as state, pytest.raises(EmitError):
        emit([Output(name, Secret("x"))], EmitSettings([Export.JSON]), state)


def test_reserved_names_allowed_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = EmitSettings([Export.JSON], allow_reserved_names=True)
    with State.open(state_dir(str(tmp_path / "s"))) as state:
        emit([Output("PATH", Secret("/opt/bin"))], settings, state)
    assert json.loads(capsys.readouterr().out) == {"PATH": "/opt/bin"}
