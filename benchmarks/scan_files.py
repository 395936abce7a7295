"""Benchmark `keyless scan` against `detect-secrets scan --all-files` on one generated tree.

Usage (from the repository root, after `bash scripts/test` made .venv):

    python3 -m venv benchmarks/.venv
    benchmarks/.venv/bin/pip install detect-secrets==1.5.0
    .venv/bin/python benchmarks/scan_files.py --size-mb 12

detect-secrets runs from its own virtual environment (benchmarks/.venv by default),
so the comparison uses its stock command line. Both tools scan the same tree; recall
is the share of planted secrets reported on the line where they start. The script
also times `keyless scan --staged` end to end on 5 small staged files. It prints a
Markdown section for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from source_tree import Planted, generate

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    """One tool's run over the tree: wall-clock and CPU seconds, and what it found."""

    label: str
    seconds: float
    cpu_seconds: float
    found: set[tuple[str, int]]


def timed(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `argv` and return it with its wall-clock time and the CPU time of its processes.

    CPU time (user + system, worker processes included) varies less than wall-clock
    time on a machine shared with other work.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, wall, cpu


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=12.0, help="tree size in MiB")
    parser.add_argument("--seed", type=int, default=20261204, help="generator seed")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "keyless-benchmark",
        help="scratch folder outside any git work tree, so keyless walks the whole tree "
        "(default: keyless-benchmark in the temporary folder)",
    )
    parser.add_argument(
        "--detect-secrets",
        type=Path,
        default=HERE / ".venv" / "bin" / "detect-secrets",
        help="detect-secrets executable (default: benchmarks/.venv/bin/detect-secrets)",
    )
    parser.add_argument("--runs", type=int, default=5, help="keyless runs per setting")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to time")
    parser.add_argument(
        "--staged-only", action="store_true", help="time only `keyless scan --staged`"
    )
    return parser.parse_args()


def keyless_command() -> list[str]:
    return [sys.executable, "-m", "keyless"]


def run_keyless(tree: Path, jobs_values: list[int], runs: int) -> list[Result]:
    """Time `keyless scan` with each --jobs value, runs interleaved so load changes hit all."""
    walls: dict[int, list[float]] = {jobs: [] for jobs in jobs_values}
    cpus: dict[int, list[float]] = {jobs: [] for jobs in jobs_values}
    found: dict[int, set[tuple[str, int]]] = {}
    for _ in range(runs):
        for jobs in jobs_values:
            proc, wall, cpu = timed(
                [*keyless_command(), "scan", "--format", "json", "--fail-on", "never",
                 "--jobs", str(jobs), "."],
                tree,
            )  # fmt: skip
            walls[jobs].append(wall)
            cpus[jobs].append(cpu)
            report = json.loads(proc.stdout)
            found[jobs] = {(f["path"], f["line"]) for f in report["findings"]}
            if report["skipped"] or report["scanned"] == 0:
                sys.exit(f"keyless scanned {report['scanned']} files, skipped {report['skipped']}")
    return [
        Result(
            f"keyless scan --jobs {jobs}",
            statistics.median(walls[jobs]),
            statistics.median(cpus[jobs]),
            found[jobs],
        )
        for jobs in jobs_values
    ]


def run_detect_secrets(tree: Path, executable: Path) -> Result:
    proc, wall, cpu = timed([str(executable), "scan", "--all-files", "--no-verify", "."], tree)
    results = json.loads(proc.stdout)["results"]
    found = {
        (path, secret["line_number"]) for path, secrets in results.items() for secret in secrets
    }
    return Result("detect-secrets scan --all-files", wall, cpu, found)


def recall(result: Result, planted: list[Planted]) -> tuple[int, Counter[str]]:
    """Return how many planted secrets were found, and the missed ones by kind."""
    missed: Counter[str] = Counter()
    hits = 0
    for secret in planted:
        if (secret.path, secret.line) in result.found:
            hits += 1
        else:
            missed[secret.kind] += 1
    return hits, missed


