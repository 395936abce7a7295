"""Credentials in HTTP headers, command lines and tool configuration files."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.findings import Confidence, Severity
from keyless.scan.detectors.base import Match
from keyless.scan.detectors.patterns import RegexDetector, rule
from keyless.scan.detectors.private_key import GCP_SERVICE_ACCOUNT
from keyless.scan.lazy import LazyPattern
from keyless.scan.placeholders import is_placeholder

H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW


def _decode(value: str) -> str | None:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _user_password(value: str) -> Confidence | None:
    """Keep a base64 `user:password` pair whose password is not a placeholder."""
    decoded = _decode(value)
    if decoded is None or ":" not in decoded or not decoded.isprintable():
        return None
    user, password = decoded.split(":", 1)
    if not user or not password or is_placeholder(password):
        return None
    return H


def _token(value: str) -> Confidence | None:
    """Keep a bearer token that mixes letters and digits, unlike words and names."""
    if not re.search(r"[0-9]", value) or not re.search(r"[A-Za-z]", value):
        return None
    return M


def _docker_config(value: str) -> Confidence | None:
    decoded = _decode(value)
    if decoded is None:
        return None
    try:
        document = json.loads(decoded)
    except ValueError:
        return None
    auths = document.get("auths") if isinstance(document, dict) else None
    if not isinstance(auths, dict):
        return None
    for entry in auths.values():
        if isinstance(entry, dict) and (
            isinstance(entry.get("password"), str)
            or (isinstance(entry.get("auth"), str) and _user_password(entry["auth"]))
        ):
            return H
    return None


_WORD_PLACEHOLDER = LazyPattern(r"[A-Z_]+|(?i:pass(?:word)?|pw|secret|token|value)")


def _literal_password(value: str) -> Confidence | None:
    """Keep a literal password, not a variable, a template or a word standing for one."""
    if value[0] in "<$%{[(" or _WORD_PLACEHOLDER.fullmatch(value) or is_placeholder(value):
        return None
    return M


# Up to this many characters of a command line between the command and its option.
_COMMAND_GAP = r"[^\n|;&]{0,200}?"

# Line patterns, kept short because each one adds to the hyperscan compile at the start
# of every scan and lines with these words are rare. Basic and bearer headers share one.
_AUTHORIZATION_LINE = r"authorization[^\n]*(?:basic|bearer)"
# `-u` and `-p` also occur in `--user` and `--password`.
_CURL_LINE = r"curl[^\n]*-u"
_DOCKER_LOGIN_LINE = r"docker[^\n]*login[^\n]*-p"

CREDENTIAL_DETECTORS: list[RegexDetector] = [
    RegexDetector(
        rule(
            "basic-auth-header",
            "HTTP basic authentication header",
            Severity.HIGH,
            H,
            "An `Authorization: Basic` header, whose base64 value is a user name and password.",
        ),
        ("basic",),
        LazyPattern(r"(?i)\bAuthorization[\"']?\s*[:=]\s*[\"']?Basic\s+([A-Za-z0-9+/]{8,}={0,2})"),
        group=1,
        validate=_user_password,
        line_patterns=(_AUTHORIZATION_LINE,),
    ),
    RegexDetector(
        rule(
            "bearer-token",
            "HTTP bearer token",
            Severity.HIGH,
            M,
            "A token in an `Authorization: Bearer` header.",
        ),
        ("bearer",),
        LazyPattern(
            r"(?i)\bAuthorization[\"']?\s*[:=]\s*[\"']?Bearer\s+([A-Za-z0-9\-._~+/]{20,}=*)"
            r"(?![A-Za-z0-9\-._~+/=])"
        ),
        group=1,
        validate=_token,
        line_patterns=(_AUTHORIZATION_LINE,),
    ),
    RegexDetector(
        rule(
            "maven-password",
            "Maven server password",
            Severity.HIGH,
            M,
            "A `<password>` in a Maven settings.xml `<server>` (or a similar XML file).",
        ),
        ("<password>",),
        LazyPattern(r"<password>\s*([^<\s]{4,})\s*</password>"),
        group=1,
    ),
    RegexDetector(
        rule(
            "command-line-password",
            "Password on a command line",
            Severity.HIGH,
            M,
            "A password given to `curl -u user:password` or `docker login -p`, where it is "
            "also visible in the process list and shell history.",
        ),
        ("curl", "docker"),
        LazyPattern(
            r"\bcurl\b" + _COMMAND_GAP + r"\s(?:-u|--user)[\s=]+[\"']?[^\s:\"']+:([^\s\"'`]+)"
            r"|\bdocker\s+login\b" + _COMMAND_GAP + r"\s(?:-p|--password)[\s=]+[\"']?([^\s\"'`]+)"
        ),
        group=-1,
        validate=_literal_password,
        line_patterns=(_CURL_LINE, _DOCKER_LOGIN_LINE),
    ),
    RegexDetector(
        rule(
            "docker-registry-auth",
            "Docker registry credentials",
            Severity.HIGH,
            H,
            "The `auth` (base64 user:password) of a Docker config.json, or a base64 "
            "`.dockerconfigjson` that contains one.",
        ),
        ('"auth"', "eyjhdxrocyi6"),
        LazyPattern(
            r"\"auth\"\s*:\s*\"([A-Za-z0-9+/]{8,}={0,2})\""
            r"|(?<![A-Za-z0-9+/])(eyJhdXRocyI6[A-Za-z0-9+/]{20,}={0,2})"
        ),
        group=-1,
        validate=lambda value: (
            _docker_config(value) if value.startswith("eyJhdXRocyI6") else _user_password(value)
        ),
    ),
]


def _base64_forms(text: bytes) -> tuple[str, ...]:
    """Return what `text` looks like inside base64 at each of the three alignments."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + text).decode("ascii")
        # Skip the characters that mix in the bytes before, and the last partial group.
        forms.append(encoded[-(-4 * shift // 3) : (shift + len(text)) // 3 * 4])
    return tuple(forms)


_SERVICE_ACCOUNT_FORMS = _base64_forms(b'"service_account"')
_BASE64_RUN = LazyPattern(r"[A-Za-z0-9+/]{200,}={0,2}")


@dataclass
class EncodedServiceAccountDetector:
    """Find a Google service account key file encoded as base64, as CI variables hold it."""

    rule = GCP_SERVICE_ACCOUNT
    keywords: tuple[str, ...] = field(default=tuple(f.lower() for f in _SERVICE_ACCOUNT_FORMS))
    line_patterns: tuple[str, ...] = ()

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        for match in _BASE64_RUN.finditer(text, start, end):
            value = match.group(0)
            if not any(form in value for form in _SERVICE_ACCOUNT_FORMS):
                continue
            decoded = _decode(value)
            if decoded is None:
                continue
            try:
                document = json.loads(decoded)
            except ValueError:
                continue
            if (
                isinstance(document, dict)
                and document.get("type") == "service_account"
                and isinstance(document.get("private_key"), str)
                and "PRIVATE KEY" in document["private_key"]
            ):
                yield Match(match.start(), match.end(), value, H)
