"""keyless's own detectors: token formats with fixed prefixes or structure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import Match
from keyless.scan.detectors.checksums import crc32_base62_valid
from keyless.scan.lazy import LazyPattern
from keyless.scan.placeholders import is_placeholder

ROTATE = (
    "Revoke or rotate it at the issuer now, then remove it from the code and load it "
    "at run time from a secret store or a short-lived credential."
)

# `RegexDetector.group` value meaning "the last group that matched", for patterns whose
# alternatives each capture the secret in a group of their own.
LAST_GROUP = -1

# A validator returns the confidence for a candidate value, or None to drop it.
Validator = Callable[[str], "Confidence | None"]


@dataclass
class RegexDetector:
    """A detector made of one regular expression; the secret is `group` of each match.

    With `group=LAST_GROUP` the secret is the last group that matched.
    """

    rule: Rule
    keywords: tuple[str, ...]
    pattern: LazyPattern
    group: int = 0
    validate: Validator | None = None
    line_patterns: tuple[str, ...] = ()

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        for match in self.pattern.finditer(text, start, end):
            group = (match.lastindex or 0) if self.group == LAST_GROUP else self.group
            value = match.group(group)
            if not value or is_placeholder(value):
                continue
            confidence = self.rule.confidence
            if self.validate is not None:
                checked = self.validate(value)
                if checked is None:
                    continue
                confidence = checked
            yield Match(match.start(group), match.end(group), value, confidence)


def rule(
    rule_id: str,
    title: str,
    severity: Severity,
    confidence: Confidence,
    description: str,
    remediation: str = ROTATE,
) -> Rule:
    """Build a Rule for a secret detector, with the rotate-and-remove remediation by default."""
    return Rule(rule_id, title, severity, confidence, description, remediation)


H, M, L = Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW

# A token ends where the next character could not be part of it.
_END = r"(?![A-Za-z0-9_])"
_START = r"(?<![A-Za-z0-9_])"


def _checksum_confidence(value: str) -> Confidence:
    return H if crc32_base62_valid(value.split("_", 1)[1]) else M


def _github_token(value: str) -> Confidence:
    return _checksum_confidence(value)


def _npm_token(value: str) -> Confidence:
    return _checksum_confidence(value)


def _jwt(value: str) -> Confidence | None:
    import base64
    import json

    header = value.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(decoded, dict) or "alg" not in decoded:
        return None
    return M


DETECTORS: list[RegexDetector] = [
    RegexDetector(
        rule(
            "aws-access-key-id",
            "AWS access key ID",
            Severity.HIGH,
            H,
            "An AWS access key ID. Long-term keys (AKIA) never expire; temporary ones (ASIA) "
            "come with a secret key and session token that may be nearby.",
            "Deactivate the key in IAM and rotate it, then use OIDC (AssumeRoleWithWebIdentity, "
            "`keyless aws`) so the pipeline needs no stored key.",
        ),
        ("akia", "asia", "abia", "acca", "a3t"),
        LazyPattern(_START + r"((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})" + _END),
        group=1,
    ),
    RegexDetector(
        rule(
            "github-token",
            "GitHub token",
            Severity.HIGH,
            M,
            "A GitHub personal access, OAuth, user-to-server, server-to-server or refresh token.",
        ),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        LazyPattern(_START + r"(gh[pousr]_[A-Za-z0-9]{36})" + _END),
        group=1,
        validate=_github_token,
    ),
    RegexDetector(
        rule(
            "github-fine-grained-token",
            "GitHub fine-grained personal access token",
            Severity.HIGH,
            H,
            "A GitHub fine-grained personal access token (github_pat_).",
        ),
        ("github_pat_",),
        LazyPattern(_START + r"(github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})" + _END),
        group=1,
    ),
    RegexDetector(
        rule(
            "gitlab-token",
            "GitLab token",
            Severity.HIGH,
            H,
            "A GitLab personal, project or group access token, deploy token, runner token, "
            "pipeline trigger token or CI build token.",
        ),
        (
            "glpat-",
            "gldt-",
            "glrt-",
            "glptt-",
            "glcbt-",
            "glft-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glsoat-",
        ),
        LazyPattern(
            # Routable tokens (GitLab 17.x and later) add dot-separated parts, such as
            # `.01.` and a checksum, after the random part.
            _START + r"((?:glpat|gldt|glrt|glft|glimt|glagent|gloas|glsoat)-[A-Za-z0-9_\-]{20,}"
            r"(?:\.[A-Za-z0-9_\-]+)*"
            r"|glptt-[0-9a-f]{40}|glcbt-[0-9a-fA-F]{1,5}_[A-Za-z0-9_\-]{20,})"
            + r"(?![A-Za-z0-9_\-])"
        ),
        group=1,
    ),
    RegexDetector(
        rule(
            "gitlab-runner-registration-token",
            "GitLab runner registration token",
            Severity.HIGH,
            M,
            "A legacy GitLab runner registration token (GR1348941 prefix), which lets anyone "
            "register a runner and receive CI jobs with their secrets.",
        ),
        ("gr1348941",),
        LazyPattern(_START + r"(GR1348941[A-Za-z0-9_\-]{20,})" + r"(?![A-Za-z0-9_\-])"),
        group=1,
    ),
    RegexDetector(
        rule(
            "slack-token",
            "Slack token",
            Severity.HIGH,
            H,
            "A Slack bot, user, app-level, configuration or refresh token.",
        ),
        ("xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe", "xapp-"),
        LazyPattern(
            _START + r"((?:xox[bpaors]-|xoxe(?:\.xox[bp])?-\d-)[A-Za-z0-9\-]{10,}"
            r"|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)" + r"(?![A-Za-z0-9\-])"
        ),
        group=1,
    ),
    RegexDetector(
        rule(
            "slack-webhook",
            "Slack incoming webhook",
            Severity.MEDIUM,
            H,
            "A Slack incoming-webhook URL: anyone holding it can post to the channel.",
        ),
        ("hooks.slack.com",),
        LazyPattern(
            r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,})"
        ),
        group=1,
    ),
    RegexDetector(
        rule(
            "stripe-key",
            "Stripe API key",
            Severity.CRITICAL,
            H,
            "A Stripe secret or restricted API key (sk_live_, rk_live_); test-mode keys "
            "(sk_test_) are reported at low severity by their own rule.",
        ),
        ("sk_live_", "rk_live_"),
        LazyPattern(_START + r"((?:sk|rk)_live_[A-Za-z0-9]{20,})" + _END),
        group=1,
    ),
    RegexDetector(
        rule(
            "stripe-test-key",
            "Stripe test-mode API key",
            Severity.LOW,
            H,
            "A Stripe test-mode secret key. It cannot move money, but reads test data.",
        ),
        ("sk_test_", "rk_test_"),
        LazyPattern(_START + r"((?:sk|rk)_test_[A-Za-z0-9]{20,})" + _END),
        group=1,
    ),
    RegexDetector(
        rule(
            "npm-token",
            "npm access token",
            Severity.HIGH,
            M,
            "An npm access token, which can publish packages. Prefer trusted publishing.",
        ),
        ("npm_",),
        LazyPattern(_START + r"(npm_[A-Za-z0-9]{36})" + _END),
        group=1,
        validate=_npm_token,
    ),
    RegexDetector(
        rule(
            "pypi-token",
            "PyPI API token",
            Severity.HIGH,
            H,
            "A PyPI or TestPyPI API token, which can upload releases. Prefer trusted publishing.",
        ),
        ("pypi-age",),
        LazyPattern(_START + r"(pypi-AgE[A-Za-z0-9_\-]{50,})" + r"(?![A-Za-z0-9_\-])"),
        group=1,
    ),
    RegexDetector(
        rule(
            "vault-token",
            "Vault token",
            Severity.HIGH,
            H,
            "A HashiCorp Vault service, batch or recovery token (hvs., hvb., hvr.).",
        ),
        ("hvs.", "hvb.", "hvr."),
        LazyPattern(_START + r"(hv[sbr]\.[A-Za-z0-9_\-]{24,})" + r"(?![A-Za-z0-9_\-])"),
        group=1,
    ),
    RegexDetector(
        rule(
            "azure-storage-connection-string",
            "Azure storage connection string",
            Severity.HIGH,
            H,
            "An Azure Storage connection string with an account key, which grants full "
            "access to the storage account.",
            "Rotate the storage account key, then use a managed or federated identity "
            "(`keyless azure`) instead of account keys.",
        ),
        ("accountkey=",),
        LazyPattern(r"(?i)AccountKey=([A-Za-z0-9+/]{86}==)"),
        group=1,
    ),
    RegexDetector(
        rule(
            "azure-sas-token",
            "Azure shared access signature",
            Severity.MEDIUM,
            M,
            "An Azure shared access signature (SAS): a signed URL query that grants access "
            "until it expires.",
        ),
        ("sig=",),
        # The signature's parameters come in any order: `sv` (the signed version) before
        # `sig`, or after it in the same query string.
        LazyPattern(
            r"(?i)(?<![A-Za-z0-9_])sv=\d{4}-\d{2}-\d{2}[^\s\"'<>]*?[&;]sig=([A-Za-z0-9%+/=]{40,})"
            r"|[?&;]sig=([A-Za-z0-9%+/=]{40,})(?=[^\s\"'<>]*?[&;]sv=\d{4}-\d{2}-\d{2})"
        ),
        group=LAST_GROUP,
    ),
    RegexDetector(
        rule(
            "jwt",
            "JSON Web Token",
            Severity.MEDIUM,
            M,
            "A JSON Web Token. It may be expired, but signed tokens often grant API access.",
            "Check whether the token is still valid and revoke the session or key that issued "
            "it; never commit tokens.",
        ),
        ("eyj",),
        LazyPattern(
            _START
            + r"(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,})"
            + r"(?![A-Za-z0-9_\-])"
        ),
        group=1,
        validate=_jwt,
    ),
]
