"""The folders keyless writes to in a CI job, and the record of what it issued there.

Every exchange records what it created (a Vault token, leases, files written,
names exported to GITHUB_ENV) as entries in `state.json` in the state folder, under
the runner's temp folder. `keyless revoke` reads the entries and undoes each one
through the cleanup registered for its kind (see keyless.exchange.cleanup), so a
new target adds its own kind and cleanup without touching the others.

The state file may contain a token that can revoke itself, so the folder is 0700,
the file 0600, and neither is ever placed inside the job's workspace.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from keyless.errors import Error

STATE_VERSION = 1
STATE_FILE = "state.json"
_LOCK_FILE = "state.lock"

# A state entry: {"id": str, "kind": str, "created": float, ...fields of the kind}.
Entry = dict[str, Any]


class StateError(Error):
    """The state folder or file is unusable (wrong place, permissions, corrupt)."""


def workspace_roots() -> list[Path]:
    """Return the job's checked-out workspace folders, where no secret may be written."""
    roots = []
    for name in ("GITHUB_WORKSPACE", "CI_PROJECT_DIR"):
        value = os.environ.get(name)
        if value:
            roots.append(Path(value).resolve())
    return roots


def ensure_outside_workspace(path: Path, description: str) -> None:
    """Raise StateError when `path` is inside the job's workspace.

    `description` names what would be written there, for the message.
    """
    resolved = path.resolve()
    for root in workspace_roots():
        if resolved == root or resolved.is_relative_to(root):
            raise StateError(
                f"{path}: {description} must not be written inside the job's workspace ({root}), "
                "where later steps, caches and artifacts could pick it up",
                hint="use a folder under the runner's temp folder (RUNNER_TEMP on GitHub), "
                "or leave the option unset for the default",
            )


def runner_temp() -> Path:
    """Return the runner's per-job temp folder, or a private per-user folder outside CI.

    GitHub: RUNNER_TEMP, emptied by the runner at the end of each job. GitLab: the
    `<project dir>.tmp` folder the runner creates beside the checkout for file
    variables, else a job-specific folder under CI_BUILDS_DIR. Elsewhere:
    `<system temp>/keyless-<uid>`, created 0700 and checked to be ours.
    """
    runner = os.environ.get("RUNNER_TEMP")
    if runner:
        return Path(runner)
    project_dir = os.environ.get("CI_PROJECT_DIR")
    if os.environ.get("GITLAB_CI") == "true" and project_dir:
        beside = Path(project_dir + ".tmp")
        if beside.is_dir():
            return beside
        builds = os.environ.get("CI_BUILDS_DIR")
        if builds:
            job = os.environ.get("CI_JOB_ID", "job")
            return _private_dir(Path(builds) / f".keyless-{job}")
    return _private_dir(Path(tempfile.gettempdir()) / f"keyless-{os.getuid()}")


def _private_dir(path: Path) -> Path:
    """Create `path` as 0700 if needed and check that only this user can use it.

    An existing folder is never chmod-ed, since keyless may not have created it
    (`--state-dir /tmp` must not take the sticky bit off /tmp): one that other
    users can read, write or enter is rejected instead.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise StateError(f"{path}: cannot create the private folder: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise StateError(
            f"{path}: is not a folder owned by this user",
            hint="remove it, or pass --state-dir with a private folder",
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise StateError(
            f"{path}: other users can use this folder (mode {mode:04o}), so it cannot hold "
            "the keyless state",
            hint="pass --state-dir with a path that does not exist yet (keyless creates it "
            "0700) or with a folder only you can use (chmod 700)",
        )
    return path


def state_dir(explicit: str | None = None) -> Path:
    """Return the state folder (created 0700): `explicit`, or `<runner temp>/keyless`."""
    path = Path(explicit) if explicit else runner_temp() / "keyless"
    ensure_outside_workspace(path, "the keyless state folder")
    return _private_dir(path)


def private_subdir(parent: Path, prefix: str) -> Path:
    """Create a new 0700 folder with a random name under `parent`."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def write_private(path: Path, data: str) -> None:
    """Write `data` to `path` with mode 0600, replacing it atomically if it exists.

    The content goes to a new file created 0600 with O_EXCL beside the target, then
    renamed over it, so no other user ever sees a readable file.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(temporary, flags, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(data)
        temporary.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StateError(f"{path}: cannot write: {exc.strerror}") from exc


class State:
    """The entries of a state folder, loaded and saved under an exclusive lock.

    Use `with State.open(directory) as state:`. Changes are saved when the block
    exits, also when it raises, so what was issued before a failure stays recorded.
    The lock lets two keyless processes of one job (say, `keyless vault` and
    `keyless aws`) record into the same file.
    """

    def __init__(self, directory: Path, entries: list[Entry]) -> None:
        self.directory = directory
        self.entries = entries

    @property
    def path(self) -> Path:
        return self.directory / STATE_FILE

    @classmethod
    @contextlib.contextmanager
    def open(cls, directory: Path) -> Iterator[State]:
        lock_path = directory / _LOCK_FILE
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            state = cls(directory, _load(directory / STATE_FILE))
            try:
                yield state
            finally:
                state._save()
        finally:
            os.close(descriptor)

    def add(self, kind: str, **fields: Any) -> Entry:
        """Record something issued; return the entry (its "id" names it later)."""
        entry: Entry = {"id": uuid.uuid4().hex, "kind": kind, "created": time.time(), **fields}
        self.entries.append(entry)
        return entry

    def remove(self, entry_id: str) -> None:
        self.entries = [entry for entry in self.entries if entry.get("id") != entry_id]

    def _save(self) -> None:
        if not self.entries:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        body = {"version": STATE_VERSION, "entries": self.entries}
        write_private(self.path, json.dumps(body, indent=2) + "\n")


def _load(path: Path) -> list[Entry]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateError(f"{path}: cannot read the state file: {exc.strerror}") from exc
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise StateError(
            f"{path}: the state file is not valid JSON",
            hint="delete it; anything it recorded must then be revoked by hand",
        ) from exc
    if not isinstance(body, dict) or body.get("version") != STATE_VERSION:
        raise StateError(
            f"{path}: unsupported state file (expected version {STATE_VERSION})",
            hint="revoke with the keyless version that wrote it, or delete the file",
        )
    entries = body.get("entries", [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise StateError(f"{path}: the state file's entries are not a list of objects")
    return entries
