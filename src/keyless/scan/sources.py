"""Sources of scanned text: work-tree files, a folder walk, explicit files, the index."""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from keyless import git
from keyless.logs import logger

# Directories never walked outside git: version control and tool caches.
_SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "node_modules",
}


@dataclass
class Blob:
    """One file's contents and its repository-relative, `/`-separated path."""

    path: str
    data: bytes


@dataclass
class Skipped:
    """Counts of files not scanned, by reason, with a few example paths for each."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, path: str) -> None:
        self.counts[reason] += 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < 5:
            examples.append(path)

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


@dataclass
class Selection:
    """Paths to read from disk: (absolute path, display path) pairs.

    `missing` lists the PATH arguments that do not exist; the others are still scanned.
    """

    root: Path
    files: list[tuple[Path, str]]
    missing: list[str] = field(default_factory=list)


def is_excluded(path: str, patterns: Sequence[str]) -> bool:
    """Return whether `path` matches an exclude glob; see `excluded_by`."""
    return excluded_by(path, patterns) is not None


def excluded_by(path: str, patterns: Sequence[str]) -> str | None:
    """Return the first exclude glob that matches `path`, or None.

    The rules follow .gitignore: a pattern with no `/` except a trailing one matches a
    file or folder name at any depth (`fixtures/` excludes `tests/fixtures/`); one with
    a leading or inner `/` is anchored at the root (`/tests/fixtures`); a trailing `/`
    matches folders only. Unlike .gitignore, `*` also matches `/`.
    """
    for pattern in patterns:
        if _glob_matches(path, pattern):
            return pattern
    return None


def _glob_matches(path: str, pattern: str) -> bool:
    folders_only = pattern.endswith("/")
    core = pattern.rstrip("/")
    if not core.strip("/"):
        return False
    parts = path.split("/")
    if "/" not in core:
        names = parts[:-1] if folders_only else parts
        return any(fnmatchcase(name, core) for name in names)
    core = core.lstrip("/")
    # Each parent folder, then the path itself unless only folders match.
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts))]
    if not folders_only:
        candidates.append(path)
    forms = [core, core[3:]] if core.startswith("**/") else [core]
    return any(fnmatchcase(candidate, form) for candidate in candidates for form in forms)


def select_paths(paths: Sequence[str], repo_root: Path | None) -> Selection:
    """Resolve PATH arguments into files: git's view inside a work tree, a walk outside."""
    root = repo_root or Path.cwd()
    selection = Selection(root=root, files=[])
    files = selection.files
    for raw in paths:
        given = Path(raw)
        if not given.exists() and not given.is_symlink():
            logger.error(
                "%s: no such file or directory; the other paths are scanned. "
                "Check the path (keyless scans the current folder by default).",
                raw,
            )
            selection.missing.append(raw)
            continue
        if given.is_symlink() and given.exists():
            # A link named on the command line is followed: the user asked for it.
            target = given.resolve()
            if target.is_dir():
                files.extend(_directory(target, repo_root, root))
            else:
                files.append((target, _display(given, root)))
        elif given.is_dir():
            files.extend(_directory(given, repo_root, root))
        else:
            files.append((given, _display(given, root)))
    return selection


def _directory(directory: Path, repo_root: Path | None, root: Path) -> Iterator[tuple[Path, str]]:
    """Yield the files of a named folder: git's view, or all of it when git ignores it."""
    if repo_root is None or _outside(directory, repo_root) or _ignored(directory, repo_root):
        return _walk(directory, root)
    return _git_files(repo_root, directory)


def _outside(path: Path, repo_root: Path) -> bool:
    try:
        Path(os.path.abspath(path)).relative_to(repo_root)
    except ValueError:
        return True
    return False


def _ignored(directory: Path, repo_root: Path) -> bool:
    """Return whether git ignores `directory`, which the user named to be scanned anyway."""
    if Path(os.path.abspath(directory)) == repo_root:
        return False
    # Without -q, git prints the path when it is ignored and nothing when it is not.
    out = git.run(["check-ignore", "--", os.path.abspath(directory)], repo_root, check=False)
    if out.strip():
        logger.info("%s: ignored by git, but named on the command line, so scanned", directory)
        return True
    return False


