"""Claim-by-claim explanations of mismatches."""

from __future__ import annotations

import time

import pytest

from keyless.errors import UsageError
from keyless.identity.explain import (
    Expectation,
    expectations,
    explain,
    glob_match,
    mismatches,
    render_table,
)
from keyless.identity.issuers import GITHUB
from tests.support.issuer import github_claims, gitlab_claims

NOW = int(time.time())


def _github(**overrides: str) -> dict[str, object]:
    claims = github_claims(GITHUB, "sts.amazonaws.com", NOW, 300)
    claims.update(overrides)
    return claims


def _gitlab(**overrides: str) -> dict[str, object]:
    claims = gitlab_claims("https://gitlab.com", "https://vault.example.com", NOW, 300)
    claims.update(overrides)
    return claims


def _note(claims: dict[str, object], text: str) -> str:
    (row,) = explain(claims, [Expectation.parse(text)])
    assert not row.ok
    return row.note


def test_glob_match_is_ok() -> None:
    rows = explain(_github(), [Expectation.parse("sub=repo:octo-org/octo-repo:*")])
    assert rows[0].ok
    assert mismatches(rows) == []


def test_case_only_difference() -> None:
    note = _note(_github(), "repository=Octo-Org/Octo-Repo")
    assert note.startswith("differs only in case")


def test_reusable_workflow_job_workflow_ref() -> None:
    claims = _github(
        job_workflow_ref="octo-org/shared/.github/workflows/deploy.yml@refs/heads/main"
    )
    note = _note(claims, "job_workflow_ref=octo-org/octo-repo/.github/workflows/*")
    assert "this job runs in a reusable workflow" in note
    assert "octo-org/shared/.github/workflows/deploy.yml@refs/heads/main" in note
    assert "expect workflow_ref instead" in note


def test_token_sub_immutable_form() -> None:
    claims = _github(sub="repo:octo-org@65/octo-repo@74:ref:refs/heads/main")
    note = _note(claims, "sub=repo:octo-org/octo-repo:ref:refs/heads/main")
    assert "immutable-id form" in note
    assert "expect repo:octo-org@65/octo-repo@74:ref:refs/heads/main" in note


def test_expected_sub_immutable_form() -> None:
    note = _note(_github(), "sub=repo:octo-org@65/octo-repo@74:*")
    assert "the expected sub uses the immutable-id form" in note
    assert "expect repo:octo-org/octo-repo:ref:refs/heads/main" in note


def test_immutable_pattern_customised_sub() -> None:
    claims = _github(sub="repository_owner:octo-org:ref:refs/heads/main")
    note = _note(claims, "sub=repo:octo-org@65/octo-repo@74:*")
    assert "customised" in note
    assert "expect repo:octo-org/octo-repo" not in note


def test_sub_from_environment() -> None:
    claims = _github(environment="prod", sub="repo:octo-org/octo-repo:environment:prod")
    note = _note(claims, "sub=repo:octo-org/octo-repo:ref:refs/heads/main")
    assert "the expected sub ends with ref" in note
    assert "environment: prod" in note


def test_sub_from_pull_request() -> None:
    claims = _github(event_name="pull_request", sub="repo:octo-org/octo-repo:pull_request")
    note = _note(claims, "sub=repo:octo-org/octo-repo:ref:*")
    assert "pull_request event" in note


def test_customised_sub() -> None:
    claims = _github(sub="repository_owner:octo-org:environment:prod", environment="prod")
    note = _note(claims, "sub=repo:octo-org/*")
    assert "customised" in note
    assert "repository_owner, environment" in note


def test_missing_environment() -> None:
    (row,) = explain(_github(), [Expectation.parse("environment=prod")])
    assert row.token_value == "(missing)"
    assert "declares no environment" in row.note


def test_github_claim_on_gitlab_token() -> None:
    note = _note(_gitlab(), "job_workflow_ref=*")
    assert "is a GitHub Actions claim; this is a GitLab CI token" in note


def test_audience_note_github() -> None:
    (row,) = explain(_github(), expectations(audience="sts"))
    assert not row.ok
    assert "request it with --audience sts" in row.note


