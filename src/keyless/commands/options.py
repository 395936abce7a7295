"""Option helpers shared by the commands: environment defaults, config, output files."""

from __future__ import annotations

import argparse
import os
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
    """Write results to `path`, or to stdout when it is None or '-'."""
    if path in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write output: {exc.strerror}") from exc


def choices_help(values: Sequence[str]) -> str:
    """Return `a|b|c` for help text."""
    return "|".join(values)
