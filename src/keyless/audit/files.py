"""Read pipeline files safely: regular files only, inside the project, bounded in size.

Symbolic links and special files (FIFOs, devices) are never read, as in
`keyless scan`: a link could point outside the repository or at `/dev/zero`. A file is
read through a descriptor opened without following links, and at most `max_size`
bytes are read even when the file grows after its size was checked.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from keyless.logs import logger
from keyless.scan.text import decode


@dataclass(frozen=True)
class Unread:
    """Why a file was not read: a `Skipped` reason and a sentence for messages."""

    reason: str
    detail: str


def read_bytes(path: Path, max_size: int) -> bytes | Unread:
    """Return the contents of the regular file `path`, or why it was not read."""
    try:
        link = path.lstat()
    except FileNotFoundError:
        return Unread("missing", "not found")
    except OSError as exc:
        return Unread("unreadable", f"cannot read: {exc.strerror}")
    if stat.S_ISLNK(link.st_mode):
        return _symlink(path)
    if not stat.S_ISREG(link.st_mode):
        return Unread("not-a-file", "not a regular file")
    if link.st_size > max_size:
        return _too_large(f"{link.st_size} bytes", max_size)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Unread("symlink", "a symbolic link (replaced while reading)")
        return Unread("unreadable", f"cannot read: {exc.strerror}")
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return Unread("not-a-file", "not a regular file")
        data = handle.read(max_size + 1)
    if len(data) > max_size:
        return _too_large("more bytes than that", max_size)
    return data


def _too_large(size: str, max_size: int) -> Unread:
    return Unread("too-large", f"{size}, over the {max_size}-byte limit (--max-file-size)")


def _symlink(path: Path) -> Unread:
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Unread("symlink-loop", "a symbolic link loop")
        return Unread("broken-symlink", "a broken symbolic link")
    return Unread("symlink", "a symbolic link; audit its target under its own path")


def inside(path: Path, root: Path) -> bool:
    """Return whether `path`, with links resolved, is `root` or below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def decode_pipeline(display: str, data: bytes) -> str:
    """Decode a pipeline file as `keyless scan` decodes text: UTF-8, or UTF-16/32 with a BOM.

    A file with NUL bytes is decoded as UTF-8 too, so the YAML parser reports the
    position of the first one as invalid YAML.
    """
    decoded = decode(data)
    if decoded is None:
        return data.decode("utf-8", errors="replace")
    if decoded.lossy:
        logger.warning("%s: not valid %s; invalid bytes were replaced", display, decoded.encoding)
    return decoded.text
