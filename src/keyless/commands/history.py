"""`keyless scan --history`: the history half of the scan command."""

from __future__ import annotations

import argparse
import signal
import subprocess
import threading
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from keyless import git
from keyless.commands.reporting import finish
from keyless.commands.scanning import ScanSetup, file_size_limit, load_config
from keyless.config import Config
from keyless.errors import ExitCode, UsageError
from keyless.findings import Finding, escape_undecodable
from keyless.logs import logger
from keyless.report.model import Report
from keyless.scan import baseline as baselines
from keyless.scan import history
from keyless.scan.sources import Skipped
from keyless.terminal import safe_line
from keyless.termination import exit_on_sigterm


def run_history(args: argparse.Namespace) -> int:
    """Scan the selected commits and report one finding per secret.

    SIGTERM raises SystemExit meanwhile, so the git processes are stopped on the way out.
    """
    previous = exit_on_sigterm()
    try:
        return _run_history(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_history(args: argparse.Namespace) -> int:
    from keyless.progress import Progress

    if args.paths:
        raise UsageError(
            "PATH arguments cannot be combined with --history",
            hint="history scans whole commits; use --exclude GLOB to leave paths out",
        )
    if args.staged:
        selection_option = next(
            (
                f"--{name}"
                for name in ("history", "branch", "since", "range")
                if getattr(args, name)
            ),
            "--history",
        )
        implied = "" if selection_option == "--history" else " (it implies --history)"
        raise UsageError(
            f"--staged cannot be combined with {selection_option}{implied}",
            hint="scan staged changes and history in separate runs",
        )
    if args.baseline and not args.update_baseline:
        # Read now, so a missing or broken baseline fails before a long scan, not after.
        baselines.load(Path(args.baseline))
    started = datetime.now(timezone.utc)
    root = git.toplevel(Path.cwd()) or _git_dir_root(Path.cwd())
    config = load_config(args, root)
    max_size = file_size_limit(args, config)
    selection = history.select(root, branch=args.branch, since=args.since, commit_range=args.range)
    logger.info("history: scanning %s", selection.description)
    commits = history.list_commits(root, selection)
    workers = history.default_processes(len(commits), getattr(args, "jobs", None))
    # git starts on the first commits now and works on them while the detectors load.
    launched = history.launch(root, commits, max_size=max_size, workers=workers)
    try:
        setup, notes = _prepare(args, root, config, commits)
        skipped = Skipped()
        progress = Progress(len(commits), "commits")
        try:
            outcome = history.scan_history(
                root,
                setup.engine,
                selection,
                skipped,
                max_size=max_size,
                exclude=setup.exclude,
                progress=progress.advance,
                launched=launched,
            )
        finally:
            progress.close()
    finally:
        launched.close()
    notes.extend(outcome.notes)
    for reason, examples in sorted(skipped.examples.items()):
        names = ", ".join(safe_line(escape_undecodable(path)) for path in examples[:5])
        more = ", ..." if skipped.counts[reason] > len(examples[:5]) else ""
        logger.info(
            "history: skipped %d file version(s) (%s): %s%s",
            skipped.counts[reason],
            reason,
            names,
            more,
        )

    findings = outcome.findings
    baselined = 0
    if args.baseline:
        baseline_path = Path(args.baseline)
        if args.update_baseline:
            count = baselines.write(
                baseline_path, _per_path(findings), keep_paths_outside=None, kind="secrets"
            )
            logger.warning("baseline %s written with %d entries", baseline_path, count)
            return ExitCode.OK
        findings, baselined = baselines.drop_known(
            baseline_path, findings, kind="secrets", variants=lambda f: _per_path([f])
        )

    report = Report(
        kind="secrets",
        findings=findings,
        rules=[d.rule for d in setup.engine.prefilter.detectors],
        scanned=outcome.commits,
        scanned_unit="commit",
        skipped=skipped.as_dict(),
        suppressed=outcome.suppressed,
        baselined=baselined,
        root=str(root),
        commit=selection.tip,
        started=started,
        finished=datetime.now(timezone.utc),
        notes=notes,
    )
    return finish(args, report)


def _prepare(
    args: argparse.Namespace, root: Path, config: Config, commits: list[str]
) -> tuple[ScanSetup, list[str]]:
    """Build the engine and compile its prefilter; return it with notes on the selection.

    The prefilter compiles in a thread (the compile releases the GIL) while git is
    asked about a shallow clone.
    """
    setup = ScanSetup.create(args, root, config)
    compiling = threading.Thread(target=setup.engine.prefilter.prepare, daemon=True)
    compiling.start()
    try:
        # Looked up now, for the pass after the scan, while git still runs alone.
        git.version()
        notes: list[str] = []
        if not commits:
            notes.append("no commits to scan: the repository or the selected range is empty")
        cut = history.shallow_clone(root, set(commits))
        if cut is not None and cut.boundary:
            note = history.shallow_note(cut)
            logger.warning("%s", note)
            notes.append(note)
    finally:
        # Workers are forked: they inherit the compiled prefilter, and no thread may
        # be running when they are.
        compiling.join()
    return setup, notes


def _per_path(findings: list[Finding]) -> list[Finding]:
    """Return one copy of each finding per path it appeared at, for baseline matching."""
    copies = []
    for finding in findings:
        paths = finding.history.paths if finding.history else [finding.path]
        for path in paths:
            copy = replace(finding, location=replace(finding.location, path=path))
            copies.append(copy)
    return copies


def _git_dir_root(cwd: Path) -> Path:
    """Return the folder to run git in for a bare repository, or raise outside any."""
    proc = subprocess.run(
        git.command(["rev-parse", "--git-dir"]),
        cwd=cwd,
        capture_output=True,
        env=git.git_env(),
        check=False,
    )
    git.raise_if_rejected(proc.stderr, cwd)
    if not proc.stdout.strip():
        raise UsageError(
            f"{cwd}: not inside a git repository, so there is no history to scan",
            hint="run keyless scan --history inside a clone",
        )
    return cwd
