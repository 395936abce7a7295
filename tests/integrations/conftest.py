"""Fixtures for the CI integrations: a committed copy of keyless, caches and servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.issuer import oidc_issuer_session  # noqa: F401
from tests.support.moto import moto_sts  # noqa: F401
from tests.support.snapshot import Snapshot, make_snapshot


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """This project's current files, committed in a repository of their own."""
    return make_snapshot(tmp_path_factory.mktemp("keyless-snapshot"))


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's cache of hook environments, shared by the tests of one run."""
    return tmp_path_factory.mktemp("pre-commit-home")
