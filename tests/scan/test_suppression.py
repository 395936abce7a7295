"""Inline allow comments, detect-secrets pragmas and --no-inline-allow."""

from __future__ import annotations

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, scan_json

# (label, file content with {token} for a GitHub token, whether it is hidden)
CASES = [
    ("same line", "t = '{token}'  # keyless: allow[github-token] test fixture\n", True),
    ("line above", "# keyless: allow[github-token] rotated\nt = '{token}'\n", True),
    ("several rules", "t = '{token}'  # keyless: allow[slack-token, github-token]\n", True),
    ("other rule", "t = '{token}'  # keyless: allow[slack-token]\n", False),
    ("wildcard is not accepted", "t = '{token}'  # keyless: allow[*]\n", False),
    ("no rule", "t = '{token}'  # keyless: allow\n", False),
    ("pragma", "t = '{token}'  # pragma: allowlist secret\n", True),
    ("pragma next line", "# pragma: allowlist nextline secret\nt = '{token}'\n", True),
    ("pragma two lines above", "# pragma: allowlist nextline secret\n\nt = '{token}'\n", False),
    ("above, after code", "x = 1  # keyless: allow[github-token]\nt = '{token}'\n", False),
    ("two lines above", "# keyless: allow[github-token]\nx = 1\nt = '{token}'\n", False),
    ("yaml comment above", "env:\n  # keyless: allow[github-token]\n  T: {token}\n", True),
    ("slash comment", "const t = '{token}'; // keyless: allow[github-token]\n", True),
    (
        "string literal above",
        "ITEMS = [\n    'keyless: allow[github-token] ok',\n    '{token}',\n]\n",
        False,
    ),
    ("quoted string above", '"keyless: allow[github-token]",\n"{token}"\n', False),
    ("basic comment above", '\' keyless: allow[github-token] rotated\nt = "{token}"\n', True),
]


@pytest.mark.parametrize(
    ("label", "content", "hidden"), CASES, ids=[label for label, _, _ in CASES]
)
def test_inline_allow(
    label: str,
    content: str,
    hidden: bool,
    repo: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo.write("file.py", content.format(token=fakes.github_token()))
    monkeypatch.chdir(repo.path)
    result, document = scan_json(capsys)
    assert (document["findings"] == []) is hidden
    assert document["suppressed"] == (1 if hidden else 0)
    assert result.code == (0 if hidden else 1)
    shown, everything = scan_json(capsys, "--no-inline-allow")
    assert shown.code == 1
    assert len(everything["findings"]) == 1
    assert everything["suppressed"] == 0


def test_allow_hides_only_its_line(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    content = (
        f"a = '{fakes.github_token()}'  # keyless: allow[github-token]\n"
        f"b = '{fakes.github_token()}'\n"
    )
    repo.write("file.py", content)
    monkeypatch.chdir(repo.path)
    _, document = scan_json(capsys)
    assert located(document) == [("github-token", "file.py", 2, 6)]


def test_text_report_says_what_was_hidden(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.scan.support import run

    repo.write("file.py", f"a = '{fakes.github_token()}'  # pragma: allowlist secret\n")
    monkeypatch.chdir(repo.path)
    result = run(capsys, "scan")
    assert result.code == 0
    assert "Not shown: 1 allowed by inline comments" in result.out
    assert "--no-inline-allow" in result.out


def test_no_inline_allow_from_environment(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("file.py", f"a = '{fakes.github_token()}'  # pragma: allowlist secret\n")
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("KEYLESS_NO_INLINE_ALLOW", "true")
    result, document = scan_json(capsys)
    assert result.code == 1
    assert len(document["findings"]) == 1
