"""Command-line values that keyless bounds: --jobs."""

from __future__ import annotations

import os

import pytest

from tests.conftest import GitRepo
from tests.scan.support import run


def test_too_many_jobs(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    cpus = len(os.sched_getaffinity(0))
    result = run(capsys, "scan", "--jobs", str(4 * cpus + 1))
    assert result.code == 2
    assert f"at most {4 * cpus}" in result.err
    assert run(capsys, "scan", "--jobs", str(4 * cpus)).code == 0
