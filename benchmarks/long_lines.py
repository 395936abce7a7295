"""Time the scan engine on single long lines, to check that time grows linearly.

Usage (from the repository root, after `bash scripts/test` made .venv):

    .venv/bin/python benchmarks/long_lines.py

Each case is one line of repeated content at several sizes: PEM headers with no
END line, space-separated GitHub tokens, and URLs with user:password. The last
column divides the time by the size, which stays roughly flat when the scan is
linear. It prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable

from keyless.config import Config
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine

SIZES = (25_000, 100_000, 2_000_000)
ALNUM = string.ascii_letters + string.digits


def fake(length: int) -> str:
    """Return a random alphanumeric string: an obviously fake secret made at run time."""
    return "".join(secrets.choice(ALNUM) for _ in range(length))


def headers(size: int) -> str:
    header = "-----BEGIN PRIVATE KEY-----"
    return header * (size // len(header))


def tokens(size: int) -> str:
    return " ".join("ghp_" + fake(36) for _ in range(size // 41))


def urls(size: int) -> str:
    return " ".join(f"https://user:{fake(20)}@h{i}.test/" for i in range(size // 45))


CASES: dict[str, Callable[[int], str]] = {
    "PEM headers": headers,
    "GitHub tokens": tokens,
    "URLs with passwords": urls,
}


def main() -> None:
    engine = Engine(all_detectors(Config()), Config())
    print("| line | size | time | findings | µs per KB |")
    print("| --- | --- | --- | --- | --- |")
    for name, make in CASES.items():
        for size in SIZES:
            text = make(size)
            started = time.perf_counter()
            found = len(engine.scan("long.txt", text).findings)
            elapsed = time.perf_counter() - started
            per_kb = elapsed * 1e6 / (len(text) / 1000)
            print(f"| {name} | {len(text):,} B | {elapsed:.2f} s | {found:,} | {per_kb:.0f} |")


if __name__ == "__main__":
    main()
