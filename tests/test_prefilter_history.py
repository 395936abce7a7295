"""The prefilter changes speed only: history findings and line hits match without it."""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import pytest

from keyless.cli import main
from keyless.config import Config
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.prefilter import Prefilter
from tests.conftest import GitRepo
from tests.fakes import aws_key_id, aws_secret_key, github_token, random_string

NOISE = [
    "def handle(request):",
    "    return response.json()",
    "password = get_password()",
    "# the token is read from the environment",
    "url = 'https://example.invalid/path'",
    "key: value",
    "   pass",
    "Ünïcödé línе with token-ish wörds",
    "",
]


def planted_lines(rng: random.Random) -> list[str]:
    return [
        f"GITHUB_TOKEN={github_token()}",
        f"aws_access_key_id = {aws_key_id()}",
        f"aws_secret_access_key = {aws_secret_key()}",
        f"db_password = '{random_string(24)}9'",
        f"DATABASE_URL=postgres://app:{random_string(16)}@db.internal:5432/app",
        f"Ünï = '{github_token()}'  # non-ASCII before the secret",
        rng.choice(NOISE),
    ]


def build_history(repo: GitRepo) -> None:
    rng = random.Random(7)
    for number in range(12):
        lines = [rng.choice(NOISE) for _ in range(30)]
        if number % 3 == 0:
            lines[rng.randrange(30) :] = planted_lines(rng)
        repo.write(f"src/module_{number % 4}.py", "\n".join(lines) + "\n")
        repo.commit(f"change {number}")
        if number == 5:
            repo.git("checkout", "-q", "-b", "topic")
            repo.write("topic.cfg", f"secret_key = '{random_string(30)}7'\n")
            repo.commit("topic")
            repo.git("checkout", "-q", "main")
            repo.git("merge", "-q", "--no-edit", "topic")
    (repo.path / "moved").mkdir()
    repo.git("mv", "src/module_0.py", "moved/module_0.py")
    repo.commit("move")


def history_findings(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], *args: str
) -> list[dict[str, Any]]:
    capsys.readouterr()
    main(["scan", "--history", "--format", "json", *args])
    findings: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["findings"]
    for finding in findings:
        # The scan time moves between the two runs; everything else must not.
        finding.pop("exposure_days")
    return findings


def test_history_same_without_prefilter(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_history(repo)
    monkeypatch.chdir(repo.path)

    filtered = history_findings(repo, capsys)
    unfiltered = history_findings(repo, capsys, "--no-prefilter")
    # Without hyperscan the prefilter searches for keywords in Python. Forked workers
    # inherit the blocked import.
    monkeypatch.setitem(sys.modules, "hyperscan", None)
    python_search = history_findings(repo, capsys)

    assert len(filtered) >= 15
    assert filtered == unfiltered
    assert python_search == unfiltered


def random_corpus(size: int) -> bytes:
    rng = random.Random(11)
    keywords = ["token", "PASS", "Private Key", "aKiA", "ghp_", "://", "é", "sig="]
    alphabet = "abcdefghijklmnopqrstuvwxyzABCXYZ012 _-/:=\"'é\t"
    parts = []
    length = 0
    while length < size:
        if rng.random() < 0.02:
            part = rng.choice(keywords)
        elif rng.random() < 0.02:
            part = "\n"
        else:
            part = rng.choice(alphabet)
        parts.append(part)
        length += len(part)
    return "".join(parts).encode()


def selections(prefilter: Prefilter, data: bytes) -> set[tuple[int, int, str]]:
    """Return (line start, line end, rule id) for each line and detector selected."""
    return {
        (hit.start, hit.end, detector.rule.id)
        for hit in prefilter.line_hits(data)
        for detector in prefilter.detectors_for(hit.keywords)
    }


def test_hyperscan_lines_subset_of_keywords() -> None:
    pytest.importorskip("hyperscan")
    detectors = all_detectors(Config())
    fast = selections(Prefilter(detectors, backend="hyperscan"), random_corpus(200_000))
    slow = selections(Prefilter(detectors, backend="python"), random_corpus(200_000))
    by_keywords = {d.rule.id for d in detectors if not d.line_patterns}

    fast_lines = {(start, end) for start, end, _ in fast}
    slow_lines = {(start, end) for start, end, _ in slow}

    assert len(fast_lines) > 100
    assert fast_lines <= slow_lines
    assert len(slow_lines - fast_lines) > 100
    # Detectors without line patterns are selected by their keywords on both backends.
    assert {s for s in fast if s[2] in by_keywords} == {s for s in slow if s[2] in by_keywords}


@pytest.mark.parametrize("backend", ["python", "hyperscan"])
def test_candidates_offsets_in_non_ascii_text(backend: str) -> None:
    if backend == "hyperscan":
        pytest.importorskip("hyperscan")
    prefilter = Prefilter(all_detectors(Config()), backend=backend)
    assignment = f"näme_token = '{random_string(12)}'"
    text = f"héllo wörld\n{assignment}\nplain\n€€ ghp_abc €\nlast"

    lines = [text[c.start : c.end] for c in prefilter.candidates(text)]

    assert lines == [assignment, "€€ ghp_abc €"]


def test_unknown_backend_rejected() -> None:
    with pytest.raises(ValueError, match="unknown prefilter backend"):
        Prefilter(all_detectors(Config()), backend="regex")