def time_staged(work: Path, runs: int) -> tuple[list[float], list[float]]:
    """Time `keyless scan --staged` end to end in a repository with 5 small staged files."""
    repo = work / "staged-repo"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True, env=env)
    # Ordinary code that mentions keys, tokens and passwords, as most code does.
    for index in range(5):
        lines = [
            f"def load_{index}_{n}(settings, password=None):\n"
            f"    api_key = os.environ['API_KEY_{n}']\n"
            f"    return settings.token_for(api_key, {n})\n"
            for n in range(30)
        ]
        (repo / f"module_{index}.py").write_text("".join(lines))
    subprocess.run([*git, "add", "."], cwd=repo, check=True, env=env)
    walls, cpus = [], []
    for _ in range(runs):
        _, wall, cpu = timed([*keyless_command(), "scan", "--staged"], repo)
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus


def staged_summary(walls: list[float], cpus: list[float]) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    return (
        f"`keyless scan --staged`, 5 small staged files, {len(walls)} runs end to end: "
        f"wall median {ms(statistics.median(walls))} (min {ms(min(walls))}, "
        f"max {ms(max(walls))}); CPU median {ms(statistics.median(cpus))}"
    )


def main() -> int:
    args = parse_args()
    if args.staged_only:
        print(staged_summary(*time_staged(args.work, 20)))
        print(f"1-minute load average at the end: {os.getloadavg()[0]:.1f}")
        return 0
    if not args.detect_secrets.exists():
        sys.exit(f"{args.detect_secrets}: not found; see the usage in this script's docstring")
    load_at_start = os.getloadavg()[0]
    tree = args.work / f"tree-{args.seed}-{args.size_mb:g}mb"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    planted = generate(tree, int(args.size_mb * 1024 * 1024), args.seed)
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    files = sum(1 for p in tree.rglob("*") if p.is_file())
    print(f"tree: {tree} ({size / 2**20:.1f} MiB, {files} files, {len(planted)} secrets)")

    results = run_keyless(tree, [int(jobs) for jobs in args.jobs.split(",")], args.runs)
    for result in results:
        print(f"{result.label}: {result.seconds:.2f} s, CPU {result.cpu_seconds:.2f} s", flush=True)
    baseline = run_detect_secrets(tree, args.detect_secrets)
    print(
        f"{baseline.label}: {baseline.seconds:.2f} s, CPU {baseline.cpu_seconds:.2f} s", flush=True
    )
    staged = time_staged(args.work, 10)

    load = os.getloadavg()
    lines = [
        "| tool | wall (s) | MiB/s | wall vs detect-secrets | CPU (s) | CPU vs detect-secrets "
        "| recall | other findings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    planted_lines = {(p.path, p.line) for p in planted}
    missed_notes = []
    for result in [*results, baseline]:
        hits, missed = recall(result, planted)
        ratio = baseline.seconds / result.seconds
        cpu_ratio = baseline.cpu_seconds / result.cpu_seconds
        lines.append(
            f"| `{result.label}` | {result.seconds:.2f} | {size / 2**20 / result.seconds:.2f} "
            f"| {ratio:.1f}x | {result.cpu_seconds:.2f} | {cpu_ratio:.1f}x "
            f"| {hits}/{len(planted)} ({hits / len(planted):.1%}) "
            f"| {len(result.found - planted_lines)} |"
        )
        if missed:
            detail = ", ".join(f"{kind} {n}" for kind, n in sorted(missed.items()))
            missed_notes.append(f"- `{result.label}` missed: {detail}")
    print()
    print(f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, 1-minute load average {load_at_start:.1f} at the start "
        f"and {load[0]:.1f} at the end"
    )
    print(f"Tree: {size / 2**20:.1f} MiB in {files} files, {len(planted)} planted secrets, "
          f"seed {args.seed}")  # fmt: skip
    print()
    print("\n".join(lines))
    print()
    print("\n".join(missed_notes) or "- No planted secret was missed.")
    print()
    print(staged_summary(*staged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
