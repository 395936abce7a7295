"""The `keyless token` report: claims, subject, time window, verification, expectations.

A report contains the token's decoded claims but never the raw token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keyless import __version__
from keyless.identity import issuers
from keyless.identity.claims import (
    Subject,
    TimeWindow,
    analyse_subject,
    duration,
    ordered_claims,
    relative,
    time_window,
)
from keyless.identity.explain import Row, mismatches, render_table
from keyless.identity.token import IdentityToken
from keyless.identity.verify import Verification
from keyless.terminal import safe_line

JSON_VERSION = 1


@dataclass
class TokenReport:
    """Everything `keyless token` reports about one token."""

    token: IdentityToken
    issuer: issuers.IssuerInfo
    subject: Subject
    window: TimeWindow
    verification: Verification | None
    rows: list[Row]

    @property
    def ok(self) -> bool:
        """Return whether every expectation matched and verification, if run, passed."""
        verified = self.verification is None or self.verification.ok
        return verified and not mismatches(self.rows)


def build(
    token: IdentityToken,
    *,
    verification: Verification | None = None,
    rows: list[Row] | None = None,
    now: datetime | None = None,
) -> TokenReport:
    """Assemble the report; the clock skew comes from the token or else the verification."""
    skew, source = token.clock_skew, token.clock_skew_source
    if (
        skew is None
        and verification is not None
        and (verification.clock_skew is not None or source is None)
    ):
        skew, source = verification.clock_skew, verification.clock_skew_source
    return TokenReport(
        token=token,
        issuer=issuers.classify(str(token.claims.get("iss", "")), token.claims),
        subject=analyse_subject(token.claims),
        window=time_window(token.claims, skew, source, now),
        verification=verification,
        rows=rows or [],
    )


def render_text(report: TokenReport) -> str:
    """Return the report as aligned text sections.

    Every value that comes from the token or the issuer goes through `safe_line`, so
    no claim can add a line, start a CI workflow command or send terminal escapes.
    """
    sections = [
        _section(
            "token",
            [
                ("provider", report.token.provider),
                ("issuer", f"{report.issuer.url} ({report.issuer.description})"),
                (
                    "algorithm",
                    f"{report.token.header.get('alg')}, kid {report.token.header.get('kid')}",
                ),
            ],
        )
    ]
    known, rest = ordered_claims(report.token.claims)
    sections.append(_section("claims", known))
    if rest:
        sections.append(_section("other claims", rest))
    sections.append(_section("subject", _subject_lines(report.subject)))
    sections.append(_section("time", _time_lines(report.window)))
    if report.verification is not None:
        lines = [
            f"  {check.status_label:<6}  {check.name:<9}  {safe_line(check.detail)}"
            for check in report.verification.checks
        ]
        sections.append("verification\n" + "\n".join(lines) + "\n")
    if report.rows:
        table = render_table(report.rows)
        sections.append("expectations\n" + "".join(f"  {line}\n" for line in table.splitlines()))
    sections.append(f"result: {_summary(report)}\n")
    return "\n".join(sections)


def _section(title: str, rows: list[tuple[str, str]]) -> str:
    if not rows:
        return f"{title}\n  (none)\n"
    safe = [(safe_line(name), safe_line(value)) for name, value in rows]
    width = max(len(name) for name, _ in safe)
    body = "".join(f"  {name:<{width}}  {value}\n" for name, value in safe)
    return f"{title}\n{body}"


def _subject_lines(subject: Subject) -> list[tuple[str, str]]:
    lines = [("sub", subject.value), ("form", subject.form)]
    if subject.derived_from:
        lines.append(("derived from", subject.derived_from))
    lines.append(("why", subject.explanation))
    if subject.default and subject.default != subject.value:
        lines.append(("default form", subject.default))
    if subject.immutable and subject.immutable != subject.value:
        lines.append(("immutable-id form", subject.immutable))
    return lines


def _time_lines(window: TimeWindow) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    for name, claim, moment in (
        ("issued", "iat", window.issued_at),
        ("not before", "nbf", window.not_before),
        ("expires", "exp", window.expires_at),
    ):
        if claim in window.invalid:
            lines.append((name, f"(not a valid time: {claim} is {window.invalid[claim]})"))
        elif moment is None:
            lines.append((name, "(missing)"))
        else:
            lines.append((name, f"{_iso(moment)} ({relative(moment, window.now)})"))
    if window.status == "unknown":
        lines.append(("status", "unknown: the token's exp or nbf is not a valid time"))
    else:
        lines.append(("status", f"{window.status} by the local clock"))
    lines.append(("clock skew", _skew_text(window)))
    return lines


def _skew_text(window: TimeWindow) -> str:
    if window.clock_skew is None:
        if window.clock_skew_source is not None:
            return (
                f"not measured (the HTTP Date header from {window.clock_skew_source} "
                "was missing or invalid)"
            )
        return "not measured (no HTTP response from the issuer; --verify measures it)"
    skew = window.clock_skew
    where = window.clock_skew_source or "the issuer"
    if abs(skew) < 1:
        return f"under 1s against {where} (HTTP Date header)"
    direction = "ahead of" if skew > 0 else "behind"
    return f"local clock {duration(abs(skew))} {direction} {where} (HTTP Date header)"


def _summary(report: TokenReport) -> str:
    problems: list[str] = []
    failed_rows = mismatches(report.rows)
    if failed_rows:
        names = safe_line(", ".join(row.claim for row in failed_rows))
        problems.append(f"{len(failed_rows)} expectation(s) not met ({names})")
    if report.verification is not None and not report.verification.ok:
        names = ", ".join(check.name for check in report.verification.failures())
        problems.append(f"verification failed ({names})")
    if problems:
        return "; ".join(problems)
    if report.verification is None:
        return "ok (signature not verified)"
    unchecked = report.verification.unchecked()
    if unchecked:
        return f"verified ({', '.join(check.name for check in unchecked)} not checked)"
    return "verified"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_dict(report: TokenReport) -> dict[str, Any]:
    """Return the report as the `keyless token --format json` document."""
    window = report.window
    subject = report.subject
    return {
        "version": JSON_VERSION,
        "tool": {"name": "keyless", "version": __version__},
        "provider": report.token.provider,
        "header": {
            key: report.token.header[key]
            for key in ("alg", "kid", "typ")
            if key in report.token.header
        },
        "issuer": {
            "url": report.issuer.url,
            "kind": report.issuer.kind,
            "description": report.issuer.description,
        },
        "claims": report.token.claims,
        "subject": {
            "value": subject.value,
            "form": subject.form,
            "derived_from": subject.derived_from,
            "explanation": subject.explanation,
            "default": subject.default,
            "immutable": subject.immutable,
            "components": subject.components,
        },
        "time": {
            "issued_at": _iso(window.issued_at) if window.issued_at else None,
            "not_before": _iso(window.not_before) if window.not_before else None,
            "expires_at": _iso(window.expires_at) if window.expires_at else None,
            "status": window.status,
            "invalid": window.invalid,
            "clock_skew_seconds": window.clock_skew,
            "clock_skew_source": window.clock_skew_source,
        },
        "verification": report.verification.to_dict() if report.verification else None,
        "expectations": [row.to_dict() for row in report.rows],
        "ok": report.ok,
    }


def render_json(report: TokenReport) -> str:
    """Return the report as indented JSON."""
    return json.dumps(to_dict(report), indent=2, sort_keys=False) + "\n"
