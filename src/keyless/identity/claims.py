"""Reading a token's claims: display order, how `sub` was derived, and the time window."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

# Display order of the claims GitHub Actions and GitLab CI tokens carry.
GITHUB_CLAIMS = (
    "iss",
    "aud",
    "sub",
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "enterprise",
    "enterprise_id",
    "ref",
    "ref_type",
    "ref_protected",
    "sha",
    "environment",
    "event_name",
    "head_ref",
    "base_ref",
    "workflow",
    "workflow_ref",
    "workflow_sha",
    "job_workflow_ref",
    "job_workflow_sha",
    "run_id",
    "run_number",
    "run_attempt",
    "actor",
    "actor_id",
    "runner_environment",
)
GITLAB_CLAIMS = (
    "iss",
    "aud",
    "sub",
    "project_path",
    "project_id",
    "project_visibility",
    "namespace_path",
    "namespace_id",
    "ref",
    "ref_type",
    "ref_path",
    "ref_protected",
    "sha",
    "pipeline_source",
    "pipeline_id",
    "job_id",
    "environment",
    "environment_protected",
    "deployment_tier",
    "environment_action",
    "user_login",
    "user_id",
    "user_access_level",
    "runner_id",
    "runner_environment",
    "ci_config_ref_uri",
    "ci_config_sha",
)
TIME_CLAIMS = ("iat", "nbf", "exp")


def platform_of(claims: Mapping[str, Any]) -> str | None:
    """Return "github" or "gitlab" when the claim set is theirs, else None."""
    if "repository" in claims and ("workflow_ref" in claims or "run_id" in claims):
        return "github"
    if "project_path" in claims and "pipeline_id" in claims:
        return "gitlab"
    return None


def format_value(value: Any) -> str:
    """Return a claim value as text: lists joined with ", ", other JSON as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    return json.dumps(value)


