"""moto's server on 127.0.0.1 at a free port, for the AWS STS success paths."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

_START_TIMEOUT = 60.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _moto_server() -> str:
    sibling = Path(sys.executable).with_name("moto_server")
    found = str(sibling) if sibling.exists() else shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is not installed; install keyless with .[test]")
    return found


@contextmanager
def moto_server(log_path: Path, environment: dict[str, str] | None = None) -> Iterator[str]:
    """Run moto_server on 127.0.0.1 and yield its base URL; stop it on exit.

    `environment` adds variables to the server's environment, such as moto's
    INITIAL_NO_AUTH_ACTION_COUNT, which makes it check signatures and IAM policies.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=log,
            env={**os.environ, **(environment or {})},
        )
        try:
            _wait_until_up(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited early: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/moto-api/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"moto_server did not start within {_START_TIMEOUT:g} s")


@pytest.fixture(scope="session")
def moto_sts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a moto server shared by the STS tests of one test folder."""
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with moto_server(log) as url:
        yield url
