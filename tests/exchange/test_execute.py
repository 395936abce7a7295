"""`--exec`: signals reach the command once, and start failures exit as a shell would."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keyless.exchange.emit import Output
from keyless.exchange.execute import CommandError, run_command
from keyless.secret import Secret

# The command: count SIGINTs, and once one arrived wait a second for a duplicate.
COUNTER = """
import signal, sys, time
ready, result = sys.argv[1], sys.argv[2]
count = 0
def seen(signum, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, seen)
open(ready, "w").close()
deadline = time.monotonic() + 20
while count == 0 and time.monotonic() < deadline:
    time.sleep(0.02)
time.sleep(1.0)
open(result, "w").write(str(count))
"""

# keyless's side: run the counter through run_command, as `--exec` does.
DRIVER = """
import sys
from keyless.exchange.execute import run_command
command = [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]]
sys.exit(run_command(command, [], on_exit=lambda: None))
"""


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert path.exists(), f"{path} did not appear"


def read_result(path: Path) -> int:
    wait_for(path)
    deadline = time.monotonic() + 5
    while not path.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    return int(path.read_text())


def test_ctrl_c_in_terminal_reaches_command_once(tmp_path: Path) -> None:
    ready, result = tmp_path / "ready", tmp_path / "result"
    argv = [sys.executable, "-c", DRIVER, COUNTER, str(ready), str(result)]
    # pty.fork makes the child a session leader with the pty as its controlling
    # terminal, in the terminal's foreground process group, as in an interactive shell.
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover - the child process
        try:
            os.execv(sys.executable, argv)  # noqa: S606 - a fixed argv, no shell needed
        finally:
            os._exit(127)
    try:
        wait_for(ready)
        os.write(master, b"\x03")  # Ctrl-C: the terminal signals its foreground group
        assert read_result(result) == 1
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0


def test_sigint_without_terminal_forwarded(tmp_path: Path) -> None:
    ready, result = tmp_path / "ready", tmp_path / "result"
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, COUNTER, str(ready), str(result)],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(ready)
        process.send_signal(signal.SIGINT)  # to keyless alone, as `kill -INT` does
        assert read_result(result) == 1
    finally:
        assert process.wait(timeout=20) == 0


def test_environment_too_large_explained() -> None:
    # Linux limits one environment string to 32 pages (128 KiB).
    outputs = [Output("BIG", Secret("x" * 300_000))]
    revoked = []
    with pytest.raises(CommandError) as raised:
        run_command(["true"], outputs, on_exit=lambda: revoked.append(True))
    assert "environment are too large" in raised.value.message
    assert raised.value.exit_code == 127
    assert revoked == [True]


def test_not_executable_exits_126(tmp_path: Path) -> None:
    script = tmp_path / "deploy.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    with pytest.raises(CommandError) as raised:
        run_command([str(script)], [], on_exit=lambda: None)
    assert raised.value.exit_code == 126
    assert "chmod +x" in str(raised.value.hint)


def test_missing_command_exits_127(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as raised:
        run_command([str(tmp_path / "absent")], [], on_exit=lambda: None)
    assert raised.value.exit_code == 127
