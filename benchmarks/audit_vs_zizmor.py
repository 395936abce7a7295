"""Run zizmor beside `keyless audit` on the GitHub fixtures and compare the credential rules.

zizmor is installed from PyPI into a benchmark-only virtual environment (never a
keyless dependency) and run offline: `--offline` disables its online audits and
forbids network access, and GitHub tokens are removed from its environment.

    python benchmarks/audit_vs_zizmor.py [--write docs/audit-vs-zizmor.md]

For each zizmor finding of an audit that maps to a keyless rule, the script checks
that keyless reports that rule in the same place. The place is the step when zizmor
names a step, the job when it names a job, and otherwise the file. It exits 1 when a
zizmor finding is not covered, unless DELIBERATE lists it with the reason keyless
leaves it out. It also times both tools on the fixtures copied many
times over, and prints one line for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.audit_fakes import render  # noqa: E402

from keyless.audit import github  # noqa: E402
from keyless.audit.loader import load_text  # noqa: E402
from keyless.audit.nodes import Mapping  # noqa: E402

FIXTURES = ROOT / "tests" / "audit" / "fixtures" / "github"
ZIZMOR_VERSION = "1.33.1"

# zizmor audit -> keyless rule, for the audits about credentials.
MAPPING = {
    "hardcoded-container-credentials": "hardcoded-secret",
    "use-trusted-publishing": "publish-with-token",
    "excessive-permissions": "excessive-permissions",
    "secrets-inherit": "secrets-inherit",
    "overprovisioned-secrets": "overprovisioned-secrets",
    "unredacted-secrets": "secret-exposure",
    "dangerous-triggers": "untrusted-code-with-secrets",
    "unsafe-checkout": "untrusted-code-with-secrets",
    "template-injection": "template-injection",
    "artipacked": "persisted-checkout-credentials",
    "unpinned-uses": "unpinned-action",
}


@dataclass(frozen=True)
class Place:
    """The place of a finding: its file, and its job and step when known."""

    path: str
    job: str | None
    step: int | None


def stage(target: Path, copies: int) -> None:
    """Copy the GitHub fixtures into a repository layout, fakes rendered."""
    if target.exists():
        shutil.rmtree(target)
    workflows = target / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for copy in range(copies):
        suffix = f"-{copy}" if copies > 1 else ""
        for fixture in sorted(FIXTURES.glob("*.yml")):
            text = render(fixture.read_text(encoding="utf-8"))
            if fixture.name == "composite-action.yml":
                action = target / "actions" / f"composite{suffix}" / "action.yml"
                action.parent.mkdir(parents=True, exist_ok=True)
                action.write_text(text, encoding="utf-8")
            else:
                (workflows / f"{fixture.stem}{suffix}.yml").write_text(text, encoding="utf-8")


def ensure_zizmor(venv: Path, version: str) -> Path:
    """Create the benchmark venv with zizmor installed, and return the zizmor binary."""
    binary = venv / "bin" / "zizmor"
    if binary.exists():
        return binary
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"zizmor=={version}"], check=True)
    return binary


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GH_", "GITHUB_"))}
    env.pop("ZIZMOR_GITHUB_TOKEN", None)
    env["ZIZMOR_OFFLINE"] = "true"
    return env


def run_zizmor(binary: Path, directory: Path) -> tuple[list[dict[str, object]], float]:
    argv = [str(binary), "--offline", "--no-config", "--no-exit-codes", "--format", "json", "."]
    started = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=directory, capture_output=True, text=True, env=offline_env(), check=True
    )
    elapsed = time.perf_counter() - started
    findings: list[dict[str, object]] = json.loads(proc.stdout)
    return findings, elapsed


def run_keyless(directory: Path) -> tuple[list[dict[str, object]], float]:
    argv = [sys.executable, "-m", "keyless", "audit", "--format", "json", "--fail-on", "never", "."]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=directory, capture_output=True, text=True, env=env, check=True)
    elapsed = time.perf_counter() - started
    findings: list[dict[str, object]] = json.loads(proc.stdout)["findings"]
    return findings, elapsed


def zizmor_place(finding: dict[str, object]) -> Place:
    locations = finding["locations"]
    assert isinstance(locations, list)
    primary = next(loc for loc in locations if loc["symbolic"]["kind"] == "Primary")
    path = primary["symbolic"]["key"]["Local"]["verbatim_path"].removeprefix("./")
    route = [part.get("Key", part.get("Index")) for part in primary["symbolic"]["route"]["route"]]
    job: str | None = None
    step: int | None = None
    if route[:1] == ["jobs"] and len(route) > 1:
        job = str(route[1])
        if len(route) > 3 and route[2] == "steps":
            step = int(route[3])
    elif route[:1] == ["runs"]:
        job = "runs"
        if len(route) > 2 and route[1] == "steps":
            step = int(route[2])
    return Place(path, job, step)


class Locator:
    """Map a keyless finding's line to its job and step, using keyless's own models."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cache: dict[str, list[github.Job]] = {}

    def jobs(self, path: str) -> list[github.Job]:
        if path not in self.cache:
            loaded = load_text(path, (self.directory / path).read_text(encoding="utf-8"))
            jobs: list[github.Job] = []
            for document in loaded.documents:
                if isinstance(document, Mapping) and github.is_workflow(document):
                    jobs.extend(github.parse_workflow(document).jobs)
                elif isinstance(document, Mapping):
                    action = github.parse_action(document)
                    if action.job is not None:
                        jobs.append(action.job)
            self.cache[path] = jobs
        return self.cache[path]

    def place(self, path: str, line: int) -> Place:
        # A block node's end mark is where the next sibling starts, so among the nodes
        # whose span holds the line, the one that starts last is the right one.
        jobs = [job for job in self.jobs(path) if _first_line(job) <= line <= job.node.end.line]
        if not jobs:
            return Place(path, None, None)
        job = max(jobs, key=_first_line)
        steps = [s for s in job.steps if s.node.start.line <= line <= s.node.end.line]
        if not steps:
            return Place(path, job.id, None)
        return Place(path, job.id, max(steps, key=lambda s: s.node.start.line).index)


