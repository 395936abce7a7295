"""The scanning steps that `scan` shares with the other commands that find secrets."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from keyless import config as configuration
from keyless.config import Config, parse_size
from keyless.errors import UsageError
from keyless.findings import Finding
from keyless.logs import logger

if TYPE_CHECKING:
    from keyless.scan.engine import Engine
    from keyless.scan.sources import Blob, Skipped
    from keyless.scan.workers import BlobResult


@dataclass
class ScanSetup:
    """The config, engine and limits for one scan, built from command-line options."""

    config: Config
    engine: Engine
    max_file_size: int
    exclude: list[str]

    @classmethod
    def create(
        cls, args: argparse.Namespace, root: Path, config: Config | None = None
    ) -> ScanSetup:
        """Build the engine, with `config` or the config `load_config` finds."""
        from keyless.scan.detectors.registry import all_detectors
        from keyless.scan.engine import Engine

        if config is None:
            config = load_config(args, root)
        engine = Engine(
            all_detectors(config),
            config,
            prefilter=not getattr(args, "no_prefilter", False),
            inline_allow=not getattr(args, "no_inline_allow", False),
        )
        return cls(
            config=config,
            engine=engine,
            max_file_size=file_size_limit(args, config),
            exclude=[*config.exclude, *getattr(args, "exclude", [])],
        )


def load_config(args: argparse.Namespace, root: Path) -> Config:
    """Load the config given with --config, or the one discovered at `root`."""
    if args.config:
        explicit = Path(args.config)
        if not explicit.is_file():
            raise UsageError(f"{args.config}: config file not found")
        config_path: Path | None = explicit
    else:
        config_path = configuration.discover(root)
    config = configuration.load(config_path)
    if config_path is not None:
        logger.info("config: %s", config_path)
        warn_unknown_rule_ids(config, config_path)
    return config


def file_size_limit(args: argparse.Namespace, config: Config) -> int:
    """Return the size limit from --max-file-size, or else from the config."""
    if getattr(args, "max_file_size", None):
        return parse_size(args.max_file_size, "--max-file-size")
    return config.max_file_size


def warn_unknown_rule_ids(config: Config, path: Path) -> None:
    """Warn about `disable` and `[[ignore]]` entries that name no known rule.

    `scan` and `audit` share the config, so an id is known when a secret detector
    (custom detectors included) or an audit rule has it. `*` in `[[ignore]]` matches
    every rule.
    """
    named = {*config.disable, *(entry.rule for entry in config.ignore)} - {"*"}
    if not named:
        return
    from dataclasses import replace

    from keyless.audit.rules import RULES
    from keyless.scan.detectors.registry import all_rules

    known = {rule.id for rule in all_rules(replace(config, disable=set()))} | set(RULES)
    for rule_id in sorted(named - known):
        places = [name for name, ids in (("disable", config.disable),) if rule_id in ids]
        if any(entry.rule == rule_id for entry in config.ignore):
            places.append("[[ignore]]")
        logger.warning(
            "%s: %s names unknown rule %r, so it has no effect; check the spelling "
            "against the rule ids in the reports",
            path,
            " and ".join(places),
            rule_id,
        )


@dataclass
class ScanOutcome:
    """Findings of a scan over blobs, with counts for the summary."""

    findings: list[Finding] = field(default_factory=list)
    scanned: int = 0
    suppressed: int = 0
    scanned_paths: set[str] = field(default_factory=set)


# Below this much data a scan stays in one process, where starting workers and
# sending them the data costs more than it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


def scan_blobs(
    setup: ScanSetup, blobs: Iterable[Blob], skipped: Skipped, *, jobs: int = 1
) -> ScanOutcome:
    """Decode and scan each blob; binary ones are counted as skipped.

    With `jobs` > 1 and at least PARALLEL_MIN_BYTES of data, blobs are scanned in
    that many worker processes; the outcome is the same either way.
    """
    outcome = ScanOutcome()
    for result in _results(setup, blobs, jobs):
        if result.encoding is None:
            logger.debug("%s: binary (a NUL byte near the start); skipped", result.path)
            skipped.add("binary", result.path)
            continue
        if result.lossy:
            logger.warning(
                "%s: not valid %s; invalid bytes were replaced with U+FFFD and the rest scanned",
                result.path,
                result.encoding,
            )
        outcome.findings.extend(result.findings)
        outcome.suppressed += result.hidden
        outcome.scanned += 1
        outcome.scanned_paths.add(result.path)
    return outcome


def _results(setup: ScanSetup, blobs: Iterable[Blob], jobs: int) -> Iterator[BlobResult]:
    from keyless.scan.workers import scan_one

    remaining = iter(blobs)
    buffered: list[Blob] = []
    if jobs > 1:
        size = 0
        for blob in remaining:
            buffered.append(blob)
            size += len(blob.data)
            if size >= PARALLEL_MIN_BYTES:
                from keyless.scan.workers import scan_in_processes

                logger.info("scanning in %d processes", jobs)
                all_blobs = itertools.chain(buffered, remaining)
                yield from scan_in_processes(setup.engine, setup.config, all_blobs, jobs)
                return
    for blob in itertools.chain(buffered, remaining):
        yield scan_one(setup.engine, blob)