def _display(path: Path, root: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _git_files(repo_root: Path, directory: Path) -> Iterator[tuple[Path, str]]:
    out = git.run(
        [
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--deduplicate",
            "--",
            os.path.abspath(directory),
        ],
        repo_root,
    )
    for entry in out.split(b"\0"):
        if entry:
            relative = os.fsdecode(entry)
            yield repo_root / relative, relative


def _walk(directory: Path, root: Path) -> Iterator[tuple[Path, str]]:
    for current, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        # os.walk lists links to folders among the folders and does not follow them;
        # pass them on as files so they are counted as skipped links.
        linked = [d for d in dirnames if (Path(current) / d).is_symlink()]
        for name in sorted([*filenames, *linked]):
            path = Path(current) / name
            yield path, _display(path, root)


def read_files(
    selection: Selection, max_size: int, skipped: Skipped, exclude: Sequence[str]
) -> Iterator[Blob]:
    """Read each selected file, counting the ones skipped and why."""
    used: set[str] = set()
    for path, display in selection.files:
        pattern = excluded_by(display, exclude) if exclude else None
        if pattern is not None:
            used.add(pattern)
            skipped.add("excluded", display)
            continue
        blob = _read(path, display, max_size, skipped)
        if blob is not None:
            yield blob
    for pattern in exclude:
        if pattern not in used and selection.files:
            logger.warning(
                "exclude pattern %r matched none of the %d files selected; check it "
                "(patterns follow .gitignore rules, see docs/configuration.md)",
                pattern,
                len(selection.files),
            )


def _read(path: Path, display: str, max_size: int, skipped: Skipped) -> Blob | None:
    try:
        link = path.lstat()
    except FileNotFoundError:
        skipped.add("missing", display)
        return None
    except OSError as exc:
        logger.warning("%s: cannot read: %s", display, exc.strerror)
        skipped.add("unreadable", display)
        return None
    if stat.S_ISLNK(link.st_mode):
        return _read_symlink(path, display, skipped)
    if not stat.S_ISREG(link.st_mode):
        skipped.add("not-a-file", display)
        return None
    if link.st_size > max_size:
        _skip_too_large(display, link.st_size, max_size, skipped)
        return None
    try:
        return Blob(display, path.read_bytes())
    except OSError as exc:
        logger.warning("%s: cannot read: %s; check its permissions", display, exc.strerror)
        skipped.add("unreadable", display)
        return None


def _read_symlink(path: Path, display: str, skipped: Skipped) -> Blob | None:
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            logger.warning("%s: symbolic link loop; skipped. Remove or fix the link.", display)
            skipped.add("symlink-loop", display)
        else:
            logger.warning(
                "%s: broken symbolic link (its target does not exist); skipped. "
                "Remove or fix the link.",
                display,
            )
            skipped.add("broken-symlink", display)
        return None
    # The target is scanned under its own path when it is part of the scan.
    skipped.add("symlink", display)
    return None


def staged_blobs(
    repo_root: Path, max_size: int, skipped: Skipped, exclude: Sequence[str]
) -> Iterator[Blob]:
    """Yield the index's version of each file staged for commit (added, copied, modified)."""
    names = git.run(
        [
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            "--diff-filter=ACMRT",
        ],
        repo_root,
    )
    paths = [os.fsdecode(p) for p in names.split(b"\0") if p]
    if not paths:
        return
    entries = git.run(["ls-files", "-s", "-z", "--", *paths], repo_root)
    wanted: list[tuple[str, str]] = []
    for entry in entries.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        mode, oid, _stage = meta.decode().split()
        path = os.fsdecode(name)
        if exclude and is_excluded(path, exclude):
            skipped.add("excluded", path)
        elif mode == "120000":
            skipped.add("symlink", path)
        elif mode == "160000":
            skipped.add("submodule", path)
        else:
            wanted.append((oid, path))
    yield from read_objects(repo_root, wanted, max_size, skipped)


def read_objects(
    repo_root: Path, objects: list[tuple[str, str]], max_size: int, skipped: Skipped
) -> Iterator[Blob]:
    """Read blobs by object id with one `git cat-file --batch`; no filters are applied."""
    if not objects:
        return
    request = "".join(f"{oid}\n" for oid, _ in objects).encode()
    out = git.run(["cat-file", "--batch"], repo_root, input=request)
    position = 0
    for oid, path in objects:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        position = header_end + 1
        if len(header) < 3:
            skipped.add("missing", path)
            logger.warning("%s: object %s is missing from the repository", path, oid)
            continue
        size = int(header[2])
        data = out[position : position + size]
        position += size + 1
        if size > max_size:
            _skip_too_large(path, size, max_size, skipped)
            continue
        yield Blob(path, data)


def _skip_too_large(display: str, size: int, max_size: int, skipped: Skipped) -> None:
    # A warning, not a debug line: a large file can hold a secret that goes unreported.
    logger.warning(
        "%s: skipped, %s is over the %s limit; raise --max-file-size to scan it",
        display,
        format_size(size),
        format_size(max_size),
    )
    skipped.add("too-large", display)


def format_size(size: int) -> str:
    """Return a byte count for people: `512 bytes`, `1.5 KiB`, `2 MiB`."""
    if size < 1024:
        return f"{size} bytes"
    value, unit = size / 1024, "KiB"
    for larger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, larger
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
