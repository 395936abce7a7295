"""The scanning steps that `scan` shares with the other commands that find secrets."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from keyless import config as configuration
from keyless.config import Config, parse_size
from keyless.errors import UsageError
from keyless.findings import Finding
from keyless.logs import logger
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from keyless.scan.sources import Blob, Skipped
from keyless.scan.text import decode


@dataclass
class ScanSetup:
    """The config, engine and limits for one scan, built from command-line options."""

    config: Config
    engine: Engine
    max_file_size: int
    exclude: list[str]

    @classmethod
    def create(cls, args: argparse.Namespace, root: Path) -> ScanSetup:
        """Load the config (explicit or discovered at `root`) and build the engine."""
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
        max_size = config.max_file_size
        if getattr(args, "max_file_size", None):
            max_size = parse_size(args.max_file_size, "--max-file-size")
        engine = Engine(
            all_detectors(config),
            config,
            prefilter=not getattr(args, "no_prefilter", False),
            inline_allow=not getattr(args, "no_inline_allow", False),
        )
        exclude = [*config.exclude, *getattr(args, "exclude", [])]
        return cls(config=config, engine=engine, max_file_size=max_size, exclude=exclude)


@dataclass
class ScanOutcome:
    """Findings of a scan over blobs, with counts for the summary."""

    findings: list[Finding] = field(default_factory=list)
    scanned: int = 0
    suppressed: int = 0
    scanned_paths: set[str] = field(default_factory=set)


def scan_blobs(setup: ScanSetup, blobs: Iterable[Blob], skipped: Skipped) -> ScanOutcome:
    """Decode and scan each blob; binary ones are counted as skipped."""
    outcome = ScanOutcome()
    for blob in blobs:
        decoded = decode(blob.data)
        if decoded is None:
            logger.debug("%s: binary (a NUL byte near the start); skipped", blob.path)
            skipped.add("binary", blob.path)
            continue
        if decoded.lossy:
            logger.warning(
                "%s: not valid %s; invalid bytes were replaced with U+FFFD and the rest scanned",
                blob.path,
                decoded.encoding,
            )
        result = setup.engine.scan(blob.path, decoded.text)
        outcome.findings.extend(result.findings)
        outcome.suppressed += result.suppressed + result.allowlisted
        outcome.scanned += 1
        outcome.scanned_paths.add(blob.path)
    return outcome
