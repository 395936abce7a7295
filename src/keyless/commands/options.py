"""Option helpers shared by the commands: environment defaults, config, output files."""

from __future__ import annotations

import argparse
import io
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from keyless.errors import UsageError

# Go's strconv.ParseBool values (as Vault reads VAULT_SKIP_VERIFY), compared in
# lower case, plus yes/no and on/off.
_TRUE = {"1", "t", "true", "yes", "on"}
_FALSE = {"0", "f", "false", "no", "off", ""}


def env_name(flag: str) -> str:
    """Return the environment variable that sets a flag's default: --fail-on -> KEYLESS_FAIL_ON."""
    return "KEYLESS_" + flag.lstrip("-").replace("-", "_").upper()


def add_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *flags: str,
    env: str | None = None,
    **kwargs: Any,
) -> None:
    """Add an option whose default comes from an environment variable when it is set.

    The variable defaults to KEYLESS_<LONG_FLAG>. Flags with `action="store_true"`
    read 1/t/true/yes/on and 0/f/false/no/off. Repeatable options (`action="append"`)
    split the variable on newlines, as CI inputs are written, and values given on
    the command line replace that default instead of adding to it.
    """
    long_flag = next(f for f in flags if f.startswith("--"))
    variable = env or env_name(long_flag)
    raw = os.environ.get(variable)
    if raw is not None:
        try:
            default = _env_default(raw, variable, long_flag, kwargs)
        except UsageError as exc:
            # Raised only if this command runs, so one command's bad variable does not
            # break every other command at parser-build time.
            default = InvalidEnvironment(exc)
        if default is not _UNSET:
            kwargs["default"] = default
    if kwargs.get("action") == "append":
        kwargs["action"] = _AppendReplacingDefault
    help_text = kwargs.get("help")
    if help_text is not None and help_text is not argparse.SUPPRESS:
        kwargs["help"] = f"{help_text} (env: {variable})"
    parser.add_argument(*flags, **kwargs)


_UNSET = object()


class _AppendReplacingDefault(argparse._AppendAction):
    """`action="append"` whose first command-line value replaces the default list.

    argparse's own append action adds to the default, so an environment default
    and the command line would both apply.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest, None) is self.default:
            setattr(namespace, self.dest, [])
        super().__call__(parser, namespace, values, option_string)


class InvalidEnvironment:
    """An option default whose environment variable did not parse."""

    def __init__(self, error: UsageError) -> None:
        self.error = error


def check_environment(args: argparse.Namespace) -> None:
    """Raise the first error of an option whose default came from a bad environment value."""
    for value in vars(args).values():
        if isinstance(value, InvalidEnvironment):
            raise value.error


def _env_default(raw: str, variable: str, long_flag: str, kwargs: dict[str, Any]) -> object:
    action = kwargs.get("action")
    if action == "store_true":
        return _parse_bool(raw, variable)
    if action == "append":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if raw == "":
        return _UNSET
    choices = kwargs.get("choices")
    if choices is not None and raw not in choices:
        raise UsageError(
            f"{variable}={raw!r} is invalid for {long_flag}; "
            f"choose from {', '.join(map(str, choices))}"
        )
    converter: Callable[[str], Any] = kwargs.get("type") or str
    try:
        return converter(raw)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise UsageError(f"{variable}={raw!r} is invalid for {long_flag}: {exc}") from exc


def _parse_bool(raw: str, variable: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"{variable}={raw!r} is not a boolean; use true or false")


def write_output(text: str, path: str | None) -> None:
    """Write results to `path`, or to stdout when it is None or '-'.

    A file is checked first and written atomically, as `write_files` describes.
    """
    if path is None or is_stdout(path):
        write_stdout(text)
        return
    check_output_file(path)
    write_files([(path, text)])


def is_stdout(path: str | None) -> bool:
    """Return whether an output option value means stdout: unset or '-'."""
    return path in (None, "-")


def write_stdout(text: str) -> None:
    """Write `text` to stdout and flush it; raise UsageError when the write fails.

    BrokenPipeError (the reader went away) passes through, so the CLI ends quietly.
    """
    if sys.stdout is None:
        raise UsageError(
            "cannot write the report: standard output is closed",
            hint="write the report to a file with -o FILE",
        )
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(
            f"cannot write the report to standard output: {exc.strerror or exc}",
            hint="write the report to a file with -o FILE",
        ) from exc


def check_output_file(path: str, output_name: str = "output") -> None:
    """Raise UsageError unless `path` can take an output file, without writing anything.

    Its folder must exist (keyless does not create it) and `path` must not be a folder.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(
            f"{path}: is a folder, not a file, so the {output_name} cannot be written there",
            hint=f"give a file name, for example {target / 'keyless.out'}",
        )
    if target.exists():
        return
    folder = Path(os.path.realpath(target)).parent
    if not folder.exists():
        raise UsageError(
            f"{path}: cannot write the {output_name}, because the folder {folder} does not exist",
            hint="create the folder first, or choose a file in an existing folder",
        )
    if not folder.is_dir():
        raise UsageError(
            f"{path}: cannot write the {output_name}, because {folder} is not a folder",
            hint="choose a file in an existing folder",
        )


def same_file_key(path: str | None) -> tuple[str, ...]:
    """Return a key that is equal for two outputs going to the same file.

    The key is the (device, inode) pair of an existing file, so hard links match too,
    and otherwise the path with `..` and symbolic links resolved. None is stdout, keyed
    by the file it is open on, so `-o /dev/stdout` or a shell redirection to a report
    file counts as stdout too.
    """
    try:
        status = os.fstat(sys.stdout.fileno()) if path is None else Path(path).stat()
    except (OSError, ValueError, io.UnsupportedOperation):
        # pytest's captured stdout, for one, has no file descriptor.
        return ("stdout",) if path is None else ("path", os.path.realpath(path))
    return ("inode", str(status.st_dev), str(status.st_ino))


def write_files(contents: Sequence[tuple[str, str]]) -> None:
    """Write each (path, text) pair to its file, replacing all of them only at the end.

    Each text goes to a temporary file in the target's folder first, and only when every
    one is written does `os.replace` put them in place, so a write error leaves the
    targets as they were. A symbolic link is followed: the file it points to is replaced.
    A target that exists but is not a regular file, such as /dev/stdout or a named pipe,
    cannot be replaced, so it is written directly after the files.
    """
    staged: list[tuple[Path, Path]] = []
    direct: list[tuple[str, str]] = []
    try:
        for path, text in contents:
            if Path(path).exists() and not Path(path).is_file():
                direct.append((path, text))
                continue
            target = Path(os.path.realpath(path))
            staged.append((_write_temporary(path, target, text), target))
        for temporary, target in staged:
            try:
                temporary.replace(target)
            except OSError as exc:
                raise UsageError(f"{target}: cannot write output: {exc.strerror}") from exc
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    for path, text in direct:
        try:
            with Path(path).open("w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise UsageError(f"{path}: cannot write output: {exc.strerror}") from exc


def _write_temporary(path: str, target: Path, text: str) -> Path:
    import tempfile

    try:
        descriptor, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise UsageError(f"{path}: cannot write output: {exc.strerror}") from exc
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp creates the file 0600; give it the mode the file had, or the mode a
        # plain open() would give a new file.
        temporary.chmod(_target_mode(target))
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write output: {exc.strerror}") from exc
    return temporary


def _target_mode(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def choices_help(values: Sequence[str]) -> str:
    """Return `a|b|c` for help text."""
    return "|".join(values)
