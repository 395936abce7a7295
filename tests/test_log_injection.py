"""Repository content in logs and the text report cannot start a CI workflow command."""

from __future__ import annotations

import pytest

from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import github_token


def _command_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("::")]


def test_text_report_escapes_file_name(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("a\n::error::injected.txt", f'token = "{github_token()}"\n')
    assert main(["scan", "--format", "text"]) == 1
    out = capsys.readouterr().out
    assert _command_lines(out) == []
    assert "a\\n::error::injected.txt:1:" in out


def test_log_escapes_file_name(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("b\n::warning::big.txt", "x" * 2048)
    assert main(["scan", "--max-file-size", "1KiB"]) == 0
    err = capsys.readouterr().err
    assert "big.txt" in err
    assert _command_lines(err) == []


def test_multiline_diagnostics_keep_line_breaks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYLESS_STAGED", "maybe")
    assert main(["scan"]) == 2
    err_lines = capsys.readouterr().err.splitlines()
    assert len(err_lines) >= 1
    assert err_lines[0].startswith("ERROR: KEYLESS_STAGED=")