def _first_line(job: github.Job) -> int:
    return job.key.start.line if job.key is not None else job.node.start.line


def covered(place: Place, candidates: list[Place]) -> bool:
    for other in candidates:
        if other.path != place.path:
            continue
        if place.job is None:
            return True
        if other.job != place.job:
            continue
        if place.step is None or other.step == place.step:
            return True
    return False


# zizmor findings keyless leaves out on purpose: (audit, path, job, step) -> why.
DELIBERATE = {
    (
        "template-injection",
        ".github/workflows/template-injection.yml",
        "from-env",
        "1",
    ): "zizmor treats every `${{ env.X }}` as attacker-controllable; keyless reports it "
    "only when X is set from such a context or not set in the file, and here `SHA` is "
    "set from `github.sha`",
}


def compare(directory: Path, zizmor: list[dict[str, object]], keyless: list[dict[str, object]]):
    locator = Locator(directory)
    keyless_places: dict[str, list[Place]] = {}
    for finding in keyless:
        place = locator.place(str(finding["path"]), int(str(finding["line"])))
        keyless_places.setdefault(str(finding["rule_id"]), []).append(place)
    rows = []
    missing: list[str] = []
    deliberate: list[str] = []
    unmapped: Counter[str] = Counter()
    for audit, rule in MAPPING.items():
        mine = [f for f in zizmor if f["ident"] == audit]
        places = [zizmor_place(f) for f in mine]
        hits = [p for p in places if covered(p, keyless_places.get(rule, []))]
        for place in places:
            if place in hits:
                continue
            why = DELIBERATE.get((audit, place.path, str(place.job), str(place.step)))
            where = f"{audit} at {place.path} job={place.job} step={place.step}"
            if why is not None:
                deliberate.append(f"{where}: {why}")
            else:
                missing.append(where)
        rows.append((audit, rule, len(places), len(hits), len(keyless_places.get(rule, []))))
    for finding in zizmor:
        if finding["ident"] not in MAPPING:
            unmapped[str(finding["ident"])] += 1
    return rows, missing, deliberate, unmapped


