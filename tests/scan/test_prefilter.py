"""The prefilter changes speed only: results with and without it are identical."""

from __future__ import annotations

import json
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from keyless import termination
from keyless.config import Config
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from keyless.scan.prefilter import Prefilter
from tests import fakes
from tests.scan.detector_cases import FALSE_POSITIVES, TRUE_POSITIVES
from tests.scan.support import run, validate

NOISE = [
    "def handler(event, context):",
    "    return {'statusCode': 200, 'body': json.dumps(event)}",
    "key = cache_key(user.id, 'profile')",
    "# The token is read from the environment at run time.",
    "url = f'https://{host}:{port}/api/v1/items'",
    "    password_field = forms.CharField(widget=forms.PasswordInput)",
    '  "dependencies": {"left-pad": "^1.3.0"},',
    "SELECT id, name FROM users WHERE api_key_hash = $1;",
]


def synthetic_files() -> dict[str, str]:
    """Return files mixing every table case with lines that look like ordinary code."""
    cases = [text for _, text, _ in TRUE_POSITIVES] + [text for _, text in FALSE_POSITIVES]
    files: dict[str, str] = {}
    for index in range(0, len(cases), 7):
        lines: list[str] = []
        for offset, case in enumerate(cases[index : index + 7]):
            lines.append(NOISE[(index + offset) % len(NOISE)])
            lines.append(case)
        files[f"synthetic/file{index:03d}.txt"] = "\n".join(lines) + "\n"
    # An access key ID whose secret key sits on an unnamed line above it.
    secret = fakes.aws_secret_key()
    files["synthetic/aws_above.ini"] = f"[default]\n{secret}\nid={fakes.aws_key_id()}\n"
    return files


def test_engine_per_case() -> None:
    config = Config()
    filtered = Engine(all_detectors(config), config, prefilter=True)
    python_search = Engine(all_detectors(config), config, prefilter=True)
    python_search.prefilter = Prefilter(all_detectors(config), backend="python")
    unfiltered = Engine(all_detectors(config), config, prefilter=False)
    for text in [t for _, t, _ in TRUE_POSITIVES] + [t for _, t in FALSE_POSITIVES]:
        with_filter = [(f.rule_id, f.location, f.key) for f in filtered.scan("f", text).findings]
        in_python = [(f.rule_id, f.location, f.key) for f in python_search.scan("f", text).findings]
        without = [(f.rule_id, f.location, f.key) for f in unfiltered.scan("f", text).findings]
        assert with_filter == without, text
        assert in_python == without, text


def test_disabled_prefilter_yields_every_line() -> None:
    prefilter = Prefilter(all_detectors(Config()), enabled=False)
    text = "a\n\nb\nc"
    assert [(c.start, c.end) for c in prefilter.candidates(text)] == [(0, 1), (3, 4), (5, 6)]


@pytest.mark.slow
def test_cli_results_identical_on_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import detect_secrets
    import requests

    corpus = tmp_path / "corpus"
    for name, content in synthetic_files().items():
        target = corpus / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    # Real source trees of packages installed next to keyless.
    for package in (detect_secrets, requests):
        source = Path(package.__file__).parent
        shutil.copytree(
            source, corpus / "real" / source.name, ignore=shutil.ignore_patterns("__pycache__")
        )
    monkeypatch.chdir(corpus)

    reports = []
    for mode in ("default", "off", "python"):
        if mode == "python":
            # Without hyperscan the prefilter searches for keywords in Python.
            monkeypatch.setitem(sys.modules, "hyperscan", None)
        extra = ["--no-prefilter"] if mode == "off" else []
        result = run(capsys, "scan", "--format", "json", "--fail-on", "never", *extra)
        assert result.code == 0
        document = json.loads(result.out)
        validate(document)
        reports.append(document)
    with_filter, without, python_search = reports
    assert with_filter["scanned"] > 100
    assert len(with_filter["findings"]) >= len(TRUE_POSITIVES)
    assert with_filter["findings"] == without["findings"]
    assert with_filter["suppressed"] == without["suppressed"]
    assert python_search["findings"] == without["findings"]
    assert python_search["suppressed"] == without["suppressed"]


def search_interrupted_by(handler: Callable[[int, object], None]) -> None:
    """Search data that matches on every line while SIGALRM runs `handler` in 5 ms."""
    prefilter = Engine(all_detectors(Config()), Config()).prefilter
    prefilter.prepare()
    # Each line matches, so the search calls back into Python on every line, where
    # the signal handler runs.
    # keyless: allow[generic-secret-assignment] a made-up value that every line repeats
    data = b"token = 'abcdefgh12345678'\n" * 100_000
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.005)
    try:
        prefilter.line_hits(data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_ctrl_c_during_search_raises_keyboard_interrupt() -> None:
    pytest.importorskip("hyperscan")

    with pytest.raises(KeyboardInterrupt):
        search_interrupted_by(signal.default_int_handler)


def test_sigterm_during_search_exits_with_its_code(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("hyperscan")
    monkeypatch.setattr(termination, "received", None)

    with pytest.raises(SystemExit) as raised:
        search_interrupted_by(termination._raise_exit)

    assert raised.value.code == 128 + signal.SIGALRM
