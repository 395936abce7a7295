"""Run git safely on repositories that may be hostile.

Every call passes argument lists (no shell) and config overrides. The overrides
stop a repository's own settings from running programs (hooks, fsmonitor, pagers,
external diff drivers, textconv, signature verification, credential helpers) and
from changing the output keyless parses. Objects are read as stored, without
replace refs or grafts. Callers read blobs with `cat-file`, which
never applies clean or smudge filters.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from keyless.errors import Error
from keyless.logs import logger

# Settings forced on every git call. A repository's config (or one it includes) can
# name programs to run and can change the output keyless parses, and command-line
# `-c` values override both. Programs are set to `false`, which exits at once.
_OVERRIDES: tuple[tuple[str, str], ...] = (
    # Programs git could run.
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("core.askPass", ""),
    ("core.sshCommand", "false"),
    ("core.alternateRefsCommand", ""),
    ("credential.helper", ""),
    ("diff.external", ""),
    ("log.showSignature", "false"),
    ("gpg.program", "false"),
    ("gpg.openpgp.program", "false"),
    ("gpg.x509.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.ssh.defaultKeyCommand", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("protocol.allow", "never"),
    # GIT_GRAFT_FILE (see git_env) would add this advice to every error message.
    ("advice.graftFileDeprecated", "false"),
    # Output keyless parses: paths, encodings, prefixes, hunks, colours, formats.
    ("core.quotePath", "false"),
    ("i18n.logOutputEncoding", "UTF-8"),
    ("log.mailmap", "false"),
    ("log.showRoot", "true"),
    ("log.decorate", "false"),
    ("format.pretty", "medium"),
    ("color.ui", "never"),
    ("color.diff", "never"),
    ("diff.noprefix", "false"),
    ("diff.mnemonicPrefix", "false"),
    ("diff.relative", "false"),
    ("diff.interHunkContext", "0"),
    ("diff.submodule", "short"),
    ("diff.suppressBlankEmpty", "false"),
)

# `-c` overrides placed before every git subcommand.
SAFE_CONFIG: tuple[str, ...] = tuple(
    item for key, value in _OVERRIDES for item in ("-c", f"{key}={value}")
)

# Options placed before the overrides: no pager, and objects as stored, so replace
# refs (`git replace`) cannot show a clean object in place of one holding a secret.
_GLOBAL_OPTIONS: tuple[str, ...] = ("--no-pager", "--no-replace-objects")


class GitError(Error):
    """A git command failed or git is not installed."""


def git_env() -> dict[str, str]:
    """Return the environment for git: no pager, no prompts, no optional locks."""
    env = dict(os.environ)
    env.update(
        {
            "GIT_PAGER": "cat",
            "PAGER": "cat",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_OPTIONAL_LOCKS": "0",
            "LC_ALL": "C",
            "GIT_NO_REPLACE_OBJECTS": "1",
            # Grafts (`info/grafts`) rewrite parents, which could hide commits.
            "GIT_GRAFT_FILE": os.devnull,
        }
    )
    for name in ("GIT_EXTERNAL_DIFF", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_SSH", "GIT_SSH_COMMAND"):
        env.pop(name, None)
    return env


def command(args: Sequence[str]) -> list[str]:
    """Return the full argv for `git args` with the safety overrides."""
    return ["git", *_GLOBAL_OPTIONS, *SAFE_CONFIG, *args]


def run(args: Sequence[str], cwd: Path, *, input: bytes | None = None, check: bool = True) -> bytes:
    """Run git and return its stdout; raise GitError with git's message when it fails."""
    argv = command(args)
    logger.debug("git: %s", " ".join(args))
    try:
        proc = subprocess.run(
            argv, cwd=cwd, input=input, capture_output=True, env=git_env(), check=False
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH", hint="install git") from exc
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {args[0]} failed in {cwd}: {message}", hint=_hint(message))
    return proc.stdout


@functools.cache
def version() -> tuple[int, ...]:
    """Return git's version as numbers, such as (2, 39, 5); () when it cannot be read."""
    try:
        out = subprocess.run(
            ["git", "version"], capture_output=True, env=git_env(), check=False
        ).stdout
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH", hint="install git") from exc
    match = re.search(rb"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(part) for part in match.groups(b"0")) if match else ()


def popen(
    args: Sequence[str],
    cwd: Path,
    *,
    environment: dict[str, str] | None = None,
    **kwargs: object,
) -> subprocess.Popen[bytes]:
    """Start git with stdout piped, for streaming large output.

    `environment` adds variables to `git_env()`.
    """
    logger.debug("git: %s", " ".join(args))
    env = git_env()
    env.update(environment or {})
    try:
        return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
            command(args), cwd=cwd, stdout=subprocess.PIPE, env=env, **kwargs
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH", hint="install git") from exc


def toplevel(path: Path) -> Path | None:
    """Return the root of the work tree containing `path`, or None outside one.

    Raise GitError when git rejects the repository, as it does for one owned by
    another user, so callers do not take it for a plain folder.
    """
    directory = path if path.is_dir() else path.parent
    try:
        proc = subprocess.run(
            command(["rev-parse", "--show-toplevel"]),
            cwd=directory,
            capture_output=True,
            env=git_env(),
            check=False,
        )
    except (FileNotFoundError, NotADirectoryError):
        return None
    if proc.returncode != 0:
        raise_if_rejected(proc.stderr, directory)
        return None
    text = proc.stdout.decode("utf-8", "surrogateescape").strip()
    return Path(text) if text else None


def raise_if_rejected(stderr: bytes, directory: Path) -> None:
    """Raise GitError when git's message shows that it rejected the repository."""
    message = stderr.decode("utf-8", "replace").strip()
    if "dubious ownership" in message:
        first = message.splitlines()[0].removeprefix("fatal: ")
        match = re.search(r"at '(.*)'", first)
        where = match.group(1) if match else str(directory)
        raise GitError(
            f"{directory}: git rejected the repository: {first}",
            hint="the repository belongs to another user; if you trust it, mark it safe "
            f"with `git config --global --add safe.directory {shlex.quote(where)}` and run "
            "keyless again",
        )


def head_commit(root: Path) -> str | None:
    """Return the checked-out commit's SHA, or None in an empty repository."""
    out = run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], root, check=False)
    sha = out.decode().strip()
    return sha or None


def _hint(message: str) -> str | None:
    if "dubious ownership" in message:
        return (
            "the repository belongs to another user; mark it safe with "
            "`git config --global --add safe.directory PATH` if you trust it"
        )
    if "not a git repository" in message:
        return "run keyless inside a git work tree, or pass paths to scan as files"
    return None
