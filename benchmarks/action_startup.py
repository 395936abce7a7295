"""Time from the GitHub Action's first step to keyless's first result, cold and cached.

The action runs under tests.support.actions (the same harness the tests use) on a
small generated repository, with only the work-tree scan enabled, so the run step
ends when the first result is printed. "cold" builds keyless's virtual environment
from the action's files, and pip downloads or reuses wheels from its cache. "cached"
finds the environment in the tool cache, where an actions/cache hit restores it.

Usage: .venv/bin/python benchmarks/action_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.actions import ActionRun, ActionRunner
from tests.support.snapshot import make_snapshot

INPUTS = {"history": "none", "audit": "false", "sarif": "false"}


def make_repository(path: Path, files: int = 50) -> None:
    """Create a git repository of `files` small source files, committed."""
    path.mkdir(parents=True)
    for index in range(files):
        module = path / "src" / f"module_{index}.py"
        module.parent.mkdir(exist_ok=True)
        module.write_text("".join(f"def f{n}(x):\n    return x * {n}\n" for n in range(40)))
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)


def first_result_seconds(run: ActionRun) -> float:
    """Return the time the steps took up to the end of the run step."""
    if run.returncode != 0:
        raise RuntimeError(f"the action failed: {run.stdout}{run.stderr}")
    return sum(step.seconds for step in run.steps if step.ran)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keyless-action-bench-") as folder:
        root = Path(folder)
        snapshot = make_snapshot(root / "action")
        make_repository(root / "workspace")
        cold: list[float] = []
        cached: list[float] = []
        breakdown: list[str] = []
        for attempt in range(args.runs):
            runner = ActionRunner(snapshot.path, root / "workspace", root / f"runner-{attempt}")
            first = runner.run(INPUTS)
            cold.append(first_result_seconds(first))
            second = runner.run(INPUTS)
            cached.append(first_result_seconds(second))
            assert first.outputs["cache-hit"] == "false"
            assert second.outputs["cache-hit"] == "true"
            for label, run in (("cold", first), ("cached", second)):
                steps = ", ".join(f"{s.name} {s.seconds:.2f} s" for s in run.steps if s.ran)
                breakdown.append(f"{label}: {steps}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"repository: 50 files of 80 lines; runs of each kind: {args.runs}")
    for label, times in (("cold", cold), ("cached", cached)):
        each = ", ".join(f"{seconds:.2f}" for seconds in times)
        print(f"{label:6} median {statistics.median(times):.2f} s  (all: {each})")
    for line in breakdown:
        print("  " + line)


if __name__ == "__main__":
    main()
