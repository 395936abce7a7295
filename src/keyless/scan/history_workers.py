"""Run one history range per forked worker process, so scanning uses every core.

Each worker runs its own git process and scans its output. The detectors are Python
code that holds the GIL, so threads would scan one stream at a time. Forked workers
inherit the engine without pickling it, and send their results (findings contain
`Secret` values) back to this process over a pipe. Where fork is unavailable
(Windows), the ranges run in threads.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from keyless.errors import Error
from keyless.git import GitError
from keyless.secret import Secret

RangeScan = Callable[[list[str], Callable[[int], None]], Any]


def run_ranges(
    ranges: list[list[str]], scan: RangeScan, progress: Callable[[int], None]
) -> list[Any]:
    """Return `scan(range, progress)` for each range, in order, in parallel."""
    if len(ranges) == 1:
        return [scan(ranges[0], progress)]
    if "fork" not in multiprocessing.get_all_start_methods():
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            return list(pool.map(lambda shas: scan(shas, progress), ranges))
    context = multiprocessing.get_context("fork")
    workers: list[tuple[Any, Connection]] = []
    try:
        for shas in ranges:
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(scan, shas, sender), daemon=True)
            process.start()
            sender.close()
            workers.append((process, receiver))
        return _collect(workers, progress)
    finally:
        for process, receiver in workers:
            if process.is_alive():
                process.terminate()
            process.join()
            receiver.close()


def _work(scan: RangeScan, shas: list[str], sender: Connection) -> None:
    """Scan one range in a worker and send progress counts, then the result or the error."""
    try:
        result = scan(shas, lambda n: sender.send(("progress", n)))
        sender.send(("result", result))
    except Error as exc:
        sender.send(("error", (exc.message, exc.hint)))
    except BaseException as exc:
        sender.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()
        # Leave without running the parent's exit handlers or flushing its buffers.
        os._exit(0)


def _collect(workers: list[tuple[Any, Connection]], progress: Callable[[int], None]) -> list[Any]:
    results: dict[int, Any] = {}
    index_of = {id(receiver): index for index, (_, receiver) in enumerate(workers)}
    pending = [receiver for _, receiver in workers]
    while pending:
        for ready in wait(pending):
            receiver = cast(Connection, ready)
            try:
                kind, payload = receiver.recv()
            except EOFError as exc:
                raise RuntimeError("a history scan worker exited without a result") from exc
            if kind == "progress":
                progress(payload)
                continue
            pending.remove(receiver)
            if kind == "error":
                message, hint = payload
                raise GitError(message, hint=hint)
            if kind == "crash":
                raise RuntimeError(f"history scan worker failed: {payload}")
            results[index_of[id(receiver)]] = payload
    return [results[index] for index in range(len(workers))]


def reregister(secret: Secret | None) -> Secret | None:
    """Return a copy of a secret received from a worker, registered for log redaction."""
    return None if secret is None else Secret(secret.reveal())
