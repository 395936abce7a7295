"""The pre-commit hooks in .pre-commit-hooks.yaml, run by the real pre-commit."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import GitRepo
from tests.fakes import github_token
from tests.support.snapshot import PROJECT_ROOT, Snapshot

pytestmark = pytest.mark.slow


def _hooks() -> dict[str, dict[str, object]]:
    entries = yaml.safe_load((PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text())
    return {entry["id"]: entry for entry in entries}


def _env(pre_commit_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PRE_COMMIT_HOME"] = str(pre_commit_home)
    # Colour codes would split the words the assertions look for.
    env["PRE_COMMIT_COLOR"] = "never"
    return env


def _try_repo(
    repo: GitRepo, snapshot: Snapshot, pre_commit_home: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(snapshot.path),
            "--ref",
            snapshot.rev,
            *extra,
        ],
        cwd=repo.path,
        env=_env(pre_commit_home),
        capture_output=True,
        text=True,
        check=False,
    )


def _install(repo: GitRepo, snapshot: Snapshot, pre_commit_home: Path, *hook_ids: str) -> None:
    hooks = "".join(f"      - id: {hook_id}\n" for hook_id in hook_ids)
    repo.write(
        ".pre-commit-config.yaml",
        f"repos:\n  - repo: {snapshot.path}\n    rev: {snapshot.rev}\n    hooks:\n{hooks}",
    )
    repo.git("add", ".pre-commit-config.yaml")
    repo.git("commit", "-q", "--no-verify", "-m", "add pre-commit config")
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo.path,
        env=_env(pre_commit_home),
        capture_output=True,
        check=True,
    )


def _run(repo: GitRepo, pre_commit_home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", *extra],
        cwd=repo.path,
        env=_env(pre_commit_home),
        capture_output=True,
        text=True,
        check=False,
    )


def _commit(repo: GitRepo, pre_commit_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-m", "change"],
        cwd=repo.path,
        env=_env(pre_commit_home),
        capture_output=True,
        text=True,
        check=False,
    )


def test_hook_ids_and_entries() -> None:
    hooks = _hooks()
    assert set(hooks) == {"keyless", "keyless-audit"}
    assert hooks["keyless"]["entry"] == "keyless scan"
    assert hooks["keyless-audit"]["entry"] == "keyless audit"
    assert hooks["keyless-audit"]["pass_filenames"] is False


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        (".github/workflows/ci.yml", True),
        (".github/workflows/release.yaml", True),
        ("action.yml", True),
        ("tools/deploy/action.yaml", True),
        (".gitlab-ci.yml", True),
        ("ci/jobs/test.yml", True),  # a candidate for `include: local`
        ("src/app.py", False),
        ("README.md", False),
        ("notes.yml.txt", False),
    ],
)
def test_audit_hook_file_selection(path: str, selected: bool) -> None:
    pattern = str(_hooks()["keyless-audit"]["files"])
    assert bool(re.search(pattern, path)) is selected


def test_try_repo_runs_both_hooks(repo: GitRepo, snapshot: Snapshot, pre_commit_home: Path) -> None:
    """`pre-commit try-repo` of this repository: each hook fails on its own kind of file."""
    repo.write("clean.txt", "nothing here\n")
    repo.commit("initial")
    token = github_token()
    repo.write("settings.py", f'TOKEN = "{token}"\n')
    repo.write(".gitlab-ci.yml", "include:\n  - local: ci/deploy.yml\n")
    repo.write(
        "ci/deploy.yml",
        "deploy:\n  variables:\n    CI_DEBUG_TRACE: 'true'\n  script:\n    - ./deploy.sh\n",
    )
    repo.git("add", "-A")
    # With no hook id, try-repo runs every hook the repository defines.
    proc = _try_repo(repo, snapshot, pre_commit_home)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    secrets_part, _, audit_part = proc.stdout.partition("keyless (pipeline audit)")
    assert "settings.py:1:" in secrets_part
    assert "github-token" in secrets_part
    assert "clean.txt" not in secrets_part
    assert "ci/deploy.yml" in audit_part
    assert "debug-trace" in audit_part
    assert "settings.py" not in audit_part
    assert token not in proc.stdout + proc.stderr


def test_run_all_files_finds_committed_secret(
    repo: GitRepo, snapshot: Snapshot, pre_commit_home: Path
) -> None:
    token = github_token()
    repo.write("old/leak.py", f'TOKEN = "{token}"\n')
    repo.write("clean.txt", "nothing here\n")
    repo.commit("initial")
    _install(repo, snapshot, pre_commit_home, "keyless", "keyless-audit")
    # Nothing is staged: a plain run has no files to check and passes.
    plain = _run(repo, pre_commit_home)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    everything = _run(repo, pre_commit_home, "--all-files")
    assert everything.returncode == 1, everything.stdout + everything.stderr
    assert "old/leak.py:1:" in everything.stdout
    assert token not in everything.stdout + everything.stderr
    # .pre-commit-config.yaml is YAML, so the audit runs too, and finds nothing.
    assert "keyless (pipeline audit)Passed" in everything.stdout.replace(".", "")


def test_audit_hook_follows_local_includes(
    repo: GitRepo, snapshot: Snapshot, pre_commit_home: Path
) -> None:
    """Changing only an included file still audits it through .gitlab-ci.yml."""
    repo.write(".gitlab-ci.yml", "include:\n  - local: ci/deploy.yml\n")
    repo.write("ci/deploy.yml", "deploy:\n  script:\n    - ./deploy.sh\n")
    repo.commit("pipeline")
    _install(repo, snapshot, pre_commit_home, "keyless-audit")
    repo.write(
        "ci/deploy.yml",
        "deploy:\n  variables:\n    CI_DEBUG_TRACE: 'true'\n  script:\n    - ./deploy.sh\n",
    )
    repo.git("add", "ci/deploy.yml")
    rejected = _commit(repo, pre_commit_home)
    assert rejected.returncode == 1
    assert "ci/deploy.yml" in rejected.stderr
    assert "debug-trace" in rejected.stderr


def test_commit_checks_staged_content_only(
    repo: GitRepo, snapshot: Snapshot, pre_commit_home: Path
) -> None:
    """The hook checks what is staged, not the work tree, nor files left out of the commit."""
    repo.write("README.md", "readme\n")
    repo.commit("initial")
    _install(repo, snapshot, pre_commit_home, "keyless")

    # A secret already committed (bypassing the hook) is not part of later commits.
    repo.write("legacy.py", f'TOKEN = "{github_token()}"\n')
    repo.git("add", "legacy.py")
    repo.git("commit", "-q", "--no-verify", "-m", "legacy")

    # Staged: a clean line. Work tree only: a secret added after staging.
    repo.write("app.py", "print('hello')\n")
    repo.git("add", "app.py")
    token = github_token()
    repo.write("app.py", f"print('hello')\nTOKEN = \"{token}\"\n")
    clean = _commit(repo, pre_commit_home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "keyless (secrets)" in clean.stdout + clean.stderr
    # pre-commit put the unstaged secret back in the work tree after the hook ran.
    assert token in (repo.path / "app.py").read_text()

    repo.git("add", "app.py")
    refused = _commit(repo, pre_commit_home)
    assert refused.returncode == 1
    # git shows a hook's output on stderr.
    assert "app.py:2:" in refused.stderr
    assert "legacy.py" not in refused.stderr
    assert token not in refused.stdout + refused.stderr
    assert repo.git("log", "-1", "--format=%s").strip() == "change"
    assert "app.py" in repo.git("diff", "--cached", "--name-only")
