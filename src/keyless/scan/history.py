"""Scan git history: every line added by every selected commit, one finding per secret.

Commits are listed with `git rev-list` and cut into chunks. Each worker streams the
chunks it claims through its own `git diff-tree --stdin -p -U0` process, so git's
work spreads over the machine's cores while keyless scans the streams. The options
given to git make the stream complete whatever the repository's own settings are:

- `--no-renames`: a renamed or copied file shows its whole content as added, so the
  secret is seen under its new path too. With rename detection, which a repository
  can turn on with `diff.renames`, the new path would show no content;
- `--cc`: merge commits show the lines that are in none of their parents, which is
  where a conflict resolution can introduce a secret;
- `--root`: root commits, and the first commit of a shallow clone, show every file;
- `--diff-filter=d`: deleted files are left out, as they add nothing;
- `core.bigFileThreshold`: blobs over the size limit show as binary, so git does not
  diff them in the stream. A new one is counted as oversize. A changed one is diffed
  on its own afterwards, and its added lines are scanned when within the limit.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from keyless import git
from keyless.background import Background
from keyless.errors import UsageError
from keyless.findings import Commit, Finding, History
from keyless.logs import logger
from keyless.scan import patches
from keyless.scan.git_stream import Cancel, GitStream, Take
from keyless.scan.history_workers import ChunkQueue, reregister, run_workers
from keyless.scan.patches import (
    CommitHeader,
    PatchScanner,
    Removal,
    Sighting,
    StreamResult,
)
from keyless.scan.sources import Skipped
from keyless.scan.text import decode

if TYPE_CHECKING:
    from keyless.scan.engine import Engine

# Below this many commits one git process is faster than starting several.
_MIN_COMMITS_PER_PROCESS = 1000
# The first worker's git starts on 1/(this x workers) of the commits before the scan.
_PREFILL_SHARE = 4
# Patch output as PatchScanner parses it, whatever the repository's configuration: no
# external diff, textconv or color, a/ and b/ prefixes, and a header for each commit of
# NUL, SHA, committer time and parents.
_PATCH_OUTPUT = (
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--src-prefix=a/",
    "--dst-prefix=b/",
    "--format=%x00%H %ct %P",
)
_MAX_PROCESSES = 4
_SECONDS_PER_DAY = 86400.0
_HEX = "0123456789abcdef"
# Bytes of blob content read per `git cat-file --batch` call for binary sections.
_BLOB_BATCH_BYTES = 32 << 20

# The result of scanning one range of commits: the stream's results and skip counts.
RangeResult = tuple[StreamResult, Skipped]


@dataclass(frozen=True)
class Selection:
    """The commits to scan, as `git log` revision arguments, and the tip they end at."""

    revisions: tuple[str, ...]
    tip: str | None
    description: str


@dataclass(frozen=True)
class ShallowClone:
    """A shallow clone's cut: commits whose parents were not fetched."""

    boundary: int
    missing_parents: int
    # Parents present in the object store but cut off by the `shallow` file and not
    # reached through another ref: a stale or planted file hides them.
    hidden_parents: int = 0
    shallow_file: str = ""


@dataclass
class HistoryOutcome:
    """One finding per unique secret, with what was scanned and skipped."""

    findings: list[Finding] = field(default_factory=list)
    commits: int = 0
    suppressed: int = 0
    notes: list[str] = field(default_factory=list)


def resolve_commit(root: Path, revision: str, option: str) -> str:
    """Return the SHA of the commit `revision` names, or raise a UsageError naming the option.

    The revision is resolved first and peeled to a commit after, so revisions that
    take the rest of the text as a pattern, such as `:/fix typo`, work too.
    """
    out = git.run(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", revision], root, check=False
    )
    name = out.decode().strip()
    if not name:
        if git.head_commit(root) is None and not git.run(["for-each-ref", "--count=1"], root):
            raise UsageError(
                f"{option} {revision}: the repository has no commits yet",
                hint="commit something first, or scan the files with `keyless scan`",
            )
        raise UsageError(
            f"{option} {revision}: no such commit in this repository",
            hint="check the name; in a shallow CI clone the commit may not have been "
            "fetched, so fetch the full history (actions/checkout `fetch-depth: 0`, "
            "GitLab `GIT_DEPTH: 0`, or `git fetch --unshallow`)",
        )
    peeled = git.run(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], root, check=False)
    sha = peeled.decode().strip()
    if not sha:
        kind = git.run(["cat-file", "-t", name], root, check=False).decode().strip()
        raise UsageError(
            f"{option} {revision}: names a {kind or 'non-commit object'} ({name}), not a commit",
            hint="history scans start from commits: give a branch, a tag of a commit, or a "
            "commit SHA",
        )
    return sha