def median_time(run, repeat: int) -> float:
    return statistics.median(run()[1] for _ in range(repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=str(ROOT / "benchmarks" / ".work" / "zizmor-venv"))
    parser.add_argument("--zizmor-version", default=ZIZMOR_VERSION)
    parser.add_argument("--write", metavar="FILE", help="write the overlap table as Markdown")
    parser.add_argument("--copies", type=int, default=20, help="fixture copies for timing")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs; the median is kept")
    args = parser.parse_args()

    binary = ensure_zizmor(Path(args.venv), args.zizmor_version)
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # Outside this repository, so neither tool treats it as part of a larger git tree.
    work = Path(tempfile.mkdtemp(prefix="keyless-audit-bench-"))
    fixtures_dir = work / "audit-fixtures"
    stage(fixtures_dir, 1)
    zizmor, _ = run_zizmor(binary, fixtures_dir)
    keyless, _ = run_keyless(fixtures_dir)
    rows, missing, deliberate, unmapped = compare(fixtures_dir, zizmor, keyless)

    timing_dir = work / "audit-timing"
    stage(timing_dir, args.copies)
    files = sum(1 for _ in timing_dir.rglob("*.yml"))
    zizmor_seconds = median_time(lambda: run_zizmor(binary, timing_dir), args.repeat)
    keyless_seconds = median_time(lambda: run_keyless(timing_dir), args.repeat)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    timing = (
        f"{date.today().isoformat()}: {files} files (the GitHub fixtures x{args.copies}), "
        f"median of {args.repeat}: keyless audit {keyless_seconds:.2f} s, "
        f"{version} --offline {zizmor_seconds:.2f} s ({machine})"
    )

    table = render_table(rows, missing, deliberate, unmapped, version, machine)
    print(table)
    print(timing)
    shutil.rmtree(work)
    if args.write:
        Path(args.write).write_text(table, encoding="utf-8")
    for line in missing:
        print(f"not covered by keyless: {line}", file=sys.stderr)
    return 1 if missing else 0


def render_table(rows, missing, deliberate, unmapped, version: str, machine: str) -> str:
    lines = [
        "# keyless audit and zizmor on the GitHub fixtures",
        "",
        "Generated by `python benchmarks/audit_vs_zizmor.py --write docs/audit-vs-zizmor.md`",
        f"on {date.today().isoformat()} ({machine}), with {version} from PyPI in a",
        "benchmark-only virtual environment, run with `--offline --no-config` and its",
        "default (regular) persona. The inputs are keyless's GitHub fixtures",
        "(tests/audit/fixtures/github), fake secrets filled in.",
        "",
        "A zizmor finding counts as covered when keyless reports the mapped rule in the",
        "same step (if zizmor names a step), the same job (if it names a job), or else the",
        "same file.",
        "",
        "| zizmor audit | keyless rule | zizmor findings | covered by keyless | keyless findings |",
        "|---|---|---:|---:|---:|",
    ]
    for audit, rule, total, hits, mine in rows:
        lines.append(f"| {audit} | {rule} | {total} | {hits} | {mine} |")
    lines.append("")
    if missing:
        lines.append("Not covered by keyless:")
        lines.extend(f"- {item}" for item in missing)
    elif deliberate:
        lines.append("keyless covers every zizmor finding of these audits except these,")
        lines.append("which it leaves out by design:")
        lines.append("")
    else:
        lines.append("keyless covers every zizmor finding of these audits.")
    if deliberate:
        if missing:
            lines += ["", "Left out by design:", ""]
        lines.extend(f"- {item}" for item in deliberate)
    lines += [
        "",
        "keyless reports more than zizmor where its rules look further. It audits GitLab",
        "CI, which zizmor does not, and finds cloud keys that OIDC can replace",
        "(static-cloud-credentials), secrets written to GITHUB_ENV or artifacts or traced",
        "with `set -x` (secret-exposure), and credential files shipped from the workspace",
        "(credentials-file-in-workspace). Severities differ by design: keyless reports",
        "a checkout that keeps its token, or a `pull_request_target` trigger with no job",
        "fetching pull request code, at low severity, where zizmor's artipacked and",
        "dangerous-triggers rate them medium or high.",
        "",
        "zizmor audits with no keyless counterpart (not about credentials), with their",
        "finding counts here:",
        "",
    ]
    if unmapped:
        lines.extend(f"- {name}: {count}" for name, count in sorted(unmapped.items()))
    else:
        lines.append("- none")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
