"""Read the patch stream of `git diff-tree --stdin -p -U0` and scan its added lines.

The stream is a sequence of commit records. Each starts with a NUL byte and the
header `SHA COMMIT-TIME PARENT...`, followed by one section per changed file
(`diff --git` for ordinary commits, `diff --cc` for merges). A line that starts with
NUL can only be a header: every line inside a section starts with a diff marker or
a header keyword.

Only sections with a keyword hit on a changed line are parsed: the prefilter runs on
whole blocks of the stream first, so most of the stream is never split into lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from keyless.findings import Finding
from keyless.scan.sources import Skipped, is_excluded
from keyless.scan.text import decode
from keyless.secret import Secret

if TYPE_CHECKING:
    from keyless.scan.engine import Engine

COMMIT_MARK = b"\0"
_SECTION = b"\ndiff --"
_HUNK = re.compile(rb"^(@@+) .*?\+(\d+)(?:,\d+)? @@")
_SUBMODULE_MODE = b"160000"


@dataclass(frozen=True)
class CommitHeader:
    """A commit as the stream names it: SHA, committer time (Unix seconds), parents."""

    sha: str
    time: int
    parents: tuple[str, ...]


@dataclass
class Sighting:
    """A secret on an added line of one commit.

    `text` is the text the detector matched, as it is in the file. The finding's
    secret is its value, which some detectors normalise (a private key without its
    line breaks). Either one found in a later version of the file shows the secret
    is still there.
    """

    commit: CommitHeader
    finding: Finding
    text: Secret | None = None

    def found_in(self, text: str) -> bool:
        """Return whether `text` still contains this secret."""
        secret = self.finding.secret
        if secret is not None and secret.reveal() in text:
            return True
        return self.text is not None and self.text.reveal() in text


@dataclass
class Removal:
    """A secret on a removed line of one commit: its parent was the last to contain it."""

    commit: CommitHeader
    path: str


@dataclass
class StreamResult:
    """Secrets added and removed in one patch stream, and the sections not scanned."""

    sightings: list[Sighting] = field(default_factory=list)
    # (rule id, secret hash) -> removals
    removals: dict[tuple[str, str], list[Removal]] = field(default_factory=dict)
    suppressed: int = 0
    commits: int = 0
    # Blob id, path, commit and pre-image blob id (None for a new file) of each section
    # git showed as binary: the caller reads those blobs, to tell binary, oversize and
    # text files apart.
    binary_blobs: list[tuple[str, str, CommitHeader, str | None]] = field(default_factory=list)
    submodules: set[str] = field(default_factory=set)


class PatchScanner:
    """Scan blocks of a patch stream; `feed` takes blocks that end at a line break.

    By default the scanner looks at added lines and records sightings. Given
    `removed_secrets` (path -> the sightings at that path, each with its secret's key),
    it looks instead for those secrets in the removed lines of each commit (of a merge,
    against its first parent), and records removals, which tell when a secret stopped
    being in a file.
    """

    def __init__(
        self,
        engine: Engine,
        skipped: Skipped,
        *,
        max_size: int,
        exclude: list[str],
        on_commits: Callable[[int], None] | None = None,
        removed_secrets: dict[str, list[tuple[Sighting, tuple[str, str]]]] | None = None,
    ) -> None:
        self.engine = engine
        self.skipped = skipped
        self.max_size = max_size
        self.exclude = exclude
        self.on_commits = on_commits
        self.removed_secrets = removed_secrets
        self.result = StreamResult()
        self._commit: CommitHeader | None = None
        self._filters = engine.prefilter.filters

    def feed(self, block: bytes) -> None:
        """Scan a block that starts at a commit header or a section and ends after a newline."""
        commits = block.count(b"\n" + COMMIT_MARK) + block.startswith(COMMIT_MARK)
        if commits:
            self.result.commits += commits
            if self.on_commits is not None:
                self.on_commits(commits)
        header_start = -1
        commit = self._commit
        for start, end in self._sections_to_parse(block):
            # Sections come in order, so only the text since the last header found
            # can contain a newer one.
            found = block.rfind(b"\n" + COMMIT_MARK, max(header_start, 0), start) + 1
            if found > 0:
                header_start, commit = found, _parse_header(block, found)
            elif header_start < 0 and block.startswith(COMMIT_MARK):
                header_start, commit = 0, _parse_header(block, 0)
            if commit is not None:
                self._scan_section(block[start:end], commit)
        last = block.rfind(b"\n" + COMMIT_MARK) + 1
        if last > 0 or block.startswith(COMMIT_MARK):
            self._commit = _parse_header(block, last)

    def _sections_to_parse(self, block: bytes) -> list[tuple[int, int]]:
        """Return the (start, end) of every section worth parsing, in order.

        Those are the sections with a prefilter hit on an added line, and binary and
        submodule sections, so they are counted. Looking for removals, every section
        is parsed, because the stream contains only the history of the requested paths.
        """
        if self.removed_secrets is not None or not self._filters:
            starts = _positions(block, _SECTION, 1)
            if block.startswith(b"diff --"):
                starts.insert(0, 0)
        else:
            starts = self._sections_hit(block)
            for text in (b"\nBinary files ", b" " + _SUBMODULE_MODE + b"\n"):
                starts.extend(_section_start(block, p) for p in _positions(block, text, 0))
            starts = sorted(set(starts) - {-1})
        return [(start, _section_end(block, start)) for start in starts]

    def _sections_hit(self, block: bytes) -> list[int]:
        """Return the start of each section with a prefilter hit on an added line."""
        starts = []
        section_end = -1
        for hit in self.engine.prefilter.line_hits(block):
            if hit.start < section_end:
                continue
            if block[hit.start : hit.start + 1] != b"+" or _is_file_header(block, hit.start):
                continue
            start = _section_start(block, hit.start)
            if start >= 0:
                starts.append(start)
                section_end = _section_end(block, start)
        return starts

    def _scan_section(self, section: bytes, commit: CommitHeader) -> None:
        header_end = section.find(b"\n@@")
        header = section if header_end < 0 else section[: header_end + 1]
        removing = self.removed_secrets is not None
        path = _path(header, old=removing)
        if path is None:
            return
        if removing:
            if header_end >= 0 and commit.parents:
                self._scan_removed(path, section[header_end + 1 :], commit)
            return
        if b" " + _SUBMODULE_MODE + b"\n" in header:
            self.result.submodules.add(path)
            self.skipped.add("submodule", path)
            return
        if self.exclude and is_excluded(path, self.exclude):
            self.skipped.add("excluded", path)
            return
        if b"\nBinary files " in header or header.startswith(b"Binary files "):
            blobs = _image_blobs(header)
            if blobs is not None:
                self.result.binary_blobs.append((blobs[1], path, commit, blobs[0]))
            return
        if header_end < 0:
            return
        self.scan_added(path, section[header_end + 1 :], commit)

    def scan_added(self, path: str, body: bytes, commit: CommitHeader) -> None:
        """Scan the added lines of a section's hunks; skip them over the size limit."""
        # The scanned text has an empty line for each hunk header, then the hunk's
        # added lines. So a line and the line above it in the text are neighbours in
        # the file too, which inline allow comments and multi-line detectors rely on.
        line_numbers: list[int] | None = None
        if body.startswith(b"@@@"):
            lines, line_numbers = _added_lines(body)
            data = b"\n".join(lines)
        else:
            data = _ADDED_ONLY.sub(b"", body)
        if len(data) > self.max_size:
            self.skipped.add("too-large", path)
            return
        decoded = decode(data)
        if decoded is None:
            self.skipped.add("binary", path)
            return
        scanned = self.engine.scan(path, decoded.text)
        self.result.suppressed += scanned.suppressed + scanned.allowlisted
        if not scanned.findings:
            return
        if line_numbers is None:
            line_numbers = _added_lines(body)[1]
        for sighting in sightings(commit, decoded.text, scanned.findings):
            location = sighting.finding.location
            line = line_numbers[location.line - 1]
            end_line = line_numbers[(location.end_line or location.line) - 1]
            sighting.finding.location = replace(location, line=line, end_line=end_line)
            self.result.sightings.append(sighting)

    def _scan_removed(self, path: str, body: bytes, commit: CommitHeader) -> None:
        candidates = (self.removed_secrets or {}).get(path)
        if not candidates:
            return
        # No size limit: the text is in memory already, and a search for known text is
        # cheap, so a secret removed with a file over the limit still has its removal.
        data = b"\n".join(_REMOVED.findall(body))
        decoded = decode(data)
        if decoded is None:
            return
        keys = {key for sighting, key in candidates if sighting.found_in(decoded.text)}
        for key in keys:
            self.result.removals.setdefault(key, []).append(Removal(commit, path))


def sightings(commit: CommitHeader, text: str, findings: list[Finding]) -> list[Sighting]:
    """Return a sighting for each finding in `text`, with the text each one matched."""
    if not findings:
        return []
    starts = [0]
    position = text.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    result = []
    for finding in findings:
        location = finding.location
        begin = starts[location.line - 1] + location.column - 1
        end_line = location.end_line or location.line
        end = starts[end_line - 1] + (location.end_column or location.column) - 1
        matched = Secret(text[begin:end], redact_in_logs=False)
        result.append(Sighting(commit, finding, matched))
    return result


def _positions(block: bytes, text: bytes, offset: int) -> list[int]:
    """Return each position of `text` in `block`, plus `offset`."""
    found = []
    position = block.find(text)
    while position >= 0:
        found.append(position + offset)
        position = block.find(text, position + 1)
    return found


def _section_start(block: bytes, position: int) -> int:
    """Return the start of the section that contains `position`, or -1 before the first."""
    start = block.rfind(_SECTION, 0, position)
    if start >= 0:
        return start + 1
    return 0 if block.startswith(b"diff --") else -1


def _section_end(block: bytes, start: int) -> int:
    """Return where the section starting at `start` ends: the next section or commit."""
    following = block.find(_SECTION, start)
    end = following + 1 if following >= 0 else len(block)
    # A commit header can only come before the next section, so look no further.
    header = block.find(b"\n" + COMMIT_MARK, start, end)
    return header + 1 if header >= 0 else end


def _is_file_header(block: bytes, start: int) -> bool:
    """Return whether the line at `start` is a `+++ `/`--- ` file name line of a header.

    In a header, `--- ` is followed by `+++ `; a changed line that happens to start
    with those characters sits inside a hunk, after an `@@` line or another change.
    """
    if block.startswith(b"+++ ", start):
        previous = block.rfind(b"\n", 0, start - 1) + 1
        return block.startswith(b"--- ", previous)
    if block.startswith(b"--- ", start):
        following = block.find(b"\n", start) + 1
        return following > 0 and block.startswith(b"+++ ", following)
    return False


def _parse_header(block: bytes, start: int) -> CommitHeader:
    end = block.find(b"\n", start)
    fields = block[start + 1 : end].decode("ascii").split()
    return CommitHeader(sha=fields[0], time=int(fields[1]), parents=tuple(fields[2:]))


def _path(header: bytes, *, old: bool = False) -> str | None:
    """Return the post-image (or with `old`, pre-image) path of a section.

    The name comes from the `+++ b/PATH` (`--- a/PATH`) line, or from the `diff` line
    for sections without one (binary files, mode changes).
    """
    prefix = b"--- " if old else b"+++ "
    for line in header.split(b"\n"):
        if line.startswith(prefix):
            target = line[4:]
            if target == b"/dev/null":
                return None
            return _unquote(target)[2:]
    first = header.split(b"\n", 1)[0]
    if first.startswith(b"diff --cc "):
        return _unquote(first[10:])
    if first.startswith(b"diff --git "):
        names = first[11:]
        if names.startswith(b'"'):
            quoted_end = _quoted_end(names)
            rest = names[quoted_end + 1 :].lstrip()
            return _unquote(rest)[2:]
        # Without renames both names are the same: "a/PATH b/PATH".
        half = (len(names) - 1) // 2
        return _unquote(names[half + 1 :])[2:]
    return None


def _image_blobs(header: bytes) -> tuple[str | None, str] | None:
    """Return the (first parent's pre-image, post-image) blob ids of a section.

    The pre-image is None for a file the commit creates.
    """
    for line in header.split(b"\n"):
        if line.startswith(b"index "):
            before, _, after = line[6:].split(b" ", 1)[0].partition(b"..")
            old = before.split(b",")[0].decode("ascii")
            return (None if not old.strip("0") else old), after.decode("ascii")
    return None


# Applied to the hunks of an ordinary diff, this gives the text `_added_lines` builds:
# removed lines and "\ No newline" notes go, headers become empty lines, and added
# lines lose their `+`.
_ADDED_ONLY = re.compile(rb"^(?:[-\\].*\n?|@@.*|\+)", re.MULTILINE)
_REMOVED = re.compile(rb"^-(.*)$", re.MULTILINE)


def _added_lines(body: bytes) -> tuple[list[bytes], list[int]]:
    """Return the scanned lines of a section's hunks and their post-image line numbers.

    Each hunk header becomes an empty line numbered 0, followed by the hunk's added
    lines. In a combined diff of a merge, a line is added only when every parent
    column is `+`: lines that come from one of the parents were scanned in that
    parent's own commit.
    """
    lines: list[bytes] = []
    numbers: list[int] = []
    columns = 1
    all_added = b"+"
    line_number = 0
    for line in body.split(b"\n"):
        if line.startswith(b"@@"):
            match = _HUNK.match(line)
            if match is not None:
                columns = len(match.group(1)) - 1
                all_added = b"+" * columns
                # TODO: with -U0, git (2.39) can start a combined hunk's post-image range
                # at an unchanged line it does not print, so lines added by a conflict
                # resolution may be numbered one or more too low.
                line_number = int(match.group(2))
            lines.append(b"")
            numbers.append(0)
            continue
        prefix = line[:columns]
        if prefix == all_added:
            lines.append(line[columns:])
            numbers.append(line_number)
            line_number += 1
        elif b"-" not in prefix and line and not line.startswith(b"\\"):
            line_number += 1
    return lines, numbers


_ESCAPES = {
    ord("a"): 7,
    ord("b"): 8,
    ord("t"): 9,
    ord("n"): 10,
    ord("v"): 11,
    ord("f"): 12,
    ord("r"): 13,
    ord('"'): 34,
    ord("\\"): 92,
}


def _quoted_end(text: bytes) -> int:
    index = 1
    while index < len(text):
        if text[index] == ord("\\"):
            index += 2
            continue
        if text[index] == ord('"'):
            return index
        index += 1
    return len(text) - 1


def _unquote(name: bytes) -> str:
    """Undo git's C-style quoting of a path (used for tabs, newlines, quotes, backslashes)."""
    name = name.rstrip(b"\t")
    if not (name.startswith(b'"') and name.endswith(b'"')):
        return name.decode("utf-8", "surrogateescape")
    out = bytearray()
    index = 1
    while index < len(name) - 1:
        byte = name[index]
        if byte == ord("\\") and index + 1 < len(name) - 1:
            following = name[index + 1]
            if following in _ESCAPES:
                out.append(_ESCAPES[following])
                index += 2
                continue
            if ord("0") <= following <= ord("7"):
                out.append(int(name[index + 1 : index + 4], 8))
                index += 4
                continue
        out.append(byte)
        index += 1
    return out.decode("utf-8", "surrogateescape")
