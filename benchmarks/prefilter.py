"""Count the added lines the prefilter passes to each detector, and time its compile.

Usage (from the repository root, after `bash scripts/test` made .venv):

    git -C REPO rev-list --all > /tmp/commits
    git -C REPO diff-tree --stdin -p -U0 --no-renames --cc --root < /tmp/commits > /tmp/patch
    .venv/bin/python benchmarks/prefilter.py /tmp/patch

The patch stream is searched in blocks of about 4 MB that end at a line break, as a
history scan reads it. For each backend (hyperscan where it imports, and Python) it
prints the added lines passed to each detector and the time of `line_hits` over the
whole stream, as a Markdown table for docs/benchmarks.md. Then it prints the minimum,
median and maximum CPU time of `Prefilter.prepare()`, the hyperscan compile, each in
a fresh process, because the compile time of the same database varies from process
to process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from keyless.config import Config
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.prefilter import Prefilter

BLOCK = 4 << 20
COMPILE_SNIPPET = """
import time
from keyless.config import Config
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.prefilter import Prefilter
prefilter = Prefilter(all_detectors(Config()), backend="hyperscan")
start = time.process_time()
prefilter.prepare()
print((time.process_time() - start) * 1000)
"""


def blocks(data: bytes) -> list[bytes]:
    """Split `data` into blocks of about BLOCK bytes, each ending after a newline."""
    result = []
    position = 0
    while position < len(data):
        cut = data.find(b"\n", min(position + BLOCK, len(data)) - 1)
        end = len(data) if cut < 0 else cut + 1
        result.append(data[position:end])
        position = end
    return result


def is_added(block: bytes, start: int) -> bool:
    return block.startswith(b"+", start) and not block.startswith(b"+++ ", start)


def passed_lines(prefilter: Prefilter, parts: list[bytes]) -> tuple[Counter[str], int, float]:
    """Return added lines passed per rule id, added lines passed in all, and search time."""
    started = time.perf_counter()
    hits = [(part, prefilter.line_hits(part)) for part in parts]
    elapsed = time.perf_counter() - started
    per_rule: Counter[str] = Counter()
    total = 0
    for part, part_hits in hits:
        for hit in part_hits:
            if not is_added(part, hit.start):
                continue
            total += 1
            for detector in prefilter.detectors_for(hit.keywords):
                per_rule[detector.rule.id] += 1
    return per_rule, total, elapsed


def compile_times(processes: int) -> list[float]:
    """Return the CPU milliseconds of one hyperscan compile in each of `processes` runs."""
    times = []
    for _ in range(processes):
        output = subprocess.run(
            [sys.executable, "-c", COMPILE_SNIPPET], check=True, capture_output=True, text=True
        ).stdout
        times.append(float(output))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patch", type=Path, help="output of git diff-tree -p -U0")
    parser.add_argument("--processes", type=int, default=15, help="compile runs (default 15)")
    args = parser.parse_args()

    parts = blocks(args.patch.read_bytes())
    added = sum(1 for part in parts for line in part.split(b"\n") if is_added(line, 0))
    detectors = all_detectors(Config())
    backends = ["python"]
    try:
        import hyperscan  # noqa: F401

        backends.insert(0, "hyperscan")
    except ImportError:
        print("hyperscan does not import; only the Python search is measured", file=sys.stderr)

    results = {}
    for backend in backends:
        prefilter = Prefilter(detectors, backend=backend)
        prefilter.prepare()
        results[backend] = passed_lines(prefilter, parts)

    print(f"{added:,} added lines in {len(parts)} blocks\n")
    print("| detector | " + " | ".join(backends) + " |")
    print("| --- |" + " --- |" * len(backends))
    rules = sorted(
        {rule for per_rule, _, _ in results.values() for rule in per_rule},
        key=lambda rule: -max(results[b][0][rule] for b in backends),
    )
    for rule in rules:
        print(f"| {rule} | " + " | ".join(f"{results[b][0][rule]:,}" for b in backends) + " |")
    print("| any detector | " + " | ".join(f"{results[b][1]:,}" for b in backends) + " |")
    print("| `line_hits` time | " + " | ".join(f"{results[b][2]:.2f} s" for b in backends) + " |")
    if "hyperscan" in backends:
        times = compile_times(args.processes)
        print(
            f"\nhyperscan compile, CPU ms over {len(times)} processes: "
            f"min {min(times):.1f}, median {statistics.median(times):.1f}, "
            f"max {max(times):.1f}"
        )


if __name__ == "__main__":
    main()
