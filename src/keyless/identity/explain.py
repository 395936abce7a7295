"""Explain, claim by claim, why a token does not match what a trust policy expects.

`explain(claims, expectations)` returns one Row per expectation: the claim, the
token's value, the expected value and a note on the likely cause. `keyless token`
uses it for `--expect-*`, and the exchange commands use it to explain a refusal
next to the claims the target was configured to accept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from keyless.errors import UsageError
from keyless.identity import issuers
from keyless.identity.claims import analyse_subject, audiences, format_value, platform_of
from keyless.terminal import safe_line

_IMMUTABLE_SUB = re.compile(r"^repo:[^/:@]+@\d+/[^/:@]+@\d+:")


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Return whether `value` matches `pattern` as cloud trust policies match (StringLike).

    `*` matches any run of characters, `/` and `:` included, and `?` exactly one;
    every other character, `[` and `\\` among them, stands for itself. The match
    takes at most len(pattern) * len(value) steps, whatever the pattern.
    """
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    p = v = 0
    star = -1  # index of the last `*` seen in the pattern
    resume = 0  # where in the value that `*` would resume if the rest fails
    while v < len(value):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, v
            p += 1
        elif p < len(pattern) and pattern[p] in ("?", value[v]):
            p += 1
            v += 1
        elif star >= 0:
            # Let the last `*` swallow one more character and try again.
            resume += 1
            p, v = star + 1, resume
        else:
            return False
    return all(char == "*" for char in pattern[p:])


@dataclass(frozen=True)
class Expectation:
    """One expected claim value: a glob, or an exact string for `iss` and `aud`."""

    claim: str
    pattern: str
    glob: bool = True

    @classmethod
    def parse(cls, text: str) -> Expectation:
        """Parse `NAME=GLOB`, as given to --expect-claim."""
        name, sep, pattern = text.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                f"--expect-claim {text!r} is invalid",
                hint="write it as NAME=GLOB, for example sub=repo:org/app:*",
            )
        return cls(name.strip(), pattern)

    def matches(self, value: str) -> bool:
        """Return whether one claim value satisfies this expectation (case-sensitive)."""
        if self.glob:
            return glob_match(self.pattern, value)
        return value == self.pattern


@dataclass(frozen=True)
class Row:
    """One line of an explanation table."""

    claim: str
    token_value: str
    expected: str
    note: str
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def expectations(
    claim_patterns: Iterable[str] = (),
    *,
    audience: str | None = None,
    issuer: str | None = None,
) -> list[Expectation]:
    """Build expectations from --expect-claim values, --expect-audience and --expect-issuer."""
    result: list[Expectation] = []
    if issuer:
        result.append(Expectation("iss", issuer, glob=False))
    if audience:
        result.append(Expectation("aud", audience, glob=False))
    result.extend(Expectation.parse(text) for text in claim_patterns)
    return result


def explain(claims: Mapping[str, Any], expected: Sequence[Expectation]) -> list[Row]:
    """Return one row per expectation, with a note on each mismatch's likely cause."""
    return [_row(claims, expectation) for expectation in expected]


def mismatches(rows: Iterable[Row]) -> list[Row]:
    """Return the rows whose claim does not match."""
    return [row for row in rows if not row.ok]


def _values(claims: Mapping[str, Any], name: str) -> list[str] | None:
    if name not in claims:
        return None
    if name == "aud":
        return audiences(claims)
    value = claims[name]
    if isinstance(value, list):
        return [format_value(item) for item in value]
    return [format_value(value)]


def _row(claims: Mapping[str, Any], expectation: Expectation) -> Row:
    name = expectation.claim
    values = _values(claims, name)
    if values is None:
        return Row(name, "(missing)", expectation.pattern, _missing_note(claims, name), False)
    shown = ", ".join(values)
    if any(expectation.matches(value) for value in values):
        return Row(name, shown, expectation.pattern, "", True)
    return Row(name, shown, expectation.pattern, _mismatch_note(claims, expectation, values), False)


def _missing_note(claims: Mapping[str, Any], name: str) -> str:
    platform = platform_of(claims)
    if name == "environment":
        return "the token has no environment claim because the job declares no environment"
    if platform == "gitlab" and name in ("job_workflow_ref", "repository", "workflow_ref"):
        return f"{name} is a GitHub Actions claim; this is a GitLab CI token"
    if platform == "github" and name in ("project_path", "ref_path", "pipeline_source"):
        return f"{name} is a GitLab CI claim; this is a GitHub Actions token"
    return f"the token has no {name} claim"


def _mismatch_note(claims: Mapping[str, Any], expectation: Expectation, values: list[str]) -> str:
    name = expectation.claim
    notes: list[str] = []
    if any(_matches_ignoring_case(expectation, value) for value in values):
        notes.append(
            "differs only in case: claims are compared case-sensitively, so write the "
            "expected value in the token's case"
        )
    if name == "sub":
        notes.extend(_subject_notes(claims, expectation))
    elif name in ("job_workflow_ref", "workflow_ref"):
        notes.extend(_workflow_notes(claims, expectation))
    elif name == "aud":
        notes.append(_audience_note(claims, expectation))
    elif name == "iss" and values:
        notes.extend(_issuer_notes(values[0], expectation.pattern))
    elif name == "ref":
        notes.extend(_ref_notes(claims, expectation))
    return "; ".join(notes)


