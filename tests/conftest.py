"""Fixtures shared by all tests: a clean CI-free environment and git repositories."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# Variables that would make keyless think it runs in CI, or change its defaults.
_AMBIENT_PREFIXES = (
    "GITHUB_",
    "ACTIONS_",
    "RUNNER_",
    "GITLAB_",
    "CI_",
    "KEYLESS_",
    "VAULT_",
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "CLOUDSDK_",
    "CIRCLE",
    "BUILDKITE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove CI and cloud variables so no test sees a real runner's token or settings."""
    for name in list(os.environ):
        if name.startswith(_AMBIENT_PREFIXES) or name in ("CI", "GIT_DIR", "GIT_WORK_TREE"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.invalid")
    yield


class GitRepo:
    """A real git repository in a temporary folder, driven through the git CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, input: bytes | None = None) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.path, input=input, capture_output=True, check=True
        )
        return proc.stdout.decode()

    def write(self, relative: str, content: str | bytes) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
        return target

    def commit(self, message: str = "change", *, all_files: bool = True) -> str:
        if all_files:
            self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """An empty git repository with a `main` branch."""
    return GitRepo(tmp_path / "repo")
