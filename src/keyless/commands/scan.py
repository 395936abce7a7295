"""Find static secrets in files, in staged changes, or in git history.

With no PATH, keyless scans the current folder: inside a git work tree the files git
would show (tracked, plus untracked ones not ignored), outside one every file below it.
With --history, keyless scans every line added by the selected commits (all commits
reachable from any ref by default) and reports each secret once, with the commit that
first added it and how long it has been exposed.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from keyless.commands.options import add_option
from keyless.commands.reporting import add_report_options, check_outputs_apart, finish
from keyless.errors import ExitCode, UsageError
from keyless.findings import Finding

if TYPE_CHECKING:
    from keyless.scan.sources import Blob


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `scan` options."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or folders to scan (default: the current folder)",
    )
    add_option(
        parser,
        "--staged",
        action="store_true",
        help="scan the staged version of each file staged for commit, not the work tree",
    )
    _add_history_options(parser)
    add_report_options(parser, fail_on="low")
    add_option(
        parser,
        "--config",
        metavar="FILE",
        help="config file (default: .keyless.toml or [tool.keyless] in pyproject.toml "
        "at the repository root)",
    )
    add_option(
        parser,
        "--baseline",
        metavar="FILE",
        help="report only findings not listed in this keyless or detect-secrets baseline",
    )
    add_option(
        parser,
        "--update-baseline",
        action="store_true",
        help="write the findings of this scan to the --baseline file and exit 0",
    )
    add_option(
        parser,
        "--no-inline-allow",
        action="store_true",
        help="ignore `keyless: allow[...]` and `pragma: allowlist secret` comments",
    )
    add_option(
        parser,
        "--exclude",
        action="append",
        metavar="GLOB",
        default=[],
        help="skip paths matching GLOB (repeatable; adds to the config's exclude)",
    )
    add_option(
        parser,
        "--max-file-size",
        metavar="SIZE",
        help="skip files larger than SIZE, such as 500KiB or 4MB (default: 2 MiB)",
    )
    add_option(
        parser,
        "--jobs",
        "-j",
        metavar="N",
        type=_jobs,
        default="auto",
        help="worker processes for large scans: a number, or auto for one per CPU "
        "(default: auto). File scans under 4 MiB use one. History scans use at most "
        "N, one per CPU, one per 1,000 commits and 4 in all",
    )
    parser.add_argument("--no-prefilter", action="store_true", help=argparse.SUPPRESS)


def _jobs(value: str) -> int:
    """Parse --jobs: a positive number, or `auto` for the number of usable CPUs."""
    import os

    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    cpus = len(usable) if usable else os.cpu_count() or 1
    if value == "auto":
        return cpus
    # More processes than this only add start-up time and memory.
    most = 4 * cpus
    if value.isdigit() and 0 < int(value) <= most:
        return int(value)
    if value.isdigit() and int(value) > most:
        raise argparse.ArgumentTypeError(
            f"invalid value {value!r}: at most {most} (4 per CPU, {cpus} CPUs); use auto"
        )
    raise argparse.ArgumentTypeError(f"invalid value {value!r}; use a positive number or auto")


def _add_history_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("history")
    add_option(
        group,
        "--history",
        action="store_true",
        help="scan the lines added by every commit reachable from any ref, instead of files",
    )
    add_option(
        group,
        "--branch",
        metavar="REF",
        help="scan only the history reachable from REF (implies --history)",
    )
    add_option(
        group,
        "--since",
        metavar="REV",
        help="scan only commits after REV: those REV does not contain (implies --history)",
    )
    add_option(
        group,
        "--range",
        metavar="A..B",
        help="scan the commits reachable from B but not from A (implies --history), such as a "
        "pushed range or a merge request's commits; an A of forty zeros (a new branch) "
        "scans all of B",
    )


def _check_inputs(args: argparse.Namespace) -> None:
    """Raise UsageError when a report would overwrite the baseline or a named file."""
    inputs = {p: "scanned file" for p in args.paths if Path(p).is_file()}
    if args.baseline:
        inputs[args.baseline] = "baseline"
    check_outputs_apart(args, inputs)


def _staged_prefixes(paths: list[str], repo_root: Path) -> list[str]:
    """Return PATH arguments as repository-relative paths; "" stands for the whole index."""
    prefixes = []
    for raw in paths:
        absolute = Path(os.path.abspath(raw))
        try:
            relative = absolute.relative_to(repo_root.resolve()).as_posix()
        except ValueError:
            raise UsageError(
                f"{raw}: is outside the repository {repo_root}, so --staged has nothing there",
                hint="name paths inside the repository, or leave them out to scan the index",
            ) from None
        prefixes.append("" if relative == "." else relative)
    return prefixes


def _under(blobs: Iterable[Blob], prefixes: list[str]) -> Iterator[Blob]:
    """Yield the staged blobs at or below one of `prefixes`."""
    for blob in blobs:
        if any(p in ("", blob.path) or blob.path.startswith(p + "/") for p in prefixes):
            yield blob


def _exists_under(root: Path) -> Callable[[str], bool]:
    """Return a check that a report path still names a file (or link) under `root`."""

    def exists(path: str) -> bool:
        # A name with bytes that were not UTF-8 is stored escaped (`\\xNN`) and cannot
        # be checked, so its entries are kept.
        return "\\x" in path or os.path.lexists(root / path)

    return exists


def _partial(paths: list[str], root: Path) -> bool:
    """Return whether PATH arguments name less than the whole of `root`."""
    return any(Path(p).resolve() != root.resolve() for p in paths)


class _LineReader:
    """The text of a finding's line, read again from the file or the index it came from."""

    def __init__(self, files: dict[str, Path], repo_root: Path | None, *, staged: bool) -> None:
        self.files = files
        self.repo_root = repo_root
        self.staged = staged
        self._lines: dict[str, list[str] | None] = {}

    def __call__(self, finding: Finding) -> str | None:
        path = finding.path
        if path not in self._lines:
            self._lines[path] = self._read(path)
        lines = self._lines[path]
        number = finding.location.line
        if lines is None or not 0 < number <= len(lines):
            return None
        return lines[number - 1]

    def _read(self, path: str) -> list[str] | None:
        from keyless import git
        from keyless.scan.text import decode

        data: bytes | None = None
        try:
            if self.staged and self.repo_root is not None:
                data = git.run(["cat-file", "blob", f":{path}"], self.repo_root)
            elif path in self.files:
                data = self.files[path].read_bytes()
        except (OSError, git.GitError):
            return None
        decoded = decode(data) if data is not None else None
        if decoded is None:
            return None
        # Lines as the engine counts them: split at LF, a CR before it dropped.
        return [line.removesuffix("\r") for line in decoded.text.split("\n")]