def _matches_ignoring_case(expectation: Expectation, value: str) -> bool:
    if expectation.glob:
        return glob_match(expectation.pattern, value, ignore_case=True)
    return value.lower() == expectation.pattern.lower()


def _subject_notes(claims: Mapping[str, Any], expectation: Expectation) -> list[str]:
    subject = analyse_subject(claims)
    notes: list[str] = []
    pattern_immutable = bool(_IMMUTABLE_SUB.match(expectation.pattern))
    if subject.form == "immutable-id" and not pattern_immutable:
        notes.append(
            "the token's sub uses the immutable-id form (owner@ID/repository@ID); "
            f"expect {subject.immutable}"
        )
    elif pattern_immutable and subject.form == "default":
        notes.append(
            "the expected sub uses the immutable-id form but the token's sub does not; "
            f"expect {subject.default}"
        )
    if subject.form == "customised":
        notes.append(f"the token's sub is {subject.explanation}")
    elif subject.derived_from is not None:
        notes.append(_context_note(subject.derived_from, subject.explanation, expectation))
    return [note for note in notes if note]


def _context_note(derived_from: str, explanation: str, expectation: Expectation) -> str:
    pattern = expectation.pattern
    expects = next(
        (
            key
            for key in ("environment", "pull_request", "ref_type", "ref")
            if f":{key}:" in pattern or pattern.endswith(f":{key}")
        ),
        None,
    )
    if expects is not None and expects not in (derived_from, "ref_type"):
        return f"the expected sub ends with {expects} but {explanation}"
    return f"the token's sub is derived from {derived_from}: {explanation}"


def _workflow_notes(claims: Mapping[str, Any], expectation: Expectation) -> list[str]:
    caller = str(claims.get("workflow_ref", ""))
    called = str(claims.get("job_workflow_ref", ""))
    if not caller or not called or caller == called:
        return []
    note = (
        "this job runs in a reusable workflow: job_workflow_ref names the called workflow "
        f"({called}) and workflow_ref the caller ({caller})"
    )
    if expectation.claim == "job_workflow_ref" and expectation.matches(caller):
        note += "; the expected value matches the caller, so expect workflow_ref instead"
    if expectation.claim == "workflow_ref" and expectation.matches(called):
        note += "; the expected value matches the called workflow, so expect job_workflow_ref"
    return [note]


def _audience_note(claims: Mapping[str, Any], expectation: Expectation) -> str:
    present = ", ".join(audiences(claims))
    platform = platform_of(claims)
    if platform == "gitlab":
        return (
            f"the token was issued for {present}: set `aud: {expectation.pattern}` under "
            "the job's id_tokens"
        )
    return (
        f"the token was requested for {present}: request it with --audience {expectation.pattern}"
    )


def _issuer_notes(present: str, expected: str) -> list[str]:
    info = issuers.classify(present)
    notes: list[str] = []
    if present.rstrip("/") == expected.rstrip("/"):
        notes.append("the values differ only by a trailing slash, which makes a different issuer")
    if info.kind == "look-alike":
        notes.append(f"the token's issuer is {info.description}")
    if info.kind == "ghec-unique" and expected == issuers.GITHUB:
        notes.append(
            "the enterprise uses a unique issuer URL: trust policies must name "
            f"{present}, not {issuers.GITHUB}"
        )
    if present == issuers.GITHUB and expected.startswith(issuers.GITHUB + "/"):
        notes.append(
            "the expected issuer is an enterprise's unique issuer, but this token comes from "
            "the shared github.com issuer: turn on the unique issuer URL in the enterprise "
            "settings, or expect the shared issuer"
        )
    return notes


def _ref_notes(claims: Mapping[str, Any], expectation: Expectation) -> list[str]:
    ref = str(claims.get("ref", ""))
    platform = platform_of(claims)
    if (
        platform == "github"
        and not expectation.pattern.startswith("refs/")
        and ref.startswith("refs/")
    ):
        return [
            f"GitHub's ref claim is the full ref ({ref}); expect refs/heads/... or refs/tags/..."
        ]
    if platform == "gitlab" and expectation.pattern.startswith("refs/"):
        return [
            f"GitLab's ref claim is the short name ({ref}); the full ref is in ref_path "
            f"({claims.get('ref_path')})"
        ]
    return []


def render_table(rows: Sequence[Row]) -> str:
    """Return rows as a text table: status, claim, token value, expected, note.

    Cells go through `safe_line`, because claim values come from the token.
    """
    header = ("", "claim", "token value", "expected", "note")
    lines = [header] + [
        (
            "ok" if row.ok else "MISMATCH",
            *(safe_line(cell) for cell in (row.claim, row.token_value, row.expected, row.note)),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in lines) for column in range(4)]
    rendered = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:4], widths, strict=True)]
        rendered.append(("  ".join(cells) + "  " + line[4]).rstrip())
    return "\n".join(rendered) + "\n"
