"""Fixtures for the command tests: a GitHub Actions job's files, moto, the issuer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from tests.support.issuer import oidc_issuer, oidc_issuer_tls  # noqa: F401
from tests.support.moto import moto_sts  # noqa: F401


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
    monkeypatch.chdir(runner / "work")
    return runner


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """A responses mock that fails any request to a URL the test did not register."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock
