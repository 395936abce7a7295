"""The CLI skeleton: version, help, exit codes and logging."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keyless import __version__
from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import github_token


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"keyless {__version__}"


def test_no_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: keyless" in capsys.readouterr().err


def test_unknown_flag_is_usage_error() -> None:
    assert main(["scan", "--no-such-flag"]) == 2


def test_python_dash_m(repo: GitRepo) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "keyless", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("keyless ")


def test_script_runs_exit_handlers(tmp_path: Path) -> None:
    program = (
        "import atexit, sys\n"
        "from keyless.cli import script\n"
        "atexit.register(lambda: print('exit handler ran'))\n"
        "sys.argv = ['keyless', *sys.argv[1:]]\n"
        "script()\n"
    )
    ok = subprocess.run(
        [sys.executable, "-c", program, "--version"], capture_output=True, text=True, check=False
    )
    usage = subprocess.run(
        [sys.executable, "-c", program, "scan", "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert (ok.returncode, ok.stdout) == (0, f"keyless {__version__}\nexit handler ran\n")
    assert usage.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in usage.stderr
    assert usage.stdout == "exit handler ran\n"


def test_invalid_env_choice_is_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYLESS_FORMAT", "yaml")
    assert main(["scan"]) == 2
    assert "KEYLESS_FORMAT='yaml' is invalid" in capsys.readouterr().err


def test_scan_exit_codes(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("clean.txt", "nothing to see\n")
    assert main(["scan"]) == 0
    repo.write("leak.py", f'TOKEN = "{github_token()}"\n')
    assert main(["scan"]) == 1
    assert main(["scan", "--fail-on", "critical"]) == 0
    assert main(["scan", "--fail-on", "never"]) == 0


def test_env_default_for_flag(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("leak.py", f'TOKEN = "{github_token()}"\n')
    monkeypatch.setenv("KEYLESS_FAIL_ON", "never")
    assert main(["scan"]) == 0


def test_missing_path_is_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "does-not-exist"]) == 2
    err = capsys.readouterr().err
    assert "does-not-exist: no such file or directory" in err
    assert "Traceback" not in err


def test_bad_env_for_other_command_is_ignored(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("clean.txt", "nothing to see\n")
    monkeypatch.setenv("KEYLESS_TOKEN_FORMAT", "sarif")
    assert main(["scan"]) == 0


def test_bad_boolean_env_is_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEYLESS_STAGED", "maybe")
    assert main(["scan"]) == 2
    assert "KEYLESS_STAGED='maybe' is not a boolean" in capsys.readouterr().err


def test_full_parser_builds_every_command() -> None:
    from keyless.cli import COMMANDS, build_parser

    parser = build_parser()
    help_text = parser.format_help()
    for name in COMMANDS:
        assert name in help_text


def test_each_command_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    from keyless.cli import COMMANDS

    for name in COMMANDS:
        assert main([name, "--help"]) == 0
        assert f"usage: keyless {name}" in capsys.readouterr().out


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_file_named_like_option_is_refused(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("leak.cfg", f'token = "{github_token()}"\n')
    repo.write("--fail-on=never", "x\n")
    assert main(["scan", "leak.cfg", "--fail-on=never"]) == 2
    assert "is both an option and the name of an existing file" in capsys.readouterr().err
    assert main(["scan", "--", "leak.cfg", "--fail-on=never"]) == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_report_to_full_stdout_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text(f"TOKEN={github_token()}\n")
    with Path("/dev/full").open("w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "keyless", "scan", str(tmp_path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )

    assert proc.returncode == 2
    assert "cannot write the report to standard output" in proc.stderr
    assert "-o FILE" in proc.stderr
