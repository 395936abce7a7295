"""The plain git hooks and `keyless install-hooks`, driven by real commits and pushes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyless.cli import main
from keyless.commands.install_hooks import MARKER, hook_text
from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.support.snapshot import PROJECT_ROOT


def _env() -> dict[str, str]:
    """Return the environment for git with the `keyless` of this interpreter on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _git(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo.path, env=_env(), capture_output=True, text=True, check=False
    )


def _install(repo: GitRepo, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.chdir(repo.path)
    return main(["install-hooks", *args])


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository to push to."""
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


@pytest.fixture
def pushing_repo(repo: GitRepo, remote: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A repository with keyless's pre-push hook and `origin` at `remote`, main pushed."""
    repo.git("remote", "add", "origin", str(remote))
    repo.write("README.md", "readme\n")
    repo.commit("initial")
    assert _install(repo, monkeypatch, "--hook", "pre-push") == 0
    pushed = _git(repo, "push", "-q", "--no-verify", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    return repo


def _remote_head(remote: Path, ref: str) -> str | None:
    proc = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref],
        cwd=remote,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


# --- install-hooks ---------------------------------------------------------------------


def test_shipped_hooks_match_package() -> None:
    for name in ("pre-commit", "pre-push"):
        shipped = (PROJECT_ROOT / "hooks" / name).read_text(encoding="utf-8")
        assert shipped == hook_text(name)
        assert MARKER in shipped


def test_install_writes_executable_hooks(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _install(repo, monkeypatch) == 0
    for name in ("pre-commit", "pre-push"):
        hook = repo.path / ".git" / "hooks" / name
        assert hook.read_text(encoding="utf-8") == hook_text(name)
        assert os.access(hook, os.X_OK)
    out = capsys.readouterr().out
    assert "installed .git/hooks/pre-commit" in out
    assert "installed .git/hooks/pre-push" in out
    # Installing again replaces keyless's own hooks without complaint.
    assert _install(repo, monkeypatch) == 0


def test_install_keeps_foreign_hook(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = repo.path / ".git" / "hooks" / "pre-commit"
    foreign.write_text("#!/bin/sh\necho mine\n", encoding="utf-8")
    assert _install(repo, monkeypatch) == 2
    assert foreign.read_text(encoding="utf-8") == "#!/bin/sh\necho mine\n"
    # The hook without a conflict is still installed.
    assert (repo.path / ".git" / "hooks" / "pre-push").read_text(encoding="utf-8") == hook_text(
        "pre-push"
    )
    err = capsys.readouterr().err
    assert "keyless did not write them" in err
    assert "keyless scan --staged" in err
    assert "Traceback" not in err


def test_install_explains_core_hooks_path(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.git("config", "core.hooksPath", ".githooks")
    assert _install(repo, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "core.hooksPath is set to '.githooks'" in err
    assert "--hooks-dir .githooks" in err
    assert not (repo.path / ".githooks").exists()
    assert not (repo.path / ".git" / "hooks" / "pre-commit").exists()

    assert _install(repo, monkeypatch, "--hooks-dir", ".githooks", "--hook", "pre-commit") == 0
    assert (repo.path / ".githooks" / "pre-commit").exists()
    assert not (repo.path / ".githooks" / "pre-push").exists()


def test_uninstall_removes_only_own_hooks(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _install(repo, monkeypatch, "--hook", "pre-push") == 0
    foreign = repo.path / ".git" / "hooks" / "pre-commit"
    foreign.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    assert _install(repo, monkeypatch, "--uninstall") == 0
    assert foreign.exists()
    assert not (repo.path / ".git" / "hooks" / "pre-push").exists()
    out = capsys.readouterr().out
    assert "kept .git/hooks/pre-commit" in out
    assert "removed .git/hooks/pre-push" in out


def test_install_outside_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["install-hooks"]) == 2
    assert "not in one" in capsys.readouterr().err


def test_install_from_linked_worktree(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A linked worktree shares the main repository's hooks folder."""
    repo.commit("initial")
    linked = tmp_path / "linked"
    repo.git("worktree", "add", "-q", "-b", "topic", str(linked))
    monkeypatch.chdir(linked)
    assert main(["install-hooks", "--hook", "pre-commit"]) == 0
    assert (repo.path / ".git" / "hooks" / "pre-commit").exists()


# --- pre-commit hook ---------------------------------------------------------------------


def test_pre_commit_rejects_staged_secret(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("README.md", "readme\n")
    repo.commit("initial")
    assert _install(repo, monkeypatch, "--hook", "pre-commit") == 0
    token = github_token()
    repo.write("config.py", f'TOKEN = "{token}"\n')
    repo.git("add", "config.py")
    rejected = _git(repo, "commit", "-m", "add config")
    assert rejected.returncode == 1
    # git sends a hook's stdout to its own stderr.
    assert "config.py:1:" in rejected.stderr
    assert token not in rejected.stdout + rejected.stderr
    assert repo.git("log", "--format=%s").split("\n")[0] == "initial"


def test_pre_commit_checks_index_not_work_tree(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "readme\n")
    repo.commit("initial")
    assert _install(repo, monkeypatch, "--hook", "pre-commit") == 0

    # Staged clean, secret only in the work tree: the commit goes through.
    repo.write("app.py", "print('hello')\n")
    repo.git("add", "app.py")
    repo.write("app.py", f'print("hello")\nTOKEN = "{github_token()}"\n')
    accepted = _git(repo, "commit", "-m", "clean")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr

    # Staged secret, work tree cleaned afterwards: the commit is still rejected.
    repo.write("other.py", f'TOKEN = "{github_token()}"\n')
    repo.git("add", "other.py")
    repo.write("other.py", "TOKEN = None\n")
    rejected = _git(repo, "commit", "-m", "hidden")
    assert rejected.returncode == 1
    assert "other.py:1:" in rejected.stderr


def test_pre_commit_without_keyless_on_path(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    repo.write("README.md", "readme\n")
    repo.commit("initial")
    assert _install(repo, monkeypatch, "--hook", "pre-commit") == 0
    env = _env()
    env["KEYLESS"] = "keyless-not-installed-here"
    repo.write("a.txt", "a\n")
    repo.git("add", "a.txt")
    proc = subprocess.run(
        ["git", "commit", "-m", "a"],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "'keyless-not-installed-here' not found on PATH" in proc.stderr
    assert "--no-verify" in proc.stderr


# --- pre-push hook -----------------------------------------------------------------------


def test_pre_push_accepts_clean_commits(pushing_repo: GitRepo, remote: Path) -> None:
    pushing_repo.write("a.txt", "one\n")
    head = pushing_repo.commit("clean")
    pushed = _git(pushing_repo, "push", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert _remote_head(remote, "refs/heads/main") == head


def test_pre_push_rejects_secret_in_pushed_range(pushing_repo: GitRepo, remote: Path) -> None:
    before = _remote_head(remote, "refs/heads/main")
    token = github_token()
    pushing_repo.write("deploy.sh", f"export GITHUB_TOKEN={token}\n")
    pushing_repo.commit("add secret")
    # Deleting it in a later commit of the same push does not help: it is in history.
    pushing_repo.write("deploy.sh", "export GITHUB_TOKEN=$FROM_VAULT\n")
    pushing_repo.commit("remove secret")
    rejected = _git(pushing_repo, "push", "origin", "main")
    assert rejected.returncode != 0
    assert "deploy.sh" in rejected.stdout + rejected.stderr
    assert "push rejected" in rejected.stderr
    assert token not in rejected.stdout + rejected.stderr
    assert _remote_head(remote, "refs/heads/main") == before


def test_pre_push_new_branch_scans_only_its_commits(pushing_repo: GitRepo, remote: Path) -> None:
    # A secret that is already on the remote (pushed without the hook) is not this
    # push's business: only the new branch's own commits are scanned.
    pushing_repo.write("old.py", f'TOKEN = "{github_token()}"\n')
    pushing_repo.commit("old secret")
    forced = _git(pushing_repo, "push", "--no-verify", "origin", "main")
    assert forced.returncode == 0, forced.stderr

    pushing_repo.git("checkout", "-q", "-b", "topic")
    pushing_repo.write("feature.txt", "feature\n")
    clean_tip = pushing_repo.commit("feature")
    accepted = _git(pushing_repo, "push", "origin", "topic")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert _remote_head(remote, "refs/heads/topic") == clean_tip

    pushing_repo.git("checkout", "-q", "-b", "leaky", "main")
    pushing_repo.write("new.py", f'TOKEN = "{github_token()}"\n')
    pushing_repo.commit("new secret")
    rejected = _git(pushing_repo, "push", "origin", "leaky")
    assert rejected.returncode != 0
    output = rejected.stdout + rejected.stderr
    assert "new.py" in output
    assert "old.py" not in output
    assert _remote_head(remote, "refs/heads/leaky") is None


def test_pre_push_merge_of_remote_branches(pushing_repo: GitRepo, remote: Path) -> None:
    """A new branch that merges two remote branches adds only the merge commit."""
    pushing_repo.git("checkout", "-q", "-b", "old-feature")
    pushing_repo.write("feature/legacy.py", f'TOKEN = "{github_token()}"\n')
    pushing_repo.commit("legacy secret, already on the remote")
    forced = _git(pushing_repo, "push", "-q", "--no-verify", "origin", "old-feature")
    assert forced.returncode == 0, forced.stderr
    pushing_repo.git("checkout", "-q", "main")
    pushing_repo.write("main.txt", "main moves on\n")
    pushing_repo.commit("main work")
    assert _git(pushing_repo, "push", "-q", "--no-verify", "origin", "main").returncode == 0

    pushing_repo.git("checkout", "-q", "-b", "integration", "main")
    pushing_repo.git("merge", "-q", "--no-edit", "old-feature")
    accepted = _git(pushing_repo, "push", "origin", "integration")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "scanning 1 commit(s)" in accepted.stderr

    # A secret added while resolving a merge is in the merge commit alone.
    pushing_repo.git("checkout", "-q", "-b", "integration-2", "main")
    pushing_repo.git("merge", "-q", "--no-commit", "old-feature")
    pushing_repo.write("resolution.py", f'TOKEN = "{github_token()}"\n')
    pushing_repo.git("add", "resolution.py")
    pushing_repo.git("commit", "-q", "--no-verify", "-m", "merge with a secret")
    rejected = _git(pushing_repo, "push", "origin", "integration-2")
    assert rejected.returncode != 0
    assert "resolution.py" in rejected.stdout + rejected.stderr
    assert "legacy.py" not in rejected.stdout + rejected.stderr


def test_pre_push_to_url_scans_whole_branch(pushing_repo: GitRepo, remote: Path) -> None:
    """Pushing to a URL has no tracking branches, so the old tip is all that is known."""
    pushing_repo.write("a.txt", "a\n")
    head = pushing_repo.commit("clean")
    pushed = _git(pushing_repo, "push", str(remote), "main")
    assert pushed.returncode == 0, pushed.stderr
    assert _remote_head(remote, "refs/heads/main") == head
    assert "scanning 1 commit(s)" in pushed.stderr


def test_pre_push_deletion_and_several_refs(pushing_repo: GitRepo, remote: Path) -> None:
    pushing_repo.git("checkout", "-q", "-b", "gone")
    pushing_repo.write("gone.txt", "gone\n")
    pushing_repo.commit("branch to delete")
    assert _git(pushing_repo, "push", "-q", "origin", "gone").returncode == 0

    deleted = _git(pushing_repo, "push", "origin", ":gone")
    assert deleted.returncode == 0, deleted.stderr
    assert _remote_head(remote, "refs/heads/gone") is None

    # One push of two refs: a clean one and a leaky one. git rejects the whole push.
    pushing_repo.git("checkout", "-q", "main")
    pushing_repo.write("clean.txt", "clean\n")
    pushing_repo.commit("clean on main")
    pushing_repo.git("checkout", "-q", "-b", "leak")
    pushing_repo.write("leak.env", f"TOKEN={github_token()}\n")
    pushing_repo.commit("leak")
    before = _remote_head(remote, "refs/heads/main")
    rejected = _git(pushing_repo, "push", "origin", "main", "leak")
    assert rejected.returncode != 0
    assert "leak.env" in rejected.stdout + rejected.stderr
    assert _remote_head(remote, "refs/heads/main") == before
    assert _remote_head(remote, "refs/heads/leak") is None


def test_pre_push_skips_deletion_without_scanning(pushing_repo: GitRepo, remote: Path) -> None:
    """A deletion pushes no commits, so the hook must not even start a scan."""
    pushing_repo.git("checkout", "-q", "-b", "gone")
    assert _git(pushing_repo, "push", "-q", "--no-verify", "origin", "gone").returncode == 0
    env = _env()
    env["KEYLESS"] = "false"  # a scan would fail the push
    proc = subprocess.run(
        ["git", "push", "origin", ":gone"],
        cwd=pushing_repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert _remote_head(remote, "refs/heads/gone") is None


def test_pre_push_skips_push_of_known_commits(pushing_repo: GitRepo, remote: Path) -> None:
    """A new branch at a commit the remote already has adds no commits to scan."""
    env = _env()
    env["KEYLESS"] = "false"
    proc = subprocess.run(
        ["git", "push", "origin", "main:refs/heads/copy"],
        cwd=pushing_repo.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert _remote_head(remote, "refs/heads/copy") == _remote_head(remote, "refs/heads/main")