def run(args: argparse.Namespace) -> int:
    """Run the scan and return the exit code."""
    from keyless import git
    from keyless.commands.scanning import ScanSetup, scan_blobs
    from keyless.logs import logger
    from keyless.report.model import Report
    from keyless.scan import baseline as baselines
    from keyless.scan.sources import Skipped, read_files, select_paths, staged_blobs

    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    for option, value in (
        ("--branch", args.branch),
        ("--since", args.since),
        ("--range", args.range),
    ):
        if value is not None and not value.strip():
            raise UsageError(
                f"{option} is empty",
                hint=f"give {option} a value, or leave out the option and its environment "
                "variable; in a GitHub pull_request event `github.event.before` is empty, so "
                "pass the base and head commits of the pull request instead",
            )
    _check_inputs(args)
    if args.history or args.branch or args.since or args.range:
        from keyless.commands.history import run_history

        return run_history(args)
    started = datetime.now(timezone.utc)
    first = Path(args.paths[0]) if args.paths else Path.cwd()
    repo_root = git.toplevel(first if first.exists() else Path.cwd())
    setup = ScanSetup.create(args, repo_root or Path.cwd())
    skipped = Skipped()
    missing: list[str] = []
    listed: list[tuple[Path, str]] = []
    if args.staged:
        if repo_root is None:
            raise UsageError(
                f"--staged needs a git repository, and {first} is not in one",
                hint="run it inside a git work tree, or scan files by passing their paths",
            )
        blobs = staged_blobs(repo_root, setup.max_file_size, skipped, setup.exclude)
        if args.paths:
            blobs = _under(blobs, _staged_prefixes(args.paths, repo_root))
    else:
        selection = select_paths(args.paths or ["."], repo_root)
        missing = selection.missing
        listed = selection.files
        blobs = read_files(selection, setup.max_file_size, skipped, setup.exclude)
    outcome = scan_blobs(setup, blobs, skipped, jobs=args.jobs)

    baselined = 0
    findings = outcome.findings
    if args.baseline:
        baseline_path = Path(args.baseline)
        if args.update_baseline:
            count = baselines.write(
                baseline_path,
                findings,
                keep_paths_outside=outcome.scanned_paths,
                kind="secrets",
                partial=args.staged or _partial(args.paths, repo_root or Path.cwd()),
                active_rules={d.rule.id for d in setup.engine.prefilter.detectors},
                exists=_exists_under(repo_root or Path.cwd()),
            )
            logger.warning("baseline %s written with %d entries", baseline_path, count)
            return ExitCode.OK
        files = {display: path for path, display in listed}
        line_of = _LineReader(files, repo_root, staged=args.staged)
        findings, baselined = baselines.drop_known(
            baseline_path, findings, kind="secrets", line=line_of
        )

    report = Report(
        kind="secrets",
        findings=findings,
        rules=[d.rule for d in setup.engine.prefilter.detectors],
        scanned=outcome.scanned,
        skipped=skipped.as_dict(),
        suppressed=outcome.suppressed,
        baselined=baselined,
        root=str(repo_root or Path.cwd()),
        commit=git.head_commit(repo_root) if repo_root else None,
        started=started,
        finished=datetime.now(timezone.utc),
    )
    code = finish(args, report)
    if missing:
        # The scan was incomplete, so it must not pass as clean; findings still show above.
        logger.error("%d PATH argument(s) not found: %s", len(missing), ", ".join(missing))
        return ExitCode.USAGE
    return code
