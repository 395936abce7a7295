"""Scan blobs in worker processes, so large trees use every core.

Each worker builds its own engine from the (picklable) config once, then decodes
and scans the blobs it is sent. Results come back in input order, so the report
is the same as a scan in one process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from keyless.config import Config
from keyless.findings import Finding
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from keyless.scan.sources import Blob
from keyless.scan.text import decode

# Blobs sent to a worker per round trip: large enough to amortise pickling overhead,
# small enough that both workers stay busy until the end of a tree.
_CHUNK_SIZE = 16


@dataclass
class BlobResult:
    """The outcome of scanning one blob; `encoding` is None for a binary blob."""

    path: str
    encoding: str | None
    lossy: bool = False
    findings: list[Finding] = field(default_factory=list)
    hidden: int = 0


def scan_one(engine: Engine, blob: Blob) -> BlobResult:
    """Decode and scan one blob."""
    decoded = decode(blob.data)
    if decoded is None:
        return BlobResult(blob.path, None)
    result = engine.scan(blob.path, decoded.text)
    return BlobResult(
        blob.path,
        decoded.encoding,
        decoded.lossy,
        result.findings,
        result.suppressed + result.allowlisted,
    )


_engine: Engine | None = None


def _start_worker(config: Config, prefilter: bool, inline_allow: bool) -> None:
    import signal

    # Ctrl-C reaches the whole process group. The parent handles it and stops the pool,
    # so workers ignore it instead of each printing a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _engine
    _engine = Engine(all_detectors(config), config, prefilter=prefilter, inline_allow=inline_allow)


def _scan_in_worker(blob: Blob) -> BlobResult:
    if _engine is None:
        raise RuntimeError("scan worker started without an engine")
    return scan_one(_engine, blob)


def scan_in_processes(
    engine: Engine, config: Config, blobs: Iterable[Blob], jobs: int
) -> Iterator[BlobResult]:
    """Yield the result for each blob, in order, scanned by `jobs` worker processes."""
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    # fork starts a worker in milliseconds; elsewhere the platform default is used.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    initargs = (config, engine.prefilter.enabled, engine.inline_allow)
    with context.Pool(jobs, initializer=_start_worker, initargs=initargs) as pool:
        yield from pool.imap(_scan_in_worker, blobs, chunksize=_CHUNK_SIZE)
