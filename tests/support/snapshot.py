"""A committed copy of this project, for tools that install keyless from a git repository.

`pre-commit try-repo` and a `.pre-commit-config.yaml` that points at a local path both
need a commit to check out. The work tree under test may have uncommitted changes, so
the copy contains the files git would show (tracked, plus untracked ones not ignored) in
one fresh commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Session fixtures run before the per-test environment sets an author, so the
# snapshot commit names its own.
_IDENTITY = (
    "-c",
    "user.name=keyless tests",
    "-c",
    "user.email=tests@example.invalid",
    "-c",
    "commit.gpgsign=false",
)


@dataclass(frozen=True)
class Snapshot:
    """A git repository containing the project's current files in one commit."""

    path: Path
    rev: str


def project_files(root: Path = PROJECT_ROOT) -> list[str]:
    """Return the project's files as git shows them, relative and `/`-separated."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return [os.fsdecode(name) for name in out.split(b"\0") if name]


def copy_project(destination: Path, root: Path = PROJECT_ROOT) -> None:
    """Copy the project's files (see `project_files`) into `destination`."""
    for relative in project_files(root):
        source = root / relative
        if not source.is_file():
            continue  # deleted in the work tree but still in the index
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def make_snapshot(destination: Path) -> Snapshot:
    """Copy the project into `destination` and commit it there."""
    copy_project(destination)

    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", *_IDENTITY, *args],
            cwd=destination,
            capture_output=True,
            check=True,
            text=True,
        )
        return proc.stdout.strip()

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "snapshot of the work tree under test")
    return Snapshot(path=destination, rev=git("rev-parse", "HEAD"))
