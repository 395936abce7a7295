"""A repository with planted fake secrets, scanned by the real `keyless scan`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import GitRepo
from tests.fakes import aws_key_id, aws_secret_key, github_token

HOSTILE_NAME = "a%0A::error::b.yml"


@dataclass
class PlantedRepo:
    repo: GitRepo
    secrets: list[str]
    head: str


@pytest.fixture
def planted(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> PlantedRepo:
    """A committed repo with secrets in ordinary files and in a file with a hostile name."""
    token, key_id, secret_key, other_token = (
        github_token(),
        aws_key_id(),
        aws_secret_key(),
        github_token("ghs_"),
    )
    repo.write("app.py", f'import os\n\nTOKEN = "{token}"\n')
    repo.write(
        "config/aws.ini",
        f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n",
    )
    repo.write(f"ci/{HOSTILE_NAME}", f'env:\n  TOKEN: "{other_token}"\n')
    head = repo.commit("plant fake secrets")
    monkeypatch.chdir(repo.path)
    return PlantedRepo(repo, [token, key_id, secret_key, other_token], head)