def select(
    root: Path,
    *,
    branch: str | None = None,
    since: str | None = None,
    commit_range: str | None = None,
) -> Selection:
    """Turn --branch, --since and --range into revision arguments and a tip."""
    if commit_range is not None:
        if branch is not None or since is not None:
            raise UsageError("--range cannot be combined with --branch or --since")
        return _select_range(root, commit_range)
    revisions: list[str]
    if branch is not None:
        tip: str | None = resolve_commit(root, branch, "--branch")
        revisions = [tip] if tip else []
        description = f"commits reachable from {branch}"
    else:
        tip = git.head_commit(root)
        revisions = ["--all"]
        description = "commits reachable from any ref"
    if since is not None:
        revisions.append("^" + resolve_commit(root, since, "--since"))
        description += f" after {since}"
    return Selection(tuple(revisions), tip, description)


def _select_range(root: Path, commit_range: str) -> Selection:
    start, separator, end = commit_range.partition("..")
    if not separator or end.startswith(".") or not end:
        raise UsageError(
            f"--range {commit_range}: expected A..B, such as main..HEAD or the pushed range "
            "BEFORE..AFTER"
        )
    if not start:
        raise UsageError(
            f"--range {commit_range}: the start of the range is empty",
            hint="give both ends, such as main..HEAD; to scan everything reachable from "
            f"{end}, use --branch {end}",
        )
    tip = resolve_commit(root, end, "--range")
    if _is_null(start):
        # A push that creates a branch reports zeros as its "before" commit: forty of
        # them, or sixty-four in a SHA-256 repository.
        return Selection((tip,), tip, f"commits reachable from {end}")
    base = resolve_commit(root, start, "--range")
    return Selection((tip, "^" + base), tip, f"commits in {commit_range}")


def _is_null(revision: str) -> bool:
    return len(revision) in (40, 64) and not revision.strip("0")


def list_commits(root: Path, selection: Selection) -> list[str]:
    """Return the SHA of each selected commit, children before parents."""
    out = git.run(["rev-list", "--topo-order", *selection.revisions, "--"], root)
    return out.decode("ascii").split()


def shallow_clone(root: Path, shas: set[str]) -> ShallowClone | None:
    """Return the shallow cut among the selected commits, or None in a full clone."""
    flag = git.run(["rev-parse", "--is-shallow-repository"], root).decode().strip()
    if flag != "true":
        return None
    shallow_file = git.run(["rev-parse", "--git-path", "shallow"], root).decode().strip()
    path = Path(shallow_file)
    if not path.is_absolute():
        path = root / path
    try:
        boundary = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        boundary = []
    inside = [sha for sha in boundary if sha in shas]
    missing = hidden = 0
    if inside:
        # The commit objects still name their parents; git hides them in a shallow clone.
        parents: set[str] = set()
        for _, data in _read_blobs(root, inside, {sha: 0 for sha in inside}):
            # Only the header, which ends at the first blank line, names parents.
            header = data.split(b"\n\n", 1)[0]
            parents |= {
                line[7:].decode("ascii")
                for line in header.split(b"\n")
                if line.startswith(b"parent ")
            }
        # A parent can be present all the same, fetched through another ref.
        check = "".join(f"{sha}\n" for sha in sorted(parents)).encode()
        found = git.run(["cat-file", "--batch-check=%(objectname)"], root, input=check)
        missing_shas = {
            line.split()[0]
            for line in found.decode("ascii").splitlines()
            if line.endswith(" missing")
        }
        missing = len(missing_shas)
        hidden = len(parents - missing_shas - shas)
    return ShallowClone(
        boundary=len(inside), missing_parents=missing, hidden_parents=hidden, shallow_file=str(path)
    )


