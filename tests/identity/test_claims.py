"""Subject derivation, time windows and issuer recognition."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from keyless.identity.claims import (
    analyse_subject,
    duration,
    numeric_date,
    ordered_claims,
    time_window,
)
from keyless.identity.issuers import GITHUB, classify
from tests.support.issuer import github_claims, gitlab_claims

NOW = int(time.time())


@pytest.mark.parametrize(
    ("overrides", "form", "derived_from"),
    [
        ({"sub": "repo:octo-org/octo-repo:ref:refs/heads/main"}, "default", "ref"),
        (
            {"environment": "prod", "sub": "repo:octo-org/octo-repo:environment:prod"},
            "default",
            "environment",
        ),
        (
            {"event_name": "pull_request", "sub": "repo:octo-org/octo-repo:pull_request"},
            "default",
            "pull_request",
        ),
        ({"sub": "repo:octo-org@65/octo-repo@74:ref:refs/heads/main"}, "immutable-id", "ref"),
        (
            {"sub": "repo:octo-org/octo-repo:job_workflow_ref:octo-org/x/.github/w.yml@v1"},
            "customised",
            None,
        ),
    ],
)
def test_github_subject(overrides: dict[str, str], form: str, derived_from: str | None) -> None:
    claims = github_claims(GITHUB, "aud", NOW, 300)
    claims.update(overrides)
    subject = analyse_subject(claims)
    assert subject.form == form
    assert subject.derived_from == derived_from


def test_customised_subject_components() -> None:
    claims = github_claims(GITHUB, "aud", NOW, 300)
    claims["sub"] = (
        "repo:octo-org/octo-repo:environment:prod:job_workflow_ref:"
        "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main"
    )
    claims["environment"] = "prod"
    subject = analyse_subject(claims)
    assert subject.components == ["repo", "environment", "job_workflow_ref"]


def test_gitlab_subject_default() -> None:
    subject = analyse_subject(gitlab_claims("https://gitlab.com", "aud", NOW, 300))
    assert subject.form == "default"
    assert subject.default == "project_path:my-group/my-project:ref_type:branch:ref:main"


def test_gitlab_subject_customised() -> None:
    claims = gitlab_claims("https://gitlab.com", "aud", NOW, 300)
    claims["sub"] = "project_path:my-group/my-project:environment:production"
    subject = analyse_subject(claims)
    assert subject.form == "customised"
    assert subject.components == ["project_path", "environment"]


def test_gitlab_claims_order() -> None:
    known, rest = ordered_claims(gitlab_claims("https://gitlab.com", "aud", NOW, 300))
    names = [name for name, _ in known]
    assert names[:5] == ["iss", "aud", "sub", "project_path", "project_id"]
    assert "pipeline_source" in names
    assert [name for name, _ in rest] == ["jti", "user_email"]


def test_time_window_status() -> None:
    claims = github_claims(GITHUB, "aud", NOW, 300)
    now = datetime.fromtimestamp(NOW, tz=timezone.utc)
    assert time_window(claims, now=now).status == "valid"
    later = datetime.fromtimestamp(NOW + 301, tz=timezone.utc)
    assert time_window(claims, now=later).status == "expired"
    earlier = datetime.fromtimestamp(NOW - 601, tz=timezone.utc)
    assert time_window(claims, now=earlier).status == "not yet valid"


@pytest.mark.parametrize(
    ("issuer", "kind"),
    [
        (GITHUB, "github.com"),
        (GITHUB + "/octo-enterprise", "ghec-unique"),
        ("https://token.actions.octocorp.ghe.com", "ghe.com"),
        ("https://github.example.com/_services/token", "ghes"),
        ("https://gitlab.com", "gitlab.com"),
        ("https://agent.buildkite.com", "buildkite"),
        ("https://oidc.circleci.com/org/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "circleci"),
        (GITHUB + ".evil.example", "look-alike"),
        (GITHUB + "/", "look-alike"),
        ("http://token.actions.githubusercontent.com", "look-alike"),
        ("https://Token.Actions.GitHubUserContent.com", "look-alike"),
        ("https://token.actions.octocorp.ghe.com.evil.example", "look-alike"),
        ("https://evil-gitlab.com", "look-alike"),
        ("https://gitlab.company.example", "unknown"),
    ],
)
def test_classify_issuer(issuer: str, kind: str) -> None:
    assert classify(issuer).kind == kind


def test_self_managed_gitlab_by_claims() -> None:
    claims = gitlab_claims("https://gitlab.company.example", "aud", NOW, 300)
    info = classify("https://gitlab.company.example", claims)
    assert info.kind == "gitlab-self-managed"
    assert info.platform == "gitlab"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (65, "1m 5s"),
        (3723, "1h 2m 3s"),
        (86400, "1d 0h 0m 0s"),
        (796404935, "9217d 15h 35m 35s"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (1700000000, 1700000000.0),
        (1700000000.5, 1700000000.5),
        (0, 0.0),
        (1e308, None),
        (-1e308, None),
        (10**400, None),
        (253402300800, None),
        (float("nan"), None),
        (float("inf"), None),
        (True, None),
        ("1700000000", None),
        (None, None),
        ([1], None),
    ],
)
def test_numeric_date(value: object, seconds: float | None) -> None:
    assert numeric_date(value) == seconds


def test_time_window_with_unreadable_claims() -> None:
    claims = github_claims(GITHUB, "aud", NOW, 300)
    claims.update(exp=1e308, iat="yesterday")
    window = time_window(claims)
    assert window.expires_at is None
    assert window.issued_at is None
    assert window.invalid == {"iat": '"yesterday"', "exp": "1e+308"}
    assert window.status == "unknown"