def ordered_claims(
    claims: Mapping[str, Any],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return (platform claims in display order, every other non-time claim sorted by name)."""
    order = GITLAB_CLAIMS if platform_of(claims) == "gitlab" else GITHUB_CLAIMS
    known = [(name, format_value(claims[name])) for name in order if name in claims]
    rest = sorted(
        (name, format_value(value))
        for name, value in claims.items()
        if name not in order and name not in TIME_CLAIMS
    )
    return known, rest


def audiences(claims: Mapping[str, Any]) -> list[str]:
    """Return the `aud` claim as a list: JWT allows a string or an array."""
    value = claims.get("aud")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


@dataclass(frozen=True)
class Subject:
    """The token's `sub` and the claims it was built from."""

    value: str
    # default, immutable-id, customised or unknown.
    form: str
    # The claim the last part of a default `sub` comes from: environment,
    # pull_request or ref (GitHub); ref (GitLab); None when not derived.
    derived_from: str | None
    explanation: str
    # The default `sub` these claims give in the name form, and in the immutable-id
    # form (GitHub only), for comparison with trust policies.
    default: str | None = None
    immutable: str | None = None
    # For a customised `sub`: the claim names it is made of, in order.
    components: list[str] = field(default_factory=list)


def github_context(claims: Mapping[str, Any]) -> tuple[str, str]:
    """Return (source, last part) of GitHub's default `sub`: environment, pull_request or ref."""
    environment = claims.get("environment")
    if environment:
        return "environment", f"environment:{environment}"
    if claims.get("event_name") == "pull_request":
        return "pull_request", "pull_request"
    return "ref", f"ref:{claims.get('ref', '')}"


def analyse_subject(claims: Mapping[str, Any]) -> Subject:
    """Return how `sub` was derived, for GitHub and GitLab claim sets."""
    value = str(claims.get("sub", ""))
    platform = platform_of(claims)
    if platform == "github":
        return _github_subject(value, claims)
    if platform == "gitlab":
        return _gitlab_subject(value, claims)
    return Subject(value, "unknown", None, "not a GitHub or GitLab claim set")


def _github_subject(value: str, claims: Mapping[str, Any]) -> Subject:
    source, context = github_context(claims)
    repository = str(claims.get("repository", ""))
    owner, _, name = repository.partition("/")
    default = f"repo:{repository}:{context}"
    immutable = None
    if claims.get("repository_owner_id") and claims.get("repository_id"):
        immutable = (
            f"repo:{owner}@{claims['repository_owner_id']}/{name}@{claims['repository_id']}"
            f":{context}"
        )
    reasons = {
        "environment": f"the job declares `environment: {claims.get('environment')}`, so the "
        "sub ends with the environment, not the branch or tag",
        "pull_request": "the run was triggered by a pull_request event and the job declares no "
        "environment, so the sub ends with pull_request, without a branch name",
        "ref": "the job declares no environment and the event is not pull_request, so the "
        f"sub ends with the ref {claims.get('ref')}",
    }
    if value == default:
        return Subject(value, "default", source, reasons[source], default, immutable)
    if immutable is not None and value == immutable:
        return Subject(
            value,
            "immutable-id",
            source,
            "immutable-id form: owner and repository names carry their numeric ids "
            "(owner@ID/repository@ID), so a renamed or re-registered name cannot match. "
            f"GitHub uses it by default for repositories created or renamed on or after "
            f"2026-07-15. {reasons[source][0].upper()}{reasons[source][1:]}",
            default,
            immutable,
        )
    components = _components(value, claims)
    listing = ", ".join(components) if components else "not recognised"
    return Subject(
        value,
        "customised",
        None,
        "customised by the repository or organisation (OIDC subject claim template); "
        f"its parts: {listing}",
        default,
        immutable,
        components,
    )


def _gitlab_subject(value: str, claims: Mapping[str, Any]) -> Subject:
    default = (
        f"project_path:{claims.get('project_path')}:ref_type:{claims.get('ref_type')}"
        f":ref:{claims.get('ref')}"
    )
    if value == default:
        return Subject(
            value,
            "default",
            "ref",
            f"made of project_path, ref_type ({claims.get('ref_type')}) and ref "
            f"({claims.get('ref')}); GitLab's ref is the short branch or tag name",
            default,
        )
    components = _components(value, claims)
    listing = ", ".join(components) if components else "not recognised"
    return Subject(
        value,
        "customised",
        None,
        f"customised in the project's settings; its parts: {listing}",
        default,
        components=components,
    )


# Keys of a customised GitHub `sub` that are not claim names: `repo` is the
# repository and `context` expands to one of these.
_CONTEXT_KEYS = ("environment", "pull_request", "ref")


def _components(value: str, claims: Mapping[str, Any]) -> list[str]:
    """Split a customised `sub` of `key:value` pairs into its claim names."""
    parts = value.split(":")
    names: list[str] = []
    index = 0
    while index < len(parts):
        key = parts[index]
        if key == "pull_request":
            names.append("context (pull_request)")
            index += 1
            continue
        if key not in claims and key not in ("repo", *_CONTEXT_KEYS):
            return names
        expected = str(claims.get("repository" if key == "repo" else key, ""))
        length = expected.count(":") + 1
        names.append(key)
        index += 1 + length
    return names


@dataclass(frozen=True)
class TimeWindow:
    """The token's validity window against the local clock."""

    issued_at: datetime | None
    not_before: datetime | None
    expires_at: datetime | None
    now: datetime
    # Seconds the local clock runs ahead of the issuer's, when measured.
    clock_skew: float | None
    # Where the clock skew was measured, or tried to be: a host name.
    clock_skew_source: str | None
    # Time claims that are present but not a time keyless can show: the claim name
    # and the value as JSON.
    invalid: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """Return valid, expired, not yet valid or unknown (without leeway)."""
        if "exp" in self.invalid or "nbf" in self.invalid:
            return "unknown"
        if self.expires_at is not None and self.now >= self.expires_at:
            return "expired"
        if self.not_before is not None and self.now < self.not_before:
            return "not yet valid"
        return "valid"


def numeric_date(value: Any) -> float | None:
    """Return a JWT NumericDate as seconds since the epoch, or None when it is not one.

    Only a finite number that a date can hold (years 1 to 9999, UTC) counts: a
    boolean, a string, NaN, an infinity or 1e308 is not a time.
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
        datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return seconds


def _timestamp(value: Any) -> datetime | None:
    seconds = numeric_date(value)
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def time_window(
    claims: Mapping[str, Any],
    clock_skew: float | None = None,
    clock_skew_source: str | None = None,
    now: datetime | None = None,
) -> TimeWindow:
    """Return the window from `iat`, `nbf` and `exp`; unreadable ones go to `invalid`."""
    invalid = {
        name: _json_excerpt(claims[name])
        for name in TIME_CLAIMS
        if name in claims and numeric_date(claims[name]) is None
    }
    return TimeWindow(
        issued_at=_timestamp(claims.get("iat")),
        not_before=_timestamp(claims.get("nbf")),
        expires_at=_timestamp(claims.get("exp")),
        now=now or datetime.now(timezone.utc),
        clock_skew=clock_skew,
        clock_skew_source=clock_skew_source,
        invalid=invalid,
    )


def _json_excerpt(value: Any) -> str:
    """Return a claim value as JSON, cut to 40 characters, for a note."""
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def relative(moment: datetime, now: datetime) -> str:
    """Return "in 4m 12s" or "3m 5s ago"."""
    seconds = round((moment - now).total_seconds())
    text = duration(abs(seconds))
    if seconds > 0:
        return f"in {text}"
    if seconds == 0:
        return "now"
    return f"{text} ago"


def duration(seconds: float) -> str:
    """Return a duration as "2d 1h 2m 3s", "1h 2m 3s", "4m 5s" or "6s"."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m {secs}s"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