def shallow_note(cut: ShallowClone) -> str:
    """Return the warning for a shallow clone: what was not scanned and how to fetch it."""
    return (
        f"shallow clone: history stops at {cut.boundary} commit(s) whose "
        f"{cut.missing_parents} parent commit(s), and every commit before those, were not "
        "fetched and not scanned (their number is unknown until they are fetched). Fetch "
        "the full history and scan again: actions/checkout `fetch-depth: 0`, GitLab CI "
        "`GIT_DEPTH: 0`, or `git fetch --unshallow`"
        + (
            f". {cut.hidden_parents} other parent commit(s) are in the repository but hidden "
            f"by its shallow file {cut.shallow_file}, so they and their history were not "
            "scanned either; a full clone has no such file, so check who wrote it"
            if cut.hidden_parents
            else ""
        )
    )


class Launch:
    """The selected commits queued for the workers, and the first worker's git.

    `launch` starts that git and gives it its first commits at once, so git works on
    them while keyless loads its detectors. `close` stops it when the scan never
    reads it.
    """

    def __init__(self, root: Path, commits: list[str], *, max_size: int, workers: int) -> None:
        if not hasattr(os, "fork"):
            workers = 1
        self.commits = commits
        self.workers = workers
        self.queue = ChunkQueue(commits, workers)
        self.first: GitStream | None = None
        if commits:
            try:
                self.first = GitStream(root, diff_tree_args(max_size), stdin=True)
                self.first.prefill(self.queue.taker(0), len(commits) // (_PREFILL_SHARE * workers))
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        if self.first is not None:
            self.first.close()
        self.queue.close()


def launch(root: Path, commits: list[str], *, max_size: int, workers: int) -> Launch:
    """Queue `commits` for `workers` workers and start the first one's git on them."""
    return Launch(root, commits, max_size=max_size, workers=workers)


def scan_history(
    root: Path,
    engine: Engine,
    selection: Selection,
    skipped: Skipped,
    *,
    max_size: int,
    exclude: list[str],
    progress: Callable[[int], None] | None = None,
    processes: int | None = None,
    commits: list[str] | None = None,
    launched: Launch | None = None,
) -> HistoryOutcome:
    """Scan the selected commits and return one finding per unique secret.

    `commits` is the output of `list_commits` for `selection`, when the caller has it.
    `launched` is the `launch` of those commits, when the caller started git early;
    its size limit must be `max_size`. The scan closes it (closing it again is harmless).
    """
    started = datetime.now(timezone.utc)
    if launched is not None:
        commits = launched.commits
    elif commits is None:
        commits = list_commits(root, selection)
    outcome = HistoryOutcome(commits=len(commits))
    if not commits:
        if launched is not None:
            launched.close()
        return outcome
    if launched is None:
        workers = processes if processes is not None else default_processes(len(commits))
        launched = launch(root, commits, max_size=max_size, workers=workers)
    with contextlib.closing(launched):
        results = _scan_launched(root, engine, launched, progress, max_size, exclude)
    for result, _ in results:
        for sighting in result.sightings:
            sighting.finding.secret = reregister(sighting.finding.secret)

    sightings: list[Sighting] = []
    binary_blobs: list[tuple[str, str, CommitHeader, str | None]] = []
    submodules: set[str] = set()
    for result, stream_skipped in results:
        sightings.extend(result.sightings)
        binary_blobs.extend(result.binary_blobs)
        submodules |= result.submodules
        outcome.suppressed += result.suppressed
        for reason, number in stream_skipped.counts.items():
            skipped.counts[reason] += number
            skipped.examples.setdefault(reason, []).extend(stream_skipped.examples[reason][:5])
    sightings.extend(_scan_binary_sections(root, engine, binary_blobs, max_size, skipped))
    if submodules:
        outcome.notes.append(
            f"{len(submodules)} submodule(s) not followed: "
            + ", ".join(sorted(submodules)[:5])
            + ("" if len(submodules) <= 5 else ", ...")
            + "; scan each submodule's repository on its own"
        )
    order = {sha: index for index, sha in enumerate(commits)}
    outcome.findings = _aggregate(
        root, engine, sightings, selection, order, started, max_size, launched.workers
    )
    _label_local_refs(root, selection, sightings, outcome)
    return outcome


# Refs that `--all` reaches but that are not ordinary history: (ref patterns, how a
# finding found only there is labelled, the note about them).
_SPECIAL_REFS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("refs/notes/",),
        "in git notes; the path is the SHA of the commit the note annotates",
        "only in git notes (refs/notes/): their path is the SHA of the annotated commit; "
        "notes are pushed and fetched only with an explicit refs/notes refspec",
    ),
    (
        ("refs/stash",),
        "only in a stash, which stays in this clone",
        "only in stashes (refs/stash), which are never pushed: they are readable in this "
        "clone and its copies or backups, not in every clone",
    ),
)