def test_audience_note_gitlab() -> None:
    (row,) = explain(_gitlab(), expectations(audience="vault"))
    assert "set `aud: vault` under the job's id_tokens" in row.note


def test_audience_exact_not_glob() -> None:
    (row,) = explain(_github(), expectations(audience="sts.*"))
    assert not row.ok


def test_issuer_trailing_slash() -> None:
    (row,) = explain(_github(), expectations(issuer=GITHUB + "/"))
    assert not row.ok
    assert "trailing slash" in row.note


def test_issuer_enterprise_unique() -> None:
    claims = _github(iss=GITHUB + "/octo-enterprise")
    (row,) = explain(claims, expectations(issuer=GITHUB))
    assert "unique issuer URL" in row.note


def test_issuer_lookalike() -> None:
    claims = _github(iss=GITHUB + ".evil.example")
    (row,) = explain(claims, expectations(issuer=GITHUB))
    assert "not token.actions.githubusercontent.com" in row.note


@pytest.mark.parametrize(
    ("claims", "pattern", "expected"),
    [
        (_github(), "ref=main", "GitHub's ref claim is the full ref"),
        (_gitlab(), "ref=refs/heads/main", "GitLab's ref claim is the short name"),
    ],
)
def test_ref_notes(claims: dict[str, object], pattern: str, expected: str) -> None:
    assert expected in _note(claims, pattern)


def test_invalid_expect_claim() -> None:
    with pytest.raises(UsageError):
        Expectation.parse("no-equals-sign")


def test_render_table_lists_rows() -> None:
    rows = explain(_github(), [Expectation.parse("ref=main"), Expectation.parse("actor=*")])
    lines = render_table(rows).splitlines()
    assert lines[0].split() == ["claim", "token", "value", "expected", "note"]
    assert lines[1].startswith("MISMATCH  ref")
    assert lines[2].startswith("ok        actor")


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("4[0-9]", "42", False),
        ("4[0-9]", "4[0-9]", True),
        ("octo-org/[x]repo", "octo-org/[x]repo", True),
        ("octo-org/[x]repo", "octo-org/xrepo", False),
        ("[!a]", "b", False),
        ("[!a]", "[!a]", True),
        ("a\\*", "a\\bc", True),
        ("repo:octo-org/*", "repo:octo-org/app:ref:refs/heads/main", True),
        ("repo:octo-org/*:ref:refs/heads/main", "repo:octo-org/app:ref:refs/heads/dev", False),
        ("run_?", "run_1", True),
        ("run_?", "run_12", False),
        ("*", "", True),
        ("?", "", False),
        ("a*b*c", "a-b-b-c", True),
        ("a*b*c", "a-c-b", False),
        ("line*", "line\nnext", True),
    ],
)
def test_glob_only_star_and_question_mark(pattern: str, value: str, matches: bool) -> None:
    assert glob_match(pattern, value) is matches


def test_glob_many_stars() -> None:
    """Many stars against a long value: the matcher never backtracks exponentially."""
    assert not glob_match("*a" * 30 + "b", "a" * 20_000)
    assert glob_match("*a" * 30 + "b", "a" * 20_000 + "b")


@pytest.mark.parametrize(
    ("claim", "value", "text", "ok"),
    [
        ("run_id", "42", "run_id=4[0-9]", False),
        ("run_id", "4[0-9]", "run_id=4[0-9]", True),
        ("repository", "octo-org/xrepo", "repository=octo-org/[x]repo", False),
        ("repository", "octo-org/[x]repo", "repository=octo-org/[x]repo", True),
    ],
)
def test_expect_claim_brackets_literal(claim: str, value: str, text: str, ok: bool) -> None:
    (row,) = explain(_github(**{claim: value}), [Expectation.parse(text)])
    assert row.ok is ok


def test_brackets_literal_in_case_note() -> None:
    claims = _github(repository="octo-org/[x]repo")
    assert explain(claims, [Expectation.parse("repository=octo-org/[x]repo")])[0].ok
    note = _note(claims, "repository=Octo-Org/[X]repo")
    assert note.startswith("differs only in case")
