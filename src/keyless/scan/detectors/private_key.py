"""PEM private keys, over several lines or on one line with escaped newlines."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import Match
from keyless.scan.lazy import LazyPattern

PRIVATE_KEY = Rule(
    "private-key",
    "Private key",
    Severity.CRITICAL,
    Confidence.HIGH,
    "A PEM-encoded private key (RSA, EC, DSA, OpenSSH, PGP or PKCS#8).",
    "Revoke the key and the certificates or access it grants, issue a new one, and keep "
    "it in a secret store or a short-lived credential.",
)
GCP_SERVICE_ACCOUNT = Rule(
    "gcp-service-account-key",
    "Google Cloud service account key",
    Severity.CRITICAL,
    Confidence.HIGH,
    "The private key of a Google Cloud service account key file (JSON).",
    "Delete the key in IAM (service account > Keys), then use Workload Identity Federation "
    "(`keyless gcp`) so the pipeline needs no key file.",
)

_HEADER = LazyPattern(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
# Bounded body: no real key is larger, and the bound keeps a missing END line cheap.
_MAX_BODY = 16384
# A body is made of these characters and stops at the next `-----` (an END line, or
# another header when the END line is missing).
_BODY_CHARS = LazyPattern(r"[A-Za-z0-9+/=:,\- \t\r\n\\]*")
_FOOTER = LazyPattern(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_ESCAPED_NEWLINE = LazyPattern(r"\\r|\\n|\s")


@dataclass
class PrivateKeyDetector:
    """Find PEM private-key blocks; the secret is the key body, whitespace removed."""

    rule: Rule = PRIVATE_KEY
    keywords: tuple[str, ...] = field(default=("private key",))
    line_patterns: tuple[str, ...] = ()

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        # Each step looks at most up to the next `-----`, which starts the next header
        # at the latest, so a line of many headers costs time linear in its length.
        for header in _HEADER.finditer(text, start, end):
            body_start = header.end()
            limit = min(len(text), body_start + _MAX_BODY)
            dashes = text.find("-----", body_start, limit)
            stop = dashes if dashes >= 0 else limit
            body = _BODY_CHARS.match(text, body_start, stop)
            body_end = body.end() if body is not None else body_start
            footer = _FOOTER.match(text, stop) if body_end == stop and dashes >= 0 else None
            # Without an END line the match ends with the body on the header's line.
            match_end = footer.end() if footer else max(body_start, min(body_end, end))
            body_text = text[body_start:body_end]
            value = _ESCAPED_NEWLINE.sub("", body_text)
            if len(value) < 32 or len(set(value)) < 10:
                continue
            encrypted = "ENCRYPTED" in header.group(1) or "Proc-Type: 4,ENCRYPTED" in body_text
            confidence = Confidence.MEDIUM if encrypted else Confidence.HIGH
            yield Match(header.start(), match_end, value, confidence)


@dataclass
class ServiceAccountKeyDetector:
    """Find the `private_key` field of a Google service account JSON key."""

    rule: Rule = GCP_SERVICE_ACCOUNT
    keywords: tuple[str, ...] = field(default=("private_key",))
    line_patterns: tuple[str, ...] = ()

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        line = text[start:end]
        if '"private_key"' not in line or "PRIVATE KEY" not in line:
            return
        # Other JSON files have `private_key` fields too: those keys are plain private keys.
        nearby = text[max(0, start - _NEARBY) : end + _NEARBY]
        if not _SERVICE_ACCOUNT_MARK.search(nearby):
            return
        yield from PrivateKeyDetector().find(text, start, end)


# How far from the key a service account key file's other fields are looked for.
_NEARBY = 4096
_SERVICE_ACCOUNT_MARK = LazyPattern(
    r"\"type\"\s*:\s*\"service_account\"|\.iam\.gserviceaccount\.com\b"
)