def _label_local_refs(
    root: Path, selection: Selection, sightings: list[Sighting], outcome: HistoryOutcome
) -> None:
    """Label findings seen only in commits of notes or stash refs, and add a note."""
    if "--all" not in selection.revisions or not outcome.findings:
        return
    patterns = [pattern for refs, _, _ in _SPECIAL_REFS for pattern in refs]
    present = git.run(["for-each-ref", "--format=%(refname)", *patterns], root).split()
    if not present:
        return
    excluded = [f"--exclude={p}*" if p.endswith("/") else f"--exclude={p}" for p in patterns]
    others = [r for r in selection.revisions if r != "--all"]
    ordinary = set(git.run(["rev-list", *excluded, "--all", *others, "--"], root).split())
    seen: dict[tuple[str, str], set[str]] = {}
    for sighting in sightings:
        key = (sighting.finding.rule_id, sighting.finding.key)
        seen.setdefault(key, set()).add(sighting.commit.sha)
    for refs, label, note in _SPECIAL_REFS:
        globs = [f"--glob={p}*" if p.endswith("/") else p for p in refs]
        if not any(ref.decode().startswith(refs) for ref in present):
            continue
        special = set(git.run(["rev-list", *globs, *others, "--"], root).split()) - ordinary
        labelled = 0
        for finding in outcome.findings:
            commits = {sha.encode() for sha in seen.get((finding.rule_id, finding.key), set())}
            if commits and commits <= special:
                finding.message = f"{finding.message or finding.title} ({label})"
                if refs == ("refs/notes/",):
                    _name_annotated_commits(finding)
                labelled += 1
        if labelled:
            outcome.notes.append(f"{labelled} secret(s) found {note}")


def _name_annotated_commits(finding: Finding) -> None:
    """Give a finding in git notes the annotated commit's SHA as its path.

    A notes tree with many notes stores each under a fan-out path such as `ab/cdef...`.
    """

    def commit_of(path: str) -> str:
        joined = path.replace("/", "")
        return joined if len(joined) in (40, 64) and not joined.strip(_HEX) else path

    finding.location = replace(finding.location, path=commit_of(finding.location.path))
    if finding.history is not None:
        finding.history.paths = sorted({commit_of(path) for path in finding.history.paths})


