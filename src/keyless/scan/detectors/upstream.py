"""detect-secrets plugins, run through keyless's prefilter.

keyless uses the plugins' own regular expressions for the secret types it has no
detector of its own for. Plugins are imported on first use, so scans whose lines
never mention these types never pay for importing detect-secrets. Nothing here
calls a plugin's `verify()`: keyless never sends a found secret anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.findings import Confidence, Rule, Severity
from keyless.scan.detectors.base import Match
from keyless.scan.detectors.patterns import ROTATE
from keyless.scan.detectors.plugin_loader import import_plugin
from keyless.scan.placeholders import is_placeholder


@dataclass(frozen=True)
class PluginSpec:
    """A detect-secrets plugin and the keywords every match of its regexes contains."""

    module: str
    cls: str
    rule_id: str
    title: str
    keywords: tuple[str, ...]
    # A regex that matches part of every match of the plugin's patterns (the value's
    # shape, with the patterns' own case sensitivity). Lines without it never import
    # detect-secrets, which takes about 0.15 s, nor run the plugin's patterns.
    shape: str
    # Indexes into the plugin's denylist; None means all of them.
    patterns: tuple[int, ...] | None = None
    # Whether the secrets can be 64 hex digits, which other values of that shape (a
    # SHA-256 digest) are taken not to be.
    hex_values: bool = False
    # Line patterns for the prefilter (see keyless.scan.detectors.base.Detector).
    line_patterns: tuple[str, ...] = ()


# Every match of the Cloudant patterns starts with cloudant, clou or cl, then an optional
# `_` or `-` and `api`, then one of key, pw (also in pwd), pass (also in password) or
# token. The URL patterns contain `.cloudant.com`, which contains `clou`.
_CLOUDANT_KEYWORDS = (
    "clou",
    *(
        f"cl{separator}{api}{word}"
        for separator in ("", "_", "-")
        for api in ("", "api")
        for word in ("key", "pw", "pass", "token")
    ),
)

# A name ending in key, pw, pwd, pass, password or token, a separator, and the first 24
# characters of a value. Every match of the IBM Cloud IAM, IBM COS HMAC, SoftLayer and
# Cloudant name patterns contains one, because their values are 24 to 64 such characters.
_NAMED_VALUE_LINE = r"(?:key|pwd?|pass(?:word)?|token)[\"'\] =:>]+[a-z0-9_\-]{24}"

# Plugins whose patterns have no literal anchor (Discord, Telegram, Twilio, the entropy
# plugins, and Artifactory's `AP` pattern) would send most lines past the prefilter, and
# are left out. keyless's own detectors replace the others (AWS, GitHub, GitLab, JWT,
# keyword, npm, private key, PyPI, Slack, Stripe, Azure storage, basic auth).
PLUGINS: tuple[PluginSpec, ...] = (
    PluginSpec(
        "artifactory",
        "ArtifactoryDetector",
        "artifactory-token",
        "Artifactory API key",
        ("akc",),
        r"AKC[a-zA-Z0-9]{10}",
        patterns=(0,),
    ),
    PluginSpec(
        "cloudant",
        "CloudantDetector",
        "cloudant-credentials",
        "Cloudant credentials",
        _CLOUDANT_KEYWORDS,
        r"(?i)[0-9a-f]{64}|[a-z]{24}",
        line_patterns=(_NAMED_VALUE_LINE, r"\.cloudant\.com"),
        hex_values=True,
    ),
    PluginSpec(
        "ibm_cloud_iam",
        "IbmCloudIamDetector",
        "ibm-cloud-iam-key",
        "IBM Cloud IAM key",
        ("key", "pwd", "pass", "token"),
        r"(?i)[a-z0-9_\-]{44}",
        line_patterns=(_NAMED_VALUE_LINE,),
    ),
    PluginSpec(
        "ibm_cos_hmac",
        "IbmCosHmacDetector",
        "ibm-cos-hmac-key",
        "IBM Cloud Object Storage HMAC key",
        ("secret",),
        r"(?i)[a-f0-9]{48}",
        line_patterns=(_NAMED_VALUE_LINE,),
    ),
    PluginSpec(
        "mailchimp",
        "MailchimpDetector",
        "mailchimp-key",
        "Mailchimp API key",
        ("-us",),
        r"[0-9a-z]{32}-us[0-9]",
        line_patterns=(r"-us[0-9]",),
    ),
    PluginSpec(
        "openai", "OpenAIDetector", "openai-key", "OpenAI API key", ("t3blbkfj",), "T3BlbkFJ"
    ),
    PluginSpec(
        "sendgrid",
        "SendGridDetector",
        "sendgrid-key",
        "SendGrid API key",
        ("sg.",),
        r"SG\.",
        line_patterns=(r"sg\.[a-z0-9_\-]{22}\.",),
    ),
    PluginSpec(
        "softlayer",
        "SoftlayerDetector",
        "softlayer-key",
        "SoftLayer API key",
        ("key", "pwd", "pass", "token", "softlayer"),
        r"(?i)[a-z0-9]{64}",
        # The URL pattern writes `api.softlayer.com` with unescaped dots, which match
        # any character, so only `softlayer` is sure to be on the line.
        line_patterns=(_NAMED_VALUE_LINE, "softlayer"),
        hex_values=True,
    ),
    PluginSpec(
        "square_oauth",
        "SquareOAuthDetector",
        "square-oauth-secret",
        "Square OAuth secret",
        ("sq0csp-",),
        r"sq0csp-",
    ),
)

_DELIMITERS = " \t=:\"'"


@dataclass
class PluginDetector:
    """Run one detect-secrets plugin's regexes on the lines the prefilter passes."""

    spec: PluginSpec
    rule: Rule
    keywords: tuple[str, ...]
    line_patterns: tuple[str, ...] = ()
    _patterns: list[re.Pattern[str]] | None = field(default=None, repr=False)
    _shape: re.Pattern[str] | None = field(default=None, repr=False)

    def find(self, text: str, start: int, end: int) -> Iterator[Match]:
        if self._shape is None:
            self._shape = re.compile(self.spec.shape)
        if self._shape.search(text, start, end) is None:
            return
        for pattern in self.load():
            for match in pattern.finditer(text, start, end):
                group = _last_group(match)
                value = match.group(group).strip(_DELIMITERS)
                if not value or is_placeholder(value, hex_ids=not self.spec.hex_values):
                    continue
                offset = match.start(group) + match.group(group).index(value)
                yield Match(offset, offset + len(value), value, self.rule.confidence)

    def load(self) -> list[re.Pattern[str]]:
        """Return the plugin's patterns, importing detect-secrets the first time."""
        if self._patterns is None:
            module = import_plugin(f"detect_secrets.plugins.{self.spec.module}")
            denylist = list(getattr(module, self.spec.cls).denylist)
            indexes = self.spec.patterns or range(len(denylist))
            self._patterns = [denylist[i] for i in indexes]
        return self._patterns


def _last_group(match: re.Match[str]) -> int:
    for index in range(len(match.groups()), 0, -1):
        if match.group(index):
            return index
    return 0


def plugin_detectors() -> list[PluginDetector]:
    """Return a detector for each bundled detect-secrets plugin."""
    return [
        PluginDetector(
            spec=spec,
            rule=Rule(
                spec.rule_id,
                spec.title,
                Severity.HIGH,
                Confidence.MEDIUM,
                f"{spec.title}, found by detect-secrets' {spec.cls}.",
                ROTATE,
            ),
            keywords=spec.keywords,
            line_patterns=spec.line_patterns,
        )
        for spec in PLUGINS
    ]
