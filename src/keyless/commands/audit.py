"""Audit CI pipeline configuration for credential hygiene.

Reads GitHub Actions workflows (.github/workflows/*.yml), composite actions
(action.yml) and GitLab CI files (.gitlab-ci.yml and its local includes), and reports
practices that leak or over-expose credentials, each with its fix. With no PATH,
keyless audits the current folder.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from keyless.commands.options import add_option
from keyless.commands.reporting import add_report_options, finish
from keyless.errors import ExitCode, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `audit` options."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="pipeline files or folders to audit (default: the current folder)",
    )
    add_report_options(parser, fail_on="medium")
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
        help="report only findings not listed in this keyless baseline",
    )
    add_option(
        parser,
        "--update-baseline",
        action="store_true",
        help="write the findings of this audit to the --baseline file and exit 0",
    )
    add_option(
        parser,
        "--no-inline-allow",
        action="store_true",
        help="ignore `keyless: allow[...]` comments",
    )
    add_option(
        parser,
        "--max-file-size",
        metavar="SIZE",
        help="largest pipeline file to read, such as 500KiB or 4MB (default: 2 MiB); a "
        "larger file found in a folder is a file-not-audited finding, a larger file "
        "named as PATH is an error",
    )
    add_option(
        parser,
        "--exclude",
        action="append",
        metavar="GLOB",
        default=[],
        help="skip paths matching GLOB (repeatable; adds to the config's exclude)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the audit and return the exit code."""
    from keyless import git
    from keyless.audit import runner
    from keyless.audit.rules import RULES
    from keyless.commands.scanning import ScanSetup
    from keyless.logs import logger
    from keyless.report.model import Report
    from keyless.scan import baseline as baselines

    if args.update_baseline and not args.baseline:
        raise UsageError("--update-baseline needs --baseline FILE")
    started = datetime.now(timezone.utc)
    first = Path(args.paths[0]) if args.paths else Path.cwd()
    repo_root = git.toplevel(first if first.exists() else Path.cwd())
    root = repo_root or Path.cwd()
    setup = ScanSetup.create(args, root)
    settings = runner.Settings(
        config=setup.config,
        engine=setup.engine,
        root=root,
        exclude=setup.exclude,
        inline_allow=not args.no_inline_allow,
        max_file_size=setup.max_file_size,
        git_root=repo_root,
    )
    result = runner.run(args.paths or ["."], settings)
    if result.scanned == 0 and not result.skipped.counts:
        logger.warning("no pipeline files found in %s", ", ".join(args.paths or ["."]))
    elif result.scanned == 0:
        logger.warning(
            "no pipeline file was audited in %s; %d skipped",
            ", ".join(args.paths or ["."]),
            sum(result.skipped.counts.values()),
        )

    findings = result.findings
    baselined = 0
    if args.baseline:
        baseline_path = Path(args.baseline)
        if args.update_baseline:
            count = baselines.write(
                baseline_path, findings, keep_paths_outside=result.scanned_paths, kind="audit"
            )
            logger.warning("baseline %s written with %d entries", baseline_path, count)
            return ExitCode.OK
        findings, baselined = baselines.drop_known(baseline_path, findings, kind="audit")

    report = Report(
        kind="audit",
        findings=findings,
        rules=[rule.rule for rule in RULES.values() if rule.rule.id not in setup.config.disable],
        scanned=result.scanned,
        skipped=result.skipped.as_dict(),
        suppressed=result.suppressed,
        ignored=result.ignored,
        baselined=baselined,
        root=str(root),
        commit=git.head_commit(repo_root) if repo_root else None,
        started=started,
        finished=datetime.now(timezone.utc),
        notes=result.notes,
    )
    return finish(args, report)