def default_processes(commits: int, limit: int | None = None) -> int:
    """Return how many workers to scan with: one per CPU, capped by `limit`.

    Each worker gets at least _MIN_COMMITS_PER_PROCESS commits, and there are at most
    _MAX_PROCESSES of them.
    """
    # NOTE: each worker costs a git process and a forked keyless process, so the
    # process tree's peak memory grows with the workers.
    processes = min(os.cpu_count() or 1, _MAX_PROCESSES, limit or _MAX_PROCESSES)
    return max(1, min(processes, commits // _MIN_COMMITS_PER_PROCESS))


def diff_tree_args(max_size: int) -> list[str]:
    """Return the `git diff-tree` arguments that stream the added lines of stdin's commits."""
    return [
        "-c",
        f"core.bigFileThreshold={max_size}",
        # Memory: git's default 96 MiB cache of delta bases made each diff-tree process
        # peak at 186 MB on pytest's history. A 24 MiB cache, with at most 32 MiB of the
        # pack mapped at a time (the default maps all of it), gave 66 MB on half of its
        # commits, for CPU time within noise (see docs/benchmarks.md).
        "-c",
        "core.deltaBaseCacheLimit=24m",
        "-c",
        "core.packedGitLimit=32m",
        "-c",
        "core.packedGitWindowSize=4m",
        "diff-tree",
        "--stdin",
        # Print every commit's header, even with no diff, so progress counts them all.
        "--always",
        "-p",
        "-U0",
        "--no-renames",
        "--cc",
        "--root",
        # Deleted files only have removed lines, which this pass does not scan.
        "--diff-filter=d",
        "--full-index",
        *_PATCH_OUTPUT,
    ]


def _scan_binary_sections(
    root: Path,
    engine: Engine,
    sections: list[tuple[str, str, CommitHeader, str | None]],
    max_size: int,
    skipped: Skipped,
) -> list[Sighting]:
    """Count the sections git showed as binary, and scan those that hold text after all.

    git shows a file as binary when it has a NUL byte, when it is over
    core.bigFileThreshold (set to the size limit), or when a `.gitattributes` file
    marks it `-diff` or `binary`. A repository could hide text from the diff that
    way, so every blob within the size limit is read, decoded and scanned whole. A
    changed blob over the limit is diffed against its first parent's version, and
    the lines added to it are scanned when they are within the limit, so secrets
    appended to a large text file are not lost.
    """
    if not sections:
        return []
    by_blob: dict[str, list[tuple[str, CommitHeader]]] = {}
    oversize_changes: list[tuple[str, str, str, CommitHeader]] = []
    for blob, path, commit, _ in sections:
        by_blob.setdefault(blob, []).append((path, commit))
    sizes = _blob_sizes(root, list(by_blob))
    readable = []
    for blob, uses in by_blob.items():
        size = sizes.get(blob)
        if size is None:
            for path, _ in uses:
                skipped.add("missing", path)
        elif size <= max_size:
            readable.append(blob)
    for blob, path, commit, before in sections:
        size = sizes.get(blob)
        if size is None or size <= max_size:
            continue
        if before is None:
            skipped.add("too-large", path)
        else:
            oversize_changes.append((before, blob, path, commit))
    sightings = []
    for blob, data in _read_blobs(root, readable, sizes):
        decoded = decode(data)
        for path, commit in by_blob[blob]:
            if decoded is None:
                skipped.add("binary", path)
                continue
            sightings.extend(
                patches.sightings(commit, decoded.text, engine.scan(path, decoded.text).findings)
            )
    for before, blob, path, commit in oversize_changes:
        sightings.extend(
            _scan_oversize_change(root, engine, before, blob, path, commit, max_size, skipped)
        )
    return sightings


def _scan_oversize_change(
    root: Path,
    engine: Engine,
    before: str,
    after: str,
    path: str,
    commit: CommitHeader,
    max_size: int,
    skipped: Skipped,
) -> list[Sighting]:
    """Scan the lines a commit added to a blob over the size limit."""
    out = git.run(
        [
            # Any size: git diffs the two blobs, and only the added lines are kept.
            "-c",
            "core.bigFileThreshold=64g",
            "diff",
            "-U0",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
            before,
            after,
        ],
        root,
    )
    header_end = out.find(b"\n@@")
    if header_end < 0:
        skipped.add("binary" if b"Binary files " in out else "too-large", path)
        return []
    scanner = PatchScanner(engine, skipped, max_size=max_size, exclude=[])
    scanner.scan_added(path, out[header_end + 1 :], commit)
    return scanner.result.sightings


def _blob_sizes(root: Path, blobs: list[str]) -> dict[str, int]:
    request = "".join(f"{blob}\n" for blob in blobs).encode()
    out = git.run(["cat-file", "--batch-check=%(objectname) %(objectsize)"], root, input=request)
    sizes = {}
    for line in out.decode().splitlines():
        name, _, size = line.partition(" ")
        if size.isdigit():
            sizes[name] = int(size)
    return sizes


def _read_blobs(root: Path, blobs: list[str], sizes: dict[str, int]) -> Iterator[tuple[str, bytes]]:
    """Yield (blob id, content), reading at most about _BLOB_BATCH_BYTES per git call."""
    batch: list[str] = []
    total = 0
    for blob in [*blobs, None]:
        if blob is not None:
            batch.append(blob)
            total += sizes[blob]
            if total < _BLOB_BATCH_BYTES:
                continue
        if not batch:
            break
        request = "".join(f"{name}\n" for name in batch).encode()
        out = git.run(["cat-file", "--batch"], root, input=request)
        position = 0
        for name in batch:
            header_end = out.index(b"\n", position)
            size = int(out[position:header_end].split()[2])
            position = header_end + 1
            yield name, out[position : position + size]
            position += size + 1
        batch, total = [], 0


def _scan_launched(
    root: Path,
    engine: Engine,
    launched: Launch,
    progress: Callable[[int], None] | None,
    max_size: int,
    exclude: list[str],
) -> list[RangeResult]:
    """Run the workers over the launched commits, the first one on the git started early."""
    first, owner = launched.first, os.getpid()

    def scan_stream(take: Take, on_commits: Callable[[int], None]) -> RangeResult:
        stream_skipped = Skipped()
        scanner = PatchScanner(
            engine, stream_skipped, max_size=max_size, exclude=exclude, on_commits=on_commits
        )
        stream = first
        if stream is None or os.getpid() != owner:
            # A forked worker starts a git of its own: the first one is its parent's.
            if stream is not None:
                stream.release()
            stream = GitStream(root, diff_tree_args(max_size), stdin=True)
        stream.scan(scanner, take)
        return scanner.result, stream_skipped

    if launched.workers > 1:
        # Loaded once here, the plugins are shared with the forked workers.
        engine.load()
    return run_workers(launched.queue, launched.workers, scan_stream, progress or (lambda _: None))


@dataclass
class _Secret:
    """Every sighting and removal of one secret (one rule, one value)."""

    sightings: list[Sighting]
    removals: list[Removal]


def _aggregate(
    root: Path,
    engine: Engine,
    sightings: list[Sighting],
    selection: Selection,
    order: dict[str, int],
    started: datetime,
    max_size: int,
    processes: int,
) -> list[Finding]:
    secrets: dict[tuple[str, str], _Secret] = {}
    for sighting in sightings:
        key = (sighting.finding.rule_id, sighting.finding.key)
        entry = secrets.setdefault(key, _Secret([], []))
        entry.sightings.append(sighting)
    if not secrets:
        return []
    tip = selection.tip
    # The removal walk, the tip check and the commit details are each a git process:
    # they run side by side. The walk looks for every secret's removal at first, and
    # stops early when the tip check finds all of them still present.
    stop_walk = Cancel()
    walk = Background(
        lambda: _removals(
            root,
            engine,
            selection,
            secrets,
            max_size,
            commits=_removal_candidates(order, secrets, selection),
            processes=processes,
            cancel=stop_walk,
        )
    )
    sighting_shas = sorted({s.commit.sha for e in secrets.values() for s in e.sightings})
    details = Background(lambda: _commit_details(root, sighting_shas))
    try:
        at_tip = _present_at_tip(root, secrets, tip)
        if len(at_tip) == len(secrets):
            stop_walk.cancel()
        removals = walk.result()
        commits = details.result()
    finally:
        stop_walk.cancel()
        walk.wait()
        details.wait()
    last_shas: dict[tuple[str, str], str] = {}
    for key, entry in secrets.items():
        if key not in at_tip:
            entry.removals = removals.get(key, [])
        last_shas[key] = _last_seen(entry, key in at_tip, tip, order)
    commits.update(_commit_details(root, sorted(set(last_shas.values()) - set(commits))))
    findings = []
    for key, entry in secrets.items():
        first = _first_sighting(root, entry.sightings, order)
        first_commit = commits[first.commit.sha]
        last_commit = commits.get(last_shas[key], first_commit)
        paths = sorted({s.finding.path for s in entry.sightings})
        exposure = (started.timestamp() - first.commit.time) / _SECONDS_PER_DAY
        finding = first.finding
        finding.commit = Commit(first_commit.sha, first_commit.date)
        finding.history = History(
            first_seen=first_commit,
            last_seen=last_commit,
            paths=paths,
            present_at_tip=key in at_tip,
            exposure_days=round(max(exposure, 0.0), 1),
        )
        findings.append(finding)
    findings.sort(key=lambda f: -(f.history.exposure_days if f.history else 0.0))
    return findings


def _removal_candidates(
    order: dict[str, int], secrets: dict[tuple[str, str], _Secret], selection: Selection
) -> list[str]:
    """Return the selected commits that can have removed a secret, children first.

    A commit can only remove a secret that one of its ancestors contains. When the
    selection contains every ancestor of its commits (no `^` exclusions), that ancestor
    is a commit with a sighting. `order` numbers commits children first, so every
    descendant of a commit comes before it, and the commits before the oldest
    sighting are enough.
    """
    commits = list(order)
    if any(revision.startswith("^") for revision in selection.revisions):
        return commits
    oldest = max(order.get(s.commit.sha, len(order)) for e in secrets.values() for s in e.sightings)
    return commits[:oldest]


# Above this many commits adding one secret, one `git rev-list` over their ancestry
# replaces asking git about each pair.
_MAX_ANCESTRY_CHECKS = 8


def _first_sighting(root: Path, sightings: list[Sighting], order: dict[str, int]) -> Sighting:
    """Return the sighting in the earliest commit: one with no other sighting before it.

    `order` numbers commits children first, so an ancestor always has a larger number
    than its descendants. Among commits that are not ancestors of one another, the
    earliest committer date wins: dates can be skewed, ancestry cannot.
    """
    by_commit: dict[str, Sighting] = {}
    for sighting in sorted(sightings, key=lambda s: (s.finding.path, s.finding.location.line)):
        by_commit.setdefault(sighting.commit.sha, sighting)
    candidates = sorted(
        by_commit.values(), key=lambda s: (s.commit.time, -order.get(s.commit.sha, 0))
    )
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > _MAX_ANCESTRY_CHECKS:
        earliest = _without_candidate_ancestors(root, {c.commit.sha for c in candidates})
        return next(c for c in candidates if c.commit.sha in earliest)
    for candidate in candidates:
        position = order.get(candidate.commit.sha, 0)
        # Only a commit numbered after this one can be its ancestor.
        older = [c for c in candidates if order.get(c.commit.sha, 0) > position]
        if not any(_is_ancestor(root, c.commit.sha, candidate.commit.sha) for c in older):
            return candidate
    return candidates[0]


def _without_candidate_ancestors(root: Path, shas: set[str]) -> set[str]:
    """Return the commits of `shas` that have no other commit of `shas` as an ancestor.

    One `git rev-list --parents` lists the ancestry of all of them, parents first.
    """
    out = git.run(["rev-list", "--topo-order", "--reverse", "--parents", *sorted(shas), "--"], root)
    below: dict[str, bool] = {}
    for line in out.decode("ascii").splitlines():
        sha, *parents = line.split()
        below[sha] = any(parent in shas or below.get(parent, False) for parent in parents)
    return {sha for sha in shas if not below.get(sha, False)}


def _is_ancestor(root: Path, ancestor: str, commit: str) -> bool:
    args = ["merge-base", "--is-ancestor", ancestor, commit]
    proc = subprocess.run(
        git.command(args), cwd=root, capture_output=True, env=git.git_env(), check=False
    )
    return proc.returncode == 0


def _last_seen(entry: _Secret, present: bool, tip: str | None, order: dict[str, int]) -> str:
    """Return the SHA of the last commit known to contain the secret.

    That is the tip when the secret is still there. Otherwise it is the parent of
    the newest commit that removed it. A secret never removed in the scanned commits
    (for example one on a branch other than the tip's) gets the newest commit that
    added it. "Newest" goes by committer date, and between commits of the same
    second by topological order, which puts a commit after its ancestors.
    """
    if present and tip is not None:
        return tip

    def age(commit: CommitHeader) -> tuple[int, int]:
        # `order` numbers commits children first: a smaller number is newer.
        return commit.time, -order.get(commit.sha, len(order))

    newest_add = max((s.commit for s in entry.sightings), key=age)
    removals = [r.commit for r in entry.removals if r.commit.parents]
    if removals:
        newest = max(removals, key=age)
        if age(newest) > age(newest_add):
            return newest.parents[0]
    return newest_add.sha


def _removals(
    root: Path,
    engine: Engine,
    selection: Selection,
    secrets: dict[tuple[str, str], _Secret],
    max_size: int,
    *,
    commits: list[str],
    processes: int = 1,
    cancel: Cancel | None = None,
) -> dict[tuple[str, str], list[Removal]]:
    """Find the commits whose removed lines at a path contain a secret seen at that path.

    This second pass diffs every selected commit again, limited to the paths the
    secrets were seen at, in `processes` git processes that each take a run of
    consecutive commits. Only the commits that change or delete one of those paths
    produce output (a merge is diffed against its first parent), and their removed
    lines are searched for the secrets' text, without running the detectors again.
    """
    by_path: dict[str, list[tuple[Sighting, tuple[str, str]]]] = {}
    for key, entry in secrets.items():
        for sighting in entry.sightings:
            by_path.setdefault(sighting.finding.path, []).append((sighting, key))
    logger.info(
        "history: finding when %d secret(s) were removed, in the history of %d path(s)",
        len(secrets),
        len(by_path),
    )
    if not commits:
        return {}
    started = time.monotonic()
    paths = [f":(literal){path}" for path in sorted(by_path)]
    if git.version() >= (2, 31):
        size = -(-len(commits) // max(processes, 1))
        parts: list[list[str] | None] = [
            commits[i : i + size] for i in range(0, len(commits), size)
        ]
        args = ["diff-tree", "--stdin", *_REMOVAL_DIFF, "--diff-merges=first-parent"]
    else:
        # git before 2.31 cannot diff a merge against its first parent alone, so
        # merges are left out there, and one `git log` walks the selection.
        parts = [None]
        args = ["log", *_REMOVAL_DIFF, "--no-merges", *selection.revisions]
    args += ["--", *paths]

    stop = cancel or Cancel()

    def scan_part(part: list[str] | None) -> StreamResult:
        scanner = PatchScanner(
            engine, Skipped(), max_size=max_size, exclude=[], removed_secrets=by_path
        )
        stream = GitStream(root, args, stdin=part is not None, cancel=stop)
        stream.scan(scanner, None if part is None else _take_once(part))
        return scanner.result

    others = [Background(functools.partial(scan_part, part)) for part in parts[1:]]
    try:
        results = [scan_part(parts[0]), *(other.result() for other in others)]
    except BaseException:
        stop.cancel()
        raise
    finally:
        for other in others:
            other.wait()
    if stop.cancelled:
        return {}
    removals: dict[tuple[str, str], list[Removal]] = {}
    for result in results:
        for key, found in result.removals.items():
            removals.setdefault(key, []).extend(found)
    logger.info(
        "history: removal pass read %d commit(s) in %.1f s",
        sum(result.commits for result in results),
        time.monotonic() - started,
    )
    return removals


def _take_once(chunk: list[str]) -> Take:
    """Return a `take` that returns `chunk`, then None."""
    pending = [chunk]
    return lambda: pending.pop() if pending else None


# Diff options of the removal pass. No core.bigFileThreshold here, so a secret removed
# from a file over the size limit is still seen, and `--text` diffs files that
# .gitattributes marks `-diff` or `binary`. Only changed, deleted or retyped files have
# removed lines.
_REMOVAL_DIFF = ("-p", "-U0", "--text", "--no-renames", *_PATCH_OUTPUT, "--diff-filter=MDT")


def _present_at_tip(
    root: Path, secrets: dict[tuple[str, str], _Secret], tip: str | None
) -> set[tuple[str, str]]:
    """Return the secrets that the tip's tree still contains at a path they were seen at."""
    if tip is None:
        return set()
    paths = sorted({s.finding.path for e in secrets.values() for s in e.sightings})
    texts: dict[str, str] = {}
    for path, data in _read_at(root, tip, paths).items():
        decoded = decode(data)
        # A file that became binary (a NUL byte, say) can still contain the secret, so
        # its bytes are read as text, as the commit that added the secret was scanned.
        texts[path] = decoded.text if decoded is not None else data.decode("utf-8", "replace")
    return {
        key
        for key, entry in secrets.items()
        if any(
            s.found_in(texts[s.finding.path]) for s in entry.sightings if s.finding.path in texts
        )
    }


def _read_at(root: Path, commit: str, paths: Sequence[str]) -> dict[str, bytes]:
    """Read each path's blob at `commit`; paths missing at that commit are left out.

    Blobs are looked up by id from `git ls-tree -z`, never by `commit:path` lines, so
    a path holding a newline cannot shift the answers for other paths.
    """
    if not paths:
        return {}
    requested = set(paths)
    listing = git.run(["ls-tree", "-r", "-z", "--full-tree", commit], root)
    blobs: dict[str, str] = {}
    for entry in listing.split(b"\0"):
        info, tab, name = entry.partition(b"\t")
        fields = info.split()
        if not tab or len(fields) != 3 or fields[1] != b"blob":
            continue
        path = name.decode("utf-8", "surrogateescape")
        if path in requested:
            blobs[path] = fields[2].decode("ascii")
    if not blobs:
        return {}
    sizes = _blob_sizes(root, sorted(set(blobs.values())))
    data = dict(_read_blobs(root, [b for b in sorted(set(blobs.values())) if b in sizes], sizes))
    return {path: data[blob] for path, blob in blobs.items() if blob in data}


def _commit_details(root: Path, shas: list[str]) -> dict[str, Commit]:
    """Return each commit's date and author; authors go to JSON only, never to logs."""
    if not shas:
        return {}
    request = "".join(f"{sha}\n" for sha in shas).encode()
    out = git.run(
        ["log", "--no-walk=unsorted", "--stdin", "--format=%H%x00%ct%x00%an%x00%ae"],
        root,
        input=request,
    )
    details = {}
    for line in out.decode("utf-8", "replace").splitlines():
        sha, time, name, email = line.split("\0")
        date = datetime.fromtimestamp(int(time), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        details[sha] = Commit(sha=sha, date=date, author_name=name, author_email=email)
    return details
