"""`keyless scan --history` on repositories built to confuse its bookkeeping."""

from __future__ import annotations

import pytest

from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.test_history import only_finding, scan


def test_newline_in_file_name_shifts_no_other_path(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = {name: github_token() for name in ("a\nb.env", "c.env", "d.env")}
    for name, token in tokens.items():
        repo.write(name, f"TOKEN={token}\n")
    repo.commit("add env files")
    repo.write("README.md", "hello\n")
    tip = repo.commit("unrelated")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    state = {f["path"]: (f["present_at_tip"], f["last_seen"]["sha"]) for f in document["findings"]}
    assert state == {name: (True, tip) for name in tokens}


def test_secret_in_file_that_became_binary_is_present(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    repo.write("settings.cfg", f"TOKEN={token}\n")
    added = repo.commit("add settings")
    repo.write("settings.cfg", f"TOKEN={token}\n".encode() + b"\0\x01\x02 packed\n")
    tip = repo.commit("pack settings")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == added
    assert finding["present_at_tip"] is True
    assert finding["last_seen"]["sha"] == tip
