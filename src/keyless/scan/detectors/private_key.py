"""PEM private keys, over several lines or on one line with escaped newlines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import Match

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

_HEADER = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
# Bounded body: no real key is larger, and the bound keeps a missing END line cheap.
_MAX_BODY = 16384
_BODY = re.compile(r"[A-Za-z0-9+/=:,\- \t\r\n\\]*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_ESCAPED_NEWLINE = re.compile(r"\\r|\\n|\s")


@dataclass
class PrivateKeyDetector:
    """Find PEM private-key blocks; the secret is the key body, whitespace removed."""

    rule: Rule = PRIVATE_KEY
    keywords: tuple[str, ...] = field(default=("private key",))

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        for header in _HEADER.finditer(text, start, end):
            body = _BODY.match(text, header.end(), min(len(text), header.end() + _MAX_BODY))
            if body is None:
                body_text = text[header.end() : end]
                match_end = end
            else:
                body_text = body.group(0)
                match_end = body.end()
            value = _ESCAPED_NEWLINE.sub("", body_text.split("-----END", 1)[0])
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

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        line = text[start:end]
        if '"private_key"' not in line or "PRIVATE KEY" not in line:
            return
        yield from PrivateKeyDetector().find(text, start, end)
