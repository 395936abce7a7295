"""A file name that is not UTF-8 appears in every report format as `\\xNN` escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keyless.cli import main
from keyless.report import FORMATS
from tests.conftest import GitRepo
from tests.fakes import github_token

# The bytes of the file name, and how every report writes it.
RAW_NAME = b"conf-\xff\xfe.env"
SHOWN = "conf-\\xff\\xfe.env"
# JSON writes a backslash as `\\`; a SARIF URI percent-encodes it.
ENCODED = {
    "json": "conf-\\\\xff\\\\xfe.env",
    "gitlab": "conf-\\\\xff\\\\xfe.env",
    "codequality": "conf-\\\\xff\\\\xfe.env",
    "sarif": "conf-%5Cxff%5Cxfe.env",
}


@pytest.fixture
def undecodable(repo: GitRepo) -> GitRepo:
    """A repository with a secret committed in a file whose name is not UTF-8."""
    (repo.path / os.fsdecode(RAW_NAME)).write_text(f"TOKEN={github_token()}\n")
    repo.commit("add a file with a Latin-1 name")
    return repo


@pytest.mark.parametrize("history", [False, True], ids=["files", "history"])
@pytest.mark.parametrize("format_name", sorted(FORMATS))
def test_every_format_escapes_undecodable_bytes(
    undecodable: GitRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    format_name: str,
    history: bool,
) -> None:
    monkeypatch.chdir(undecodable.path)
    output = tmp_path / "report"
    args = ["scan", "--quiet", "--format", format_name, "--output", str(output)]

    code = main([*args, "--history"] if history else args)

    assert code == 1
    text = output.read_text(encoding="utf-8")
    assert ENCODED.get(format_name, SHOWN) in text
    assert "\\udc" not in text
