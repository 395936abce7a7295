"""The issuers keyless recognises, by exact `iss` value, and look-alikes of them.

Recognised: GitHub Actions on github.com (`https://token.actions.githubusercontent.com`),
GitHub Enterprise Cloud with a unique issuer (that URL plus `/<enterprise>`), GHE.com
(`https://token.actions.<subdomain>.ghe.com`, optionally plus `/<enterprise>`),
GitHub Enterprise Server (`https://HOST/_services/token`), gitlab.com, self-managed
GitLab (by its claims), CircleCI and Buildkite. Issuer identifiers are compared as
exact strings, as OpenID Connect Discovery requires: a different case, a trailing
slash or an extra label makes a different issuer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

GITHUB = "https://token.actions.githubusercontent.com"
GITLAB_COM = "https://gitlab.com"
BUILDKITE = "https://agent.buildkite.com"
CIRCLECI_PREFIX = "https://oidc.circleci.com/org/"

_GITHUB_HOST = "token.actions.githubusercontent.com"
# Recognised issuer host -> the domain it belongs to.
_KNOWN_HOSTS = {
    _GITHUB_HOST: "githubusercontent.com",
    "gitlab.com": "gitlab.com",
    "oidc.circleci.com": "circleci.com",
    "agent.buildkite.com": "buildkite.com",
}
_SLUG = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_GHEC_UNIQUE = re.compile(re.escape(GITHUB) + rf"/(?P<enterprise>{_SLUG})")
_GHE_COM = re.compile(
    rf"https://token\.actions\.(?P<subdomain>{_SLUG})\.ghe\.com(?:/(?P<enterprise>{_SLUG}))?"
)
_GHES = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/_services/token")
_CIRCLECI = re.compile(re.escape(CIRCLECI_PREFIX) + r"(?P<org>[0-9a-f-]{36})")


@dataclass(frozen=True)
class IssuerInfo:
    """The classification of an `iss` value: its kind, platform and description."""

    url: str
    # github.com, ghec-unique, ghe.com, ghes, gitlab.com, gitlab-self-managed,
    # circleci, buildkite, look-alike or unknown.
    kind: str
    description: str
    platform: str | None = None
    # For a look-alike: the recognised issuer it imitates.
    imitates: str | None = None

    @property
    def recognised(self) -> bool:
        return self.kind not in ("look-alike", "unknown", "invalid")


def split_url(url: str) -> SplitResult | None:
    """Return the parts of `url`, or None when it cannot be parsed (such as `https://[`)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def is_loopback(url: str) -> bool:
    """Return whether the URL's host is localhost or a loopback address."""
    parts = split_url(url)
    host = (parts.hostname if parts else None) or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def classify(issuer: str, claims: Mapping[str, Any] | None = None) -> IssuerInfo:
    """Return what `issuer` is; `claims` lets self-managed GitLab be recognised."""
    if split_url(issuer) is None:
        return IssuerInfo(issuer, "invalid", "not a URL keyless can parse")
    known = _recognise(issuer)
    if known is not None:
        return known
    imitated = _imitates(issuer)
    if imitated is not None:
        return IssuerInfo(
            issuer,
            "look-alike",
            f"not {imitated[0]}: {imitated[1]}",
            imitates=imitated[0],
        )
    claims = claims or {}
    if issuer.startswith("https://") and "project_path" in claims and "pipeline_id" in claims:
        host = urlsplit(issuer).netloc
        return IssuerInfo(
            issuer, "gitlab-self-managed", f"self-managed GitLab at {host}", platform="gitlab"
        )
    return IssuerInfo(issuer, "unknown", "an issuer keyless does not recognise")


def _recognise(issuer: str) -> IssuerInfo | None:
    if issuer == GITHUB:
        return IssuerInfo(issuer, "github.com", "GitHub Actions on github.com", "github")
    match = _GHEC_UNIQUE.fullmatch(issuer)
    if match:
        enterprise = match["enterprise"]
        return IssuerInfo(
            issuer,
            "ghec-unique",
            f"GitHub Enterprise Cloud, unique issuer of the enterprise {enterprise}",
            "github",
        )
    match = _GHE_COM.fullmatch(issuer)
    if match:
        where = f"GHE.com ({match['subdomain']}.ghe.com)"
        if match["enterprise"]:
            where += f", unique issuer of the enterprise {match['enterprise']}"
        return IssuerInfo(issuer, "ghe.com", where, "github")
    match = _GHES.fullmatch(issuer)
    if match and not _imitates(issuer):
        return IssuerInfo(issuer, "ghes", f"GitHub Enterprise Server at {match['host']}", "github")
    if issuer == GITLAB_COM:
        return IssuerInfo(issuer, "gitlab.com", "GitLab CI on gitlab.com", "gitlab")
    match = _CIRCLECI.fullmatch(issuer)
    if match:
        return IssuerInfo(issuer, "circleci", f"CircleCI organisation {match['org']}", "circleci")
    if issuer == BUILDKITE:
        return IssuerInfo(issuer, "buildkite", "Buildkite", "buildkite")
    return None


def _imitates(issuer: str) -> tuple[str, str] | None:
    """Return (imitated issuer, why) when `issuer` resembles a recognised one."""
    parts = urlsplit(issuer)
    host = (parts.hostname or "").lower()
    for known, domain in _KNOWN_HOSTS.items():
        if host == known:
            if parts.scheme != "https":
                return known, f"{known} issues tokens only over https"
            if issuer.endswith("/"):
                return known, "a trailing slash makes a different issuer identifier"
            if (parts.netloc or "") != known:
                return known, "issuer identifiers are compared exactly, including case"
            return known, "this path is not one of its issuers"
        if host.startswith(known + "."):
            return known, f"the host {host} only starts with {known}"
        if host.endswith(domain):
            return known, f"the host {host} is another host under or resembling {domain}"
    if ".ghe.com" in host and not host.endswith(".ghe.com"):
        return "ghe.com", f"the host {host} is not under ghe.com"
    return None
