"""`keyless scan --history` on repositories built to confuse its bookkeeping."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.test_history import only_finding, scan, set_date


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


def test_first_seen_follows_ancestry_not_dates(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    set_date(monkeypatch, "2020-01-01T00:00:00Z")
    repo.write("README.md", "hello\n")
    repo.commit("start")
    set_date(monkeypatch, "2024-06-01T00:00:00Z")
    repo.write("first.env", f"TOKEN={token}\n")
    first = repo.commit("add the token")
    # A child whose clock was wrong: older date, same secret in another file.
    set_date(monkeypatch, "2021-01-01T00:00:00Z")
    repo.write("second.env", f"TOKEN={token}\n")
    repo.commit("copy the token")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == first
    assert finding["path"] == "first.env"
    assert finding["paths"] == ["first.env", "second.env"]


def test_first_seen_between_unrelated_commits_is_the_older(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    set_date(monkeypatch, "2020-01-01T00:00:00Z")
    repo.write("README.md", "hello\n")
    repo.commit("start")
    repo.git("branch", "side")
    set_date(monkeypatch, "2024-06-01T00:00:00Z")
    repo.write("main.env", f"TOKEN={token}\n")
    repo.commit("add on main")
    repo.git("checkout", "-q", "side")
    set_date(monkeypatch, "2022-01-01T00:00:00Z")
    repo.write("side.env", f"TOKEN={token}\n")
    side = repo.commit("add on side")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    assert only_finding(document)["first_seen"]["sha"] == side


def test_secret_appended_to_oversize_file_is_found(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = github_token()
    filler = "".join(f"filler line {n}\n" for n in range(2000))
    repo.write("big.log", filler)
    repo.commit("add a large log")
    repo.write("big.log", filler + f"T={token}\n")
    appended = repo.commit("append to the log")
    repo.write("excluded/big.bin", b"\0" * 64)
    repo.commit("add an excluded binary file")

    code, document, err = scan(
        repo, capsys, monkeypatch, "--max-file-size", "10KiB", "--exclude", "excluded", "-v"
    )

    assert code == 1
    finding = only_finding(document)
    assert finding["first_seen"]["sha"] == appended
    assert finding["line"] == 2001
    assert finding["present_at_tip"] is True
    assert document["skipped"] == {"excluded": 1, "too-large": 1}
    assert "skipped 1 file version(s) (too-large): big.log" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--range", ""], "--range is empty"),
        (["--range", " "], "--range is empty"),
        (["--branch", ""], "--branch is empty"),
        (["--since", ""], "--since is empty"),
        (["--range", "..main"], "--range ..main: the start of the range is empty"),
    ],
    ids=["range", "range-blank", "branch", "since", "range-no-start"],
)
def test_empty_selection_is_usage_error(
    repo: GitRepo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    repo.write("app.env", f"TOKEN={github_token()}\n")
    repo.commit("start")
    monkeypatch.chdir(repo.path)

    code = main(["scan", "--format", "json", *args])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert message in captured.err


@pytest.mark.parametrize("args", [["--history"], []], ids=["history", "work-tree"])
def test_repository_of_another_user_is_named(
    repo: GitRepo,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
) -> None:
    repo.write("app.env", f"TOKEN={github_token()}\n")
    repo.commit("start")
    monkeypatch.chdir(repo.path)
    # git's own switch for treating the repository as owned by someone else.
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")

    code = main(["scan", "--format", "json", *args])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "git rejected the repository: detected dubious ownership" in captured.err
    assert "safe.directory" in captured.err


def test_removal_pass_is_logged(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("app.env", f"TOKEN={github_token()}\n")
    added = repo.commit("add token")
    repo.write("app.env", "TOKEN=from-the-vault\n")
    repo.commit("remove token")

    code, document, err = scan(repo, capsys, monkeypatch, "-v")

    assert code == 1
    assert only_finding(document)["last_seen"]["sha"] == added
    assert "finding when 1 secret(s) were removed, in the history of 1 path(s)" in err
    assert "removal pass read 1 commit(s)" in err


def test_shallow_note_counts_only_missing_parents(
    repo: GitRepo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(5):
        repo.write("notes.txt", f"note {number}\n")
        repo.commit(f"note {number}")
    repo.git("branch", "old", "HEAD~2")
    clone = tmp_path / "shallow"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "2",
            "--single-branch",
            f"file://{repo.path}",
            str(clone),
        ],
        check=True,
        capture_output=True,
    )
    # Fetching `old` shallowly brings the first boundary's parent in as a second boundary.
    subprocess.run(
        ["git", "fetch", "-q", "--depth", "1", "origin", "old:old"],
        cwd=clone,
        check=True,
        capture_output=True,
    )
    shallow = GitRepo.__new__(GitRepo)
    shallow.path = clone
    assert len((clone / ".git" / "shallow").read_text().split()) == 2

    code, document, _ = scan(shallow, capsys, monkeypatch)

    assert code == 0
    note = next(n for n in document["notes"] if n.startswith("shallow clone"))
    assert "history stops at 2 commit(s) whose 1 parent commit(s)" in note


def test_branch_naming_a_blob_names_its_type(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")
    blob = repo.git("rev-parse", "HEAD:README.md").strip()
    repo.git("tag", "readme-blob", blob)

    code, _, err = scan(repo, capsys, monkeypatch, "--branch", "readme-blob")

    assert code == 2
    assert f"--branch readme-blob: names a blob ({blob}), not a commit" in err


def test_message_search_revision(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("a.env", f"A={github_token()}\n")
    first = repo.commit("fix typo in a")
    repo.write("b.env", f"B={github_token()}\n")
    second = repo.commit("add b")

    code, document, _ = scan(repo, capsys, monkeypatch, "--since", ":/fix typo")

    assert code == 1
    assert [f["first_seen"]["sha"] for f in document["findings"]] == [second]
    assert first != second


def test_staged_with_branch_names_branch(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")

    monkeypatch.chdir(repo.path)

    code = main(["scan", "--branch", "main", "--staged"])

    assert code == 2
    err = capsys.readouterr().err
    assert "--staged cannot be combined with --branch (it implies --history)" in err


def test_range_in_empty_repository(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = scan(repo, capsys, monkeypatch, "--range", "HEAD~1..HEAD")

    assert code == 2
    assert "--range HEAD: the repository has no commits yet" in err


def test_new_branch_range_with_sha256_zeros(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sha256"
    path.mkdir()
    subprocess.run(
        ["git", "init", "-q", "-b", "main", "--object-format=sha256"], cwd=path, check=True
    )
    repo = GitRepo.__new__(GitRepo)
    repo.path = path
    repo.write("a.env", f"A={github_token()}\n")
    added = repo.commit("add")

    code, document, _ = scan(repo, capsys, monkeypatch, "--range", f"{'0' * 64}..main")

    assert code == 1
    assert only_finding(document)["first_seen"]["sha"] == added


def test_notes_and_stash_findings_are_labelled(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    committed, noted, stashed = github_token(), github_token(), github_token()
    repo.write("app.env", f"A={committed}\n")
    head = repo.commit("add app")
    repo.git("notes", "add", "-m", f"deploy with B={noted}", head)
    repo.write("app.env", f"A={committed}\nC={stashed}\n")
    repo.git("stash", "-q")

    code, document, _ = scan(repo, capsys, monkeypatch)

    assert code == 1
    stash = repo.git("rev-parse", "refs/stash").strip()
    notes = repo.git("rev-parse", "refs/notes/commits").strip()
    messages = {(f["path"], f["first_seen"]["sha"]): f["message"] for f in document["findings"]}
    assert messages == {
        ("app.env", head): "GitHub token found",
        (head, notes): "GitHub token found (in git notes; the path is the SHA of the commit "
        "the note annotates)",
        ("app.env", stash): "GitHub token found (only in a stash, which stays in this clone)",
    }
    remarks = "\n".join(document["notes"])
    assert "1 secret(s) found only in git notes" in remarks
    assert "1 secret(s) found only in stashes (refs/stash)" in remarks


def test_secret_removed_from_oversize_file_has_last_seen(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    filler = "".join(f"filler line {n}\n" for n in range(2000))
    repo.write("big.log", filler)
    repo.commit("add a large log")
    repo.write("big.log", filler + f"T={github_token()}\n")
    repo.commit("append to the log")
    repo.write("README.md", "hello\n")
    still_there = repo.commit("unrelated change")
    repo.write("big.log", filler + "T=from-the-vault\n")
    repo.commit("remove the token")

    code, document, _ = scan(repo, capsys, monkeypatch, "--max-file-size", "10KiB")

    assert code == 1
    finding = only_finding(document)
    assert finding["present_at_tip"] is False
    assert finding["last_seen"]["sha"] == still_there
