"""Install keyless as git hooks: pre-commit scans staged changes, pre-push scans pushed commits.

The hooks go into the repository's hooks folder (`git rev-parse --git-path hooks`).
A hook file that keyless did not write is never replaced: keyless reports it and
prints how to chain the check instead. When `core.hooksPath` is set, git runs hooks
from that folder only, so keyless explains the setting rather than installing
where git would not look.
"""

from __future__ import annotations

import argparse
import stat
import subprocess
from importlib import resources
from pathlib import Path

from keyless.commands.options import add_option
from keyless.errors import Error, ExitCode, UsageError

HOOK_NAMES = ("pre-commit", "pre-push")

# The line that marks a hook file as written by keyless, so it may be replaced or removed.
MARKER = "keyless-managed-hook"

_CHAIN_COMMANDS = {
    "pre-commit": "keyless scan --staged",
    "pre-push": "the lines of keyless's hooks/pre-push",
}


class HookConflictError(Error):
    """A hook file exists that keyless did not write."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `install-hooks` options."""
    add_option(
        parser,
        "--hook",
        action="append",
        choices=HOOK_NAMES,
        default=[],
        help="install only this hook (repeatable; default: pre-commit and pre-push)",
    )
    add_option(
        parser,
        "--hooks-dir",
        metavar="DIR",
        help="install into DIR instead of the repository's hooks folder, for example "
        "the folder core.hooksPath names",
    )
    add_option(
        parser,
        "--uninstall",
        action="store_true",
        help="remove the hooks keyless installed, leaving every other hook in place",
    )


def run(args: argparse.Namespace) -> int:
    """Install or remove the hooks and return the exit code."""
    from keyless import git

    repo_root = git.toplevel(Path.cwd())
    if repo_root is None:
        raise UsageError(
            "install-hooks needs a git repository, and the current folder is not in one",
            hint="run it inside the work tree whose hooks you want",
        )
    names = list(dict.fromkeys(args.hook)) or list(HOOK_NAMES)
    hooks_dir = _hooks_dir(repo_root, args.hooks_dir)
    if args.uninstall:
        for name in names:
            _uninstall(hooks_dir / name, repo_root)
        return ExitCode.OK

    conflicts: list[str] = []
    for name in names:
        target = hooks_dir / name
        if target.exists() and not is_managed(target):
            conflicts.append(name)
            continue
        _write_hook(target, hook_text(name))
        print(f"installed {_shown(target, repo_root)}")
    if conflicts:
        raise HookConflictError(
            "not replaced, because keyless did not write them: "
            + ", ".join(str(hooks_dir / name) for name in conflicts),
            hint="add the keyless check to each existing hook yourself ("
            + "; ".join(f"{name}: {_CHAIN_COMMANDS[name]}" for name in conflicts)
            + "), or move the file away and run keyless install-hooks again",
        )
    return ExitCode.OK


def _hooks_dir(repo_root: Path, hooks_dir: str | None) -> Path:
    hooks_path = _git_output(["config", "--get", "core.hooksPath"], repo_root) or None
    if hooks_dir is not None:
        return Path(hooks_dir)
    if hooks_path is not None:
        raise UsageError(
            f"core.hooksPath is set to {hooks_path!r}, so git runs hooks from that folder "
            "and ignores the repository's own hooks folder",
            hint=f"install there with `keyless install-hooks --hooks-dir {hooks_path}` if "
            "that folder is yours; if another tool (husky, a company-wide setting) manages "
            "it, add `keyless scan --staged` to its pre-commit hook instead",
        )
    path = Path(_git_output(["rev-parse", "--git-path", "hooks"], repo_root))
    return path if path.is_absolute() else repo_root / path


def _git_output(args: list[str], cwd: Path) -> str:
    """Run git without keyless's safety overrides and return its stripped stdout.

    keyless.git sets core.hooksPath=/dev/null on every call, which would hide the
    repository's real setting. These two read-only commands run no hooks or filters.
    """
    from keyless import git

    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, env=git.git_env(), check=False
        )
    except FileNotFoundError as exc:
        raise git.GitError("git is not installed or not on PATH", hint="install git") from exc
    return proc.stdout.decode("utf-8", "surrogateescape").strip()


def hook_text(name: str) -> str:
    """Return the text of keyless's hook script `name`, as shipped in the package."""
    return resources.files("keyless.githooks").joinpath(name).read_text(encoding="utf-8")


def is_managed(path: Path) -> bool:
    """Return whether the hook file at `path` carries keyless's marker line."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return MARKER in head


def _write_hook(target: Path, text: str) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.keyless-tmp")
        temporary.write_text(text, encoding="utf-8")
        mode = stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        temporary.chmod(mode)
        temporary.replace(target)
    except OSError as exc:
        raise UsageError(
            f"{target}: cannot write the hook: {exc.strerror}",
            hint="check the folder's permissions",
        ) from exc


def _uninstall(target: Path, repo_root: Path) -> None:
    if not target.exists():
        return
    if not is_managed(target):
        print(f"kept {_shown(target, repo_root)}: keyless did not write it")
        return
    target.unlink()
    print(f"removed {_shown(target, repo_root)}")


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
