"""Hand exchanged values to the job: mask first, then write them where asked.

Every exchange command ends the same way: it has named values (Vault secrets, cloud
credentials) as `Output`s and calls `emit()` with the chosen exports, or
`run_command()` for `--exec`. `emit()` registers every value with the CI's log
masking before it writes anything, then writes each export and records in the
state what `keyless revoke` must undo (files written, GITHUB_ENV names).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from keyless.ci import github
from keyless.errors import Error
from keyless.exchange.exports import Export, default_exports
from keyless.exchange.state import (
    State,
    ensure_outside_workspace,
    private_subdir,
    write_private,
)
from keyless.logs import logger
from keyless.secret import Secret

# Export and default_exports live in keyless.exchange.exports and are re-exported here,
# so exchange commands import everything they hand values with from one module.
__all__ = [
    "FILE_KIND",
    "GITHUB_ENV_KIND",
    "EmitError",
    "EmitSettings",
    "Export",
    "Output",
    "check_names",
    "default_exports",
    "emit",
    "github_env_block",
    "mask",
    "preflight",
    "reserved_reason",
]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Names that change how a process, a shell, an interpreter or the CI runner behaves,
# so that a value exported under one (from a secret's key, say) could run code or
# redirect later steps. Compared in upper case. Exported only with --allow-reserved-names.
_RESERVED_NAMES = frozenset(
    {
        "PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "CDPATH", "GLOBIGNORE",
        "PROMPT_COMMAND", "PS4", "SHELLOPTS", "BASHOPTS", "TMPDIR", "CI",
        "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "GEM_HOME", "GEM_PATH",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
        "MAVEN_OPTS", "GRADLE_OPTS", "ZDOTDIR",
        "NODE_OPTIONS", "NODE_PATH", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
        "EDITOR", "VISUAL", "PAGER",
    }
)  # fmt: skip
_RESERVED_PREFIXES = (
    "LD_",  # the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT
    "DYLD_",  # the macOS dynamic loader
    "BASH_FUNC_",  # exported bash functions
    "PYTHON",  # PYTHONPATH, PYTHONSTARTUP, PYTHONHOME, ...
    "NPM_CONFIG_",  # every npm setting, such as npm_config_script_shell
    "GIT_",  # GIT_SSH_COMMAND, GIT_CONFIG_*, GIT_EXEC_PATH
    "GITHUB_",  # GitHub Actions' own variables and files
    "RUNNER_",
    "ACTIONS_",
    "CI_",  # GitLab CI's predefined variables
    "GITLAB_",
    "KEYLESS_",  # keyless's own option defaults
)

# Kinds of state entries that emit() records; keyless.exchange.cleanup undoes them.
FILE_KIND = "file"
GITHUB_ENV_KIND = "github-env"


class EmitError(Error):
    """A value cannot be written the way it was asked."""


@dataclass(frozen=True)
class Output:
    """A value to hand to the job, under the environment variable name `name`.

    `masked=False` is for values that are not secret but travel with secrets (a
    region, a file path), so later steps' logs stay readable.
    """

    name: str
    value: Secret
    masked: bool = True


@dataclass
class EmitSettings:
    """The export targets and the paths they write to.

    `output` is the file for shell and json, and None or "-" means stdout. `dotenv`
    is the GitLab dotenv file. `files_dir` is the folder for FILES, and None means a
    new private folder under the state folder. `allow_reserved_names` lets values set
    names such as PATH or GITHUB_* (see `reserved_reason`).
    """

    exports: list[Export]
    output: str | None = None
    dotenv: str = "keyless.env"
    files_dir: str | None = None
    allow_reserved_names: bool = False
    written: list[Path] = field(default_factory=list)


def reserved_reason(name: str) -> str | None:
    """Return why `name` is reserved (it steers a process or the runner), or None."""
    upper = name.upper()
    if upper in _RESERVED_NAMES:
        return f"{name} changes how programs or the CI runner behave"
    for prefix in _RESERVED_PREFIXES:
        if upper.startswith(prefix):
            return f"names starting with {prefix} change how programs or the CI runner behave"
    return None


def check_name(name: str, *, allow_reserved: bool = False) -> None:
    """Raise EmitError unless `name` is a valid environment variable name that is not reserved."""
    if not _NAME.match(name):
        raise EmitError(
            f"{name!r} is not a valid environment variable name",
            hint="use letters, digits and underscores, not starting with a digit",
        )
    reason = None if allow_reserved else reserved_reason(name)
    if reason is not None:
        raise EmitError(
            f"refusing to export {name}: {reason}",
            hint="choose another name (or a name prefix for a whole secret); pass "
            "--allow-reserved-names only if the value must really set this variable",
        )


def check_names(outputs: Sequence[Output], *, allow_reserved: bool = False) -> None:
    """Raise EmitError unless every name is valid, not reserved and unique."""
    seen: set[str] = set()
    for output in outputs:
        check_name(output.name, allow_reserved=allow_reserved)
        if output.name in seen:
            raise EmitError(
                f"two values are named {output.name}",
                hint="give each value its own name",
            )
        seen.add(output.name)


def preflight(settings: EmitSettings) -> None:
    """Raise the errors `emit()` would raise for `settings` alone, before any value exists.

    Exchange commands call it before they log in, so a wrong export option does not
    leave a token issued for nothing.
    """
    to_stdout = settings.output in (None, "-")
    for export in settings.exports:
        if export is Export.GITHUB:
            env_file = os.environ.get("GITHUB_ENV")
            if not env_file:
                raise _github_env_missing("GITHUB_ENV")
            _require_folder(Path(env_file), "GITHUB_ENV")
        if export in (Export.SHELL, Export.JSON) and not to_stdout:
            path = Path(str(settings.output))
            ensure_outside_workspace(path, "secret values")
            _require_folder(path, "--output")
        if export is Export.GITLAB:
            path = Path(settings.dotenv)
            if github.in_actions():
                # GitLab uploads the dotenv file from the workspace as a report, but on
                # GitHub nothing does, so it would only leave secrets beside the checkout.
                ensure_outside_workspace(path, "the dotenv file's secret values")
            _require_folder(path, "--dotenv-file")
        if export is Export.FILES and settings.files_dir:
            ensure_outside_workspace(Path(settings.files_dir), "secret files")
    if Export.FILES in settings.exports and to_stdout:
        others = [e.value for e in settings.exports if e in (Export.SHELL, Export.JSON)]
        if others:
            raise EmitError(
                f"--export files and {others[0]} would both write to stdout",
                hint=f"pass --output FILE for the {others[0]} export, or export them in two runs",
            )


def _require_folder(path: Path, option: str) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise EmitError(
            f"{path}: the folder {folder} of {option} does not exist",
            hint="create the folder first, or choose a path in an existing folder",
        )


def _github_env_missing(variable: str) -> EmitError:
    return EmitError(
        f"{variable} is not set, so values cannot be exported to later steps",
        hint="run inside a GitHub Actions job, or choose another --export",
    )


def mask(outputs: Sequence[Output]) -> None:
    """Register every value, and every line of a multi-line value, with the CI's masking.

    The escaped forms that `--export json` and `--export shell` print are registered
    too, since the runner masks literal text only. The workflow commands go to stderr,
    which the Actions runner reads as well: stdout may be captured (`eval "$(keyless
    vault ...)"`, a pipe to jq), and a mask command there would both corrupt the
    output and never reach the runner.
    """
    for output in outputs:
        if not output.masked:
            continue
        github.add_mask(output.value, stream=sys.stderr)
        for form in _escaped_forms(output.value.reveal()):
            github.add_mask(Secret(form), stream=sys.stderr)


def _escaped_forms(value: str) -> list[str]:
    """Return the forms of `value` that json and shell exports print, where they differ."""
    forms = []
    for form in (json.dumps(value)[1:-1], shlex.quote(value)):
        if form != value and form not in forms:
            forms.append(form)
    return forms


def emit(outputs: Sequence[Output], settings: EmitSettings, state: State) -> None:
    """Mask every value, then write them to each export in `settings`.

    Values are checked before anything is written. Files and GITHUB_ENV names are
    recorded in `state` as they are written, so a failure halfway still leaves
    `keyless revoke` a complete record.
    """
    check_names(outputs, allow_reserved=settings.allow_reserved_names)
    if Export.GITLAB in settings.exports:
        _check_dotenv_values(outputs)
    mask(outputs)
    for export in settings.exports:
        if export is Export.GITHUB:
            _write_github(outputs, state)
        elif export is Export.GITLAB:
            _write_dotenv(outputs, Path(settings.dotenv))
        elif export is Export.SHELL:
            _write_text(_shell_lines(outputs), settings.output, state)
        elif export is Export.JSON:
            _write_text(_json_text(outputs), settings.output, state)
        elif export is Export.FILES:
            _write_files(outputs, settings.files_dir, state)
        else:  # pragma: no cover - every Export is handled above
            raise AssertionError(export)


def github_env_block(name: str, value: str) -> str:
    """Return one GITHUB_ENV/GITHUB_OUTPUT entry; multi-line values use a heredoc.

    The delimiter is random, so a value cannot end the heredoc early and inject
    other variables.
    """
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    if delimiter in value:  # pragma: no cover - a random UUID in the value
        raise EmitError(f"the value of {name} contains its heredoc delimiter")
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _append_env_file(variable: str, text: str) -> None:
    path = os.environ.get(variable)
    if not path:
        raise _github_env_missing(variable)
    try:
        with Path(path).open("a", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise EmitError(f"{path}: cannot append to {variable}: {exc.strerror}") from exc


def _write_github(outputs: Sequence[Output], state: State) -> None:
    env_text = "".join(github_env_block(o.name, o.value.reveal()) for o in outputs)
    names = [o.name for o in outputs]
    _append_env_file("GITHUB_ENV", env_text)
    # Recorded only once written: an entry for a GITHUB_ENV file that cannot be
    # written would make every later `keyless revoke` fail on it.
    state.add(GITHUB_ENV_KIND, names=names)
    if os.environ.get("GITHUB_OUTPUT"):
        _append_env_file("GITHUB_OUTPUT", env_text)
    logger.info("GitHub: exported %s to GITHUB_ENV and step outputs", ", ".join(names))


def _check_dotenv_values(outputs: Sequence[Output]) -> None:
    for output in outputs:
        value = output.value.reveal()
        if "\n" in value or "\r" in value:
            raise EmitError(
                f"{output.name}: GitLab dotenv files cannot hold multi-line values",
                hint="use --export files for this value",
            )


def _write_dotenv(outputs: Sequence[Output], path: Path) -> None:
    _check_dotenv_values(outputs)
    lines = [f"{output.name}={output.value.reveal()}\n" for output in outputs]
    # Not recorded for `keyless revoke`: GitLab uploads artifacts after after_script,
    # where revoke runs, and deleting the file there would drop the dotenv report.
    write_private(path, "".join(lines))
    logger.info(
        "GitLab: wrote %d values to %s; GitLab cannot mask them, so keep them out of logs",
        len(lines),
        path,
    )


def _shell_lines(outputs: Sequence[Output]) -> str:
    return "".join(f"export {o.name}={shlex.quote(o.value.reveal())}\n" for o in outputs)


def _json_text(outputs: Sequence[Output]) -> str:
    return json.dumps({o.name: o.value.reveal() for o in outputs}, indent=2) + "\n"


def _write_text(text: str, output: str | None, state: State) -> None:
    if output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    ensure_outside_workspace(path, "secret values")
    state.add(FILE_KIND, path=str(path.resolve()))
    write_private(path, text)


def _write_files(outputs: Sequence[Output], files_dir: str | None, state: State) -> None:
    if files_dir:
        directory = Path(files_dir)
        ensure_outside_workspace(directory, "secret files")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        directory = private_subdir(state.directory, "files-")
        state.add(FILE_KIND, path=str(directory), directory=True)
    for output in outputs:
        path = directory / output.name
        state.add(FILE_KIND, path=str(path.resolve()))
        write_private(path, output.value.reveal())
        sys.stdout.write(f"{output.name}={path}\n")
    sys.stdout.flush()
