"""Undo what the state records: one cleanup function per kind of entry.

A target that issues something new (a credentials file, a cloud session) adds a
kind, records entries of it with `State.add(kind, ...)`, and registers its cleanup
in CLEANUPS. A cleanup returns when the thing is gone, also when it was already
gone, and raises CleanupError when it could not undo it, so the entry stays for
the next `keyless revoke`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from keyless.errors import Error
from keyless.exchange import vault
from keyless.exchange.emit import FILE_KIND, GITHUB_ENV_KIND
from keyless.exchange.state import Entry, State
from keyless.logs import logger

Cleanup = Callable[[Entry], None]


class CleanupError(Error):
    """Something recorded in the state could not be undone."""


def remove_file(entry: Entry) -> None:
    """Delete a file (or a folder keyless created) that keyless wrote."""
    path = Path(entry["path"])
    try:
        if entry.get("directory"):
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CleanupError(f"{path}: cannot delete: {exc.strerror}") from exc
    logger.info("deleted %s", path)


def clear_github_env(entry: Entry) -> None:
    """Set the exported names to empty strings for the job's later steps.

    Outside a GitHub Actions step (no GITHUB_ENV) there are no later steps to clear.
    """
    path = os.environ.get("GITHUB_ENV")
    if not path:
        return
    names = [str(name) for name in entry.get("names", [])]
    try:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.writelines(f"{name}=\n" for name in names)
    except OSError as exc:
        raise CleanupError(f"{path}: cannot clear exported values: {exc.strerror}") from exc
    logger.info("GitHub: cleared %s for later steps", ", ".join(names))


CLEANUPS: dict[str, Cleanup] = {
    FILE_KIND: remove_file,
    GITHUB_ENV_KIND: clear_github_env,
    vault.TOKEN_KIND: vault.revoke_entry,
}


def undo(state: State, entry_ids: set[str] | None = None) -> list[str]:
    """Undo the entries of `state` (or those in `entry_ids`), newest first.

    Entries undone are removed from the state. Returns one message per entry that
    could not be undone; those stay recorded.
    """
    failures = []
    for entry in reversed(list(state.entries)):
        if entry_ids is not None and entry.get("id") not in entry_ids:
            continue
        kind = str(entry.get("kind"))
        cleanup = CLEANUPS.get(kind)
        if cleanup is None:
            failures.append(f"unknown kind of state entry {kind!r}; a newer keyless wrote it")
            continue
        try:
            cleanup(entry)
        except Error as exc:
            failures.append(exc.diagnostics())
            continue
        except Exception as exc:
            # A bug in one cleanup must not leave the other entries (a live token,
            # say) undone; the entry stays recorded for the next `keyless revoke`.
            logger.debug("cleanup of a %s entry failed", kind, exc_info=True)
            failures.append(f"internal error while undoing a {kind} entry: {exc!r}")
            continue
        state.remove(str(entry["id"]))
    return failures
