"""Scanning a repository whose config points every program hook at a script runs nothing."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from keyless import git
from keyless.cli import main
from tests.conftest import GitRepo
from tests.fakes import github_token


def make_hostile(repo: GitRepo, marker: Path) -> None:
    """Point hooks, diff drivers, textconv, filters, fsmonitor and pagers at a script."""
    script = repo.path.parent / "evil.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\ncat\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    hooks = repo.path.parent / "hooks"
    hooks.mkdir()
    for hook in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction"):
        target = hooks / hook
        target.write_text(script.read_text())
        target.chmod(0o755)
    settings = {
        "core.hooksPath": str(hooks),
        "core.fsmonitor": str(script),
        "core.pager": str(script),
        "pager.log": str(script),
        "pager.diff": str(script),
        "diff.external": str(script),
        "diff.evil.command": str(script),
        "diff.evil.textconv": str(script),
        "diff.evil.cachetextconv": "false",
        "filter.evil.clean": str(script),
        "filter.evil.smudge": str(script),
        "filter.evil.process": str(script),
        "filter.evil.required": "true",
        "diff.renames": "copies",
        # Signature verification: `git log` runs gpg.program on signed commits.
        "log.showSignature": "true",
        "gpg.program": str(script),
        "gpg.openpgp.program": str(script),
        "gpg.x509.program": str(script),
        "gpg.ssh.program": str(script),
        "gpg.format": "openpgp",
        "core.editor": str(script),
        "core.askPass": str(script),
        "core.sshCommand": str(script),
        "credential.helper": str(script),
    }
    for key, value in settings.items():
        repo.git("config", key, value)
    attributes = "* diff=evil filter=evil\n"
    (repo.path / ".gitattributes").write_text(attributes)
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "attributes").write_text(attributes)


def commit_signed(repo: GitRepo) -> str:
    """Add a commit carrying a `gpgsig` header on top of HEAD and move the branch to it."""
    head = repo.git("rev-parse", "HEAD").strip()
    tree = repo.git("rev-parse", "HEAD^{tree}").strip()
    body = (
        f"tree {tree}\nparent {head}\n"
        "author Test Author <author@example.invalid> 1700000000 +0000\n"
        "committer Test Committer <committer@example.invalid> 1700000000 +0000\n"
        "gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEAAAA\n"
        " -----END PGP SIGNATURE-----\n\nsigned change\n"
    )
    sha = repo.git("hash-object", "-t", "commit", "-w", "--stdin", input=body.encode()).strip()
    repo.git("update-ref", "refs/heads/main", sha)
    return sha


@pytest.fixture
def hostile(repo: GitRepo, tmp_path: Path) -> tuple[GitRepo, Path]:
    """A repository with history, a staged change and a hostile config set afterwards."""
    repo.write(".gitattributes", "* diff=evil filter=evil\n")
    repo.write("app.env", f"TOKEN={github_token()}\n")
    repo.commit("add app")
    repo.write("app.env", f"TOKEN={github_token()}\nMORE=1\n")
    repo.commit("change app")
    commit_signed(repo)
    repo.write("staged.env", f"STAGED={github_token()}\n")
    repo.git("add", "staged.env")
    repo.write("app.env", "edited in the work tree\n")
    marker = tmp_path / "marker"
    make_hostile(repo, marker)
    assert not marker.exists()
    return repo, marker


@pytest.mark.parametrize(
    "args",
    [
        ["--history"],
        ["--history", "--branch", "main"],
        [],
        ["--staged"],
    ],
    ids=["history", "history-branch", "work-tree", "staged"],
)
def test_hostile_config_runs_nothing(
    hostile: tuple[GitRepo, Path],
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, marker = hostile
    monkeypatch.chdir(repo.path)

    code = main(["scan", *args])

    output = capsys.readouterr().out
    assert code == 1, output
    assert not marker.exists(), marker.read_text()


def test_hostile_config_is_live(hostile: tuple[GitRepo, Path]) -> None:
    # Control: plain git runs the configured programs, so the test above can fail.
    repo, marker = hostile
    for command in (["log", "-p", "-1"], ["status"], ["log", "-1", "--format=%H"]):
        subprocess.run(["git", *command], cwd=repo.path, capture_output=True, check=False)
        assert marker.exists(), command
        marker.unlink()


# Settings that change what git prints: paths, prefixes, hunks, encodings, formats.
OUTPUT_SETTINGS = {
    "i18n.logOutputEncoding": "UTF-16",
    "log.showRoot": "false",
    "log.mailmap": "true",
    "log.decorate": "full",
    "format.pretty": "format:%s%n%b",
    "color.ui": "always",
    "color.diff": "always",
    "diff.noprefix": "true",
    "diff.mnemonicPrefix": "true",
    "diff.relative": "true",
    "diff.interHunkContext": "20",
    "diff.submodule": "log",
    "diff.suppressBlankEmpty": "true",
    "core.quotePath": "true",
}


def scan_json(repo: GitRepo, capsys: pytest.CaptureFixture[str], *args: str) -> list[object]:
    capsys.readouterr()
    code = main(["scan", "--format", "json", *args])
    out = capsys.readouterr().out
    assert code == 1, out
    findings = json.loads(out)["findings"]
    for finding in findings:
        finding.pop("exposure_days", None)
    return sorted(findings, key=lambda f: json.dumps(f, sort_keys=True))


def test_output_settings_change_no_findings(
    repo: GitRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(repo.path)
    repo.write("root.env", f"ROOT={github_token()}\n")
    repo.commit("root")
    lines = [f"line {n}\n" for n in range(40)]
    lines[5] = f"A={github_token()}\n"
    repo.write("déjà/app.env", "".join(lines))
    repo.write(".mailmap", "Other <other@example.invalid> <author@example.invalid>\n")
    repo.commit("add app")
    lines[30] = f"B={github_token()}\n"
    lines[10] = "\n"
    repo.write("déjà/app.env", "".join(lines))
    repo.commit("change app")
    (repo.path / "déjà" / "unstaged.env").write_text(f"C={github_token()}\n")
    before = {args: scan_json(repo, capsys, *args) for args in (("--history",), ())}
    for key, value in OUTPUT_SETTINGS.items():
        repo.git("config", key, value)
    assert before[("--history",)], "control: the history scan finds the secrets"

    after = {args: scan_json(repo, capsys, *args) for args in (("--history",), ())}

    assert after == before


def test_replace_refs_cannot_hide_a_secret(
    repo: GitRepo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = github_token()
    repo.write("README.md", "hello\n")
    repo.commit("start")
    repo.write("app.env", f"TOKEN={token}\n")
    leaked = repo.commit("add token")
    repo.write("app.env", "TOKEN=from-the-vault\n")
    clean = repo.commit("clean")
    repo.git("reset", "-q", "--hard", leaked)
    # The leaking commit is shown as the clean one, in this clone and in a mirror.
    repo.git("replace", leaked, clean)
    mirror = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(repo.path), str(mirror)], check=True)
    shown = subprocess.run(
        ["git", "log", "-p", "--all"], cwd=mirror, capture_output=True, check=True
    ).stdout
    assert token.encode() not in shown, "control: the replace ref hides the secret"

    for where in (repo.path, mirror):
        monkeypatch.chdir(where)
        capsys.readouterr()
        code = main(["scan", "--history", "--format", "json"])
        findings = json.loads(capsys.readouterr().out)["findings"]
        assert code == 1
        assert [f["first_seen"]["sha"] for f in findings] == [leaked], where


def test_grafts_cannot_hide_a_commit(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")
    repo.write("app.env", f"TOKEN={github_token()}\n")
    leaked = repo.commit("add token")
    repo.write("app.env", "TOKEN=from-the-vault\n")
    clean = repo.commit("clean")
    # A graft that makes the clean commit a root hides the leaking one from `git log`.
    (repo.path / ".git" / "info").mkdir(exist_ok=True)
    (repo.path / ".git" / "info" / "grafts").write_text(f"{clean}\n")
    shown = repo.git("log", "--format=%H")
    assert leaked not in shown, "control: the graft hides the commit"
    monkeypatch.chdir(repo.path)

    code = main(["scan", "--history", "--format", "json"])

    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 1
    assert [f["first_seen"]["sha"] for f in findings] == [leaked]


def test_planted_shallow_file_is_reported(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("app.env", f"TOKEN={github_token()}\n")
    repo.commit("add token")
    repo.write("app.env", "TOKEN=from-the-vault\n")
    clean = repo.commit("clean")
    # A `shallow` file written into a full clone hides the commits before `clean`.
    (repo.path / ".git" / "shallow").write_text(f"{clean}\n")
    monkeypatch.chdir(repo.path)

    code = main(["scan", "--history", "--format", "json"])

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["findings"] == []
    notes = [n for n in document["notes"] if n.startswith("shallow clone")]
    assert len(notes) == 1
    assert "1 other parent commit(s) are in the repository but hidden" in notes[0]


def test_git_errors_carry_only_git_message(repo: GitRepo) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("start")

    with pytest.raises(git.GitError) as caught:
        git.run(["log", "--oneline", "HEAD", "no-such-ref", "--"], repo.path)

    assert "fatal:" in caught.value.message
    assert "hint:" not in caught.value.message
