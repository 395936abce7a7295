"""The finding model shared by secret scanning and the pipeline audit."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field

from keyless.secret import Secret

# Bytes of a path that are not UTF-8 become these code points when it is decoded with
# the "surrogateescape" error handler, as keyless decodes every path it reads.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def escape_undecodable(text: str) -> str:
    """Return `text` with each byte that was not UTF-8 written as `\\xNN`.

    Paths are held as text decoded with "surrogateescape", so they keep every byte;
    reports, baselines and fingerprints use this form, which every encoder accepts.
    """
    return _UNDECODABLE.sub(lambda match: f"\\x{ord(match.group()) - 0xDC00:02x}", text)


class Severity(str, enum.Enum):
    """The impact of a finding, from `info` to `critical`."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Return the position in the scale, `info` being 0."""
        return _SEVERITY_ORDER.index(self)

    def __str__(self) -> str:
        return self.value


_SEVERITY_ORDER = list(Severity)


class Confidence(str, enum.Enum):
    """The likelihood that a finding is real."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Return the position in the scale, `low` being 0."""
        return list(Confidence).index(self)

    def __str__(self) -> str:
        return self.value


FAIL_ON_CHOICES = [s.value for s in Severity] + ["never"]


def fails(severity: Severity, fail_on: str) -> bool:
    """Return whether a finding of `severity` fails a run with `--fail-on fail_on`."""
    if fail_on == "never":
        return False
    return severity.rank >= Severity(fail_on).rank


@dataclass(frozen=True)
class Rule:
    """A rule's description and fix, shared by all findings of the rule."""

    id: str
    title: str
    severity: Severity
    confidence: Confidence
    description: str
    remediation: str


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column of the decoded text."""

    path: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Commit:
    """A commit in which a finding was seen."""

    sha: str
    date: str
    author_name: str | None = None
    author_email: str | None = None


@dataclass
class History:
    """The places and time span in which a secret from git history was exposed."""

    first_seen: Commit
    last_seen: Commit
    paths: list[str]
    present_at_tip: bool
    exposure_days: float


@dataclass
class Finding:
    """One secret or bad practice, at one place.

    Identity is (rule id, path, key): for a secret the key is the SHA-256 of its
    value, for an audit finding a description of the node. Line numbers are not part
    of it, so moving code does not make a finding new.
    """

    rule_id: str
    title: str
    severity: Severity
    confidence: Confidence
    location: Location
    remediation: str
    secret: Secret | None = None
    key: str = ""
    preview: str = ""
    message: str = ""
    commit: Commit | None = None
    history: History | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.secret is not None:
            if not self.key:
                self.key = self.secret.sha256()
            if not self.preview:
                self.preview = self.secret.preview()

    @property
    def path(self) -> str:
        """Return the repository-relative, `/`-separated path."""
        return self.location.path

    @property
    def fingerprint(self) -> str:
        """Return a stable id from (rule id, path, key), independent of line numbers."""
        path = escape_undecodable(self.location.path)
        data = "\0".join((self.rule_id, path, self.key)).encode()
        return hashlib.sha256(data).hexdigest()[:32]

    def sort_key(self) -> tuple[int, str, int, int, str]:
        """Return a key that orders by severity (worst first), then by place."""
        loc = self.location
        return (-self.severity.rank, loc.path, loc.line, loc.column, self.rule_id)
