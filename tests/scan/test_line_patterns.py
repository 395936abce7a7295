"""Line patterns: hyperscan passes every line a detector can match, and few others."""

from __future__ import annotations

import base64
import os
import random
import threading
import time

import pytest

from keyless.config import Config
from keyless.scan import prefilter as prefilter_module
from keyless.scan.detectors.base import Detector
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from keyless.scan.prefilter import Prefilter
from tests import fakes
from tests.scan.detector_cases import FALSE_POSITIVES, HEX, TRUE_POSITIVES

pytest.importorskip("hyperscan")

LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def edge_cases() -> list[tuple[str, str, str]]:
    """Return (rule id, text, secret) cases in the shapes line patterns must allow for."""
    value, bare = fakes.password(), fakes.random_string(24) + "7"
    iam = fakes.random_string(44, fakes.URLSAFE)
    softlayer = fakes.random_string(64, LOWER_ALNUM)
    cloudant = fakes.random_string(24, "abcdefghijklmnopqrstuvwxyz")
    hmac = fakes.random_string(48, HEX)
    mailchimp = fakes.random_string(32, LOWER_ALNUM) + "-us6"
    sendgrid = "SG." + fakes.random_string(22) + "." + fakes.random_string(43)
    url_password = fakes.random_string(18)
    basic = base64.b64encode(f"deploy:{fakes.password()}".encode()).decode()
    bearer, aws_secret, aws_below = (
        fakes.random_string(40),
        fakes.aws_secret_key(),
        fakes.aws_secret_key(),
    )

    return [
        ("generic-secret-assignment", f'password = "{value}"', value),
        ("generic-secret-assignment", f"password={bare}", bare),
        ("generic-secret-assignment", f'apiKey := "{value}"', value),
        ("generic-secret-assignment", f"'db_password' => '{value}',", value),
        ("generic-secret-assignment", f'api_key <- "{value}"', value),
        ("generic-secret-assignment", f"database:\n  password: {bare}\n", bare),
        ("generic-secret-assignment", f'{{"auth_key" :  "{value}"}}', value),
        ("generic-secret-assignment", f'config["access-key"] = "{value}"', value),
        ("generic-secret-assignment", f"DB_PASSWORD: '{value}'\r\nnext: 1\r\n", value),
        ("generic-secret-assignment", f"password\t=\t{bare}\r\n", bare),
        ("generic-secret-assignment", f'Pässwörter: password = "{value}"', value),
        ("generic-secret-assignment", f"# 密码 signing_key: {bare}", bare),
        # Separators that `re` reads as spaces: NO-BREAK SPACE and IDEOGRAPHIC SPACE.
        ("generic-secret-assignment", f'password =\u00a0"{value}"', value),
        ("generic-secret-assignment", f"secret\u3000:\u3000{bare}", bare),
        ("ibm-cloud-iam-key", f"IBM_API_KEY: {iam}", iam),
        ("ibm-cloud-iam-key", f'"iam_token"  =>  "{iam}"', iam),
        ("ibm-cloud-iam-key", f"ibm_cloud_pass {iam}", iam),
        ("softlayer-key", f"sl_api_key: {softlayer}", softlayer),
        ("softlayer-key", f"https://api.softlayer.com/soap/v3.1/{softlayer}", softlayer),
        ("cloudant-credentials", f"cloudant_pw = '{cloudant}'", cloudant),
        # url-credentials reports the same span first; the selection test runs the
        # Cloudant detector on this line too.
        ("url-credentials", f"https://user:{cloudant}@acct.cloudant.com", cloudant),
        ("ibm-cos-hmac-key", f"cos_hmac_secret_access_key: {hmac}", hmac),
        ("mailchimp-key", f'MAILCHIMP_KEY="{mailchimp}"', mailchimp),
        ("sendgrid-key", f"SENDGRID={sendgrid}", sendgrid),
        ("url-credentials", f"mysql://root:{url_password}@db.internal/app", url_password),
        (
            "url-credentials",
            f"Verbindung: postgres://app:{url_password}@db.internal/x",
            url_password,
        ),
        ("url-credentials", f"url = 'amqp://bus:{url_password}@mq.internal'\r\n", url_password),
        ("basic-auth-header", f"Authorization:\tBasic {basic}", basic),
        ("basic-auth-header", f"{{'Authorization': 'Basic {basic}'}}", basic),
        ("bearer-token", f"Authorization = Bearer {bearer}", bearer),
        ("command-line-password", f"curl -X POST --user admin:{value} https://x.test", value),
        ("command-line-password", f"curl --user=admin:{value} https://x.test", value),
        ("command-line-password", f'docker login --password "{value}" r.test', value),
        ("command-line-password", f"docker  login -u ci -p={value} r.test", value),
        ("aws-secret-access-key", f'AWS_SECRET_ACCESS_KEY="{aws_secret}"', aws_secret),
        (
            "aws-secret-access-key",
            f"[default]\r\naws_access_key_id = {fakes.aws_key_id()}\r\n{aws_below}\r\n",
            aws_below,
        ),
    ]


EDGE_CASES = edge_cases()

# Ordinary code lines with the old keywords of these detectors on them.
ORDINARY_LINES = [
    "password_field = forms.CharField()",
    "if token is None:",
    'url = "https://x/y"',
    "def test_skip(pytester: Pytester, monkeypatch: pytest.MonkeyPatch) -> None:",
    "key = cache_key(user.id, 'profile')",
    "keys = list(locals)",
    "    passed = property(lambda x: x.outcome == 'passed')",
    "tokens = tokenizer.tokenize(item)",
    "See https://docs.pytest.org/en/stable/how-to/monkeypatch.html for more.",
]
TIGHTENED = ("generic-secret-assignment", "ibm-cloud-iam-key", "softlayer-key", "url-credentials")


def lines_of(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) offsets of each line of `text`, without the newline."""
    spans = []
    start = 0
    for line in text.split("\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def selected(prefilter: Prefilter, text: str) -> dict[int, tuple[Detector, ...]]:
    return {c.start: c.detectors for c in prefilter.candidates(text)}


def test_hyperscan_selects_every_matching_line() -> None:
    detectors = all_detectors(Config())
    prefilter = Prefilter(detectors, backend="hyperscan")
    texts = [t for _, t, _ in TRUE_POSITIVES + EDGE_CASES] + [t for _, t in FALSE_POSITIVES]
    checked = 0
    for text in texts:
        chosen = selected(prefilter, text)
        for start, end in lines_of(text):
            for detector in detectors:
                if next(iter(detector.find(text, start, end)), None) is None:
                    continue
                checked += 1
                line = text[start:end]
                assert detector in chosen.get(start, ()), (detector.rule.id, line)
    assert checked >= len(TRUE_POSITIVES) + len(EDGE_CASES)


def test_edge_cases_are_found() -> None:
    engine = Engine(all_detectors(Config()), Config(), prefilter=False)
    for rule_id, text, secret in EDGE_CASES:
        found = {(f.rule_id, f.secret.reveal()) for f in engine.scan("f", text).findings}
        assert (rule_id, secret) in found, text


@pytest.mark.parametrize("cases", ["edge", "table", "joined"])
def test_backends_same_findings(cases: str) -> None:
    config = Config()
    detectors = all_detectors(config)
    fast = Engine(detectors, config)
    fast.prefilter = Prefilter(detectors, backend="hyperscan")
    slow = Engine(detectors, config)
    slow.prefilter = Prefilter(detectors, backend="python")
    unfiltered = Engine(detectors, config, prefilter=False)
    table = TRUE_POSITIVES if cases == "table" else EDGE_CASES
    texts = [t for _, t, _ in table] + [t for _, t in FALSE_POSITIVES]
    if cases == "joined":
        # One text, so that hits on many lines, some after non-ASCII text, are mapped
        # back to character offsets together.
        noise = ORDINARY_LINES * (len(texts) // len(ORDINARY_LINES) + 1)
        lines: list[str] = []
        for text, ordinary in zip(texts, noise[: len(texts)], strict=True):
            lines += [text, ordinary]
        texts = ["\n".join(lines)]
    for text in texts:
        expected = [(f.rule_id, f.location, f.key) for f in unfiltered.scan("f", text).findings]
        assert [(f.rule_id, f.location, f.key) for f in fast.scan("f", text).findings] == expected
        assert [(f.rule_id, f.location, f.key) for f in slow.scan("f", text).findings] == expected


def test_ordinary_lines_not_selected() -> None:
    detectors = all_detectors(Config())
    fast = Prefilter(detectors, backend="hyperscan")
    slow = Prefilter(detectors, backend="python")
    for line in ORDINARY_LINES:
        fast_rules = {d.rule.id for c in fast.candidates(line) for d in c.detectors}
        slow_rules = {d.rule.id for c in slow.candidates(line) for d in c.detectors}
        assert not fast_rules & set(TIGHTENED), line
        # The keywords do pass the line, so the patterns are what filters it out.
        assert slow_rules & set(TIGHTENED), line


def test_patterns_pass_fewer_lines() -> None:
    detectors = all_detectors(Config())
    noise = "\n".join(ORDINARY_LINES * 50).encode()
    planted = "\n".join(t for _, t, _ in EDGE_CASES).encode()
    data = noise + b"\n" + planted

    fast = Prefilter(detectors, backend="hyperscan").line_hits(data)
    slow = Prefilter(detectors, backend="python").line_hits(data)

    assert all(hit.start >= len(noise) for hit in fast)
    assert len(slow) > len(ORDINARY_LINES) * 50 - 50


def counting_compile(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the hyperscan compiles; each one is slowed down so that threads overlap."""
    calls: list[int] = []
    real = prefilter_module._compile

    def compile_slowly(expressions: list[prefilter_module.Expression]) -> object:
        calls.append(1)
        time.sleep(0.05)
        return real(expressions)

    monkeypatch.setattr(prefilter_module, "_compile", compile_slowly)
    return calls


def test_prepare_compiles_once_across_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_compile(monkeypatch)
    prefilter = Prefilter(all_detectors(Config()), backend="hyperscan")
    assert calls == []
    results: list[int] = []

    def prepare_and_search() -> None:
        prefilter.prepare()
        results.append(len(prefilter.line_hits(f"x\npassword = '{fakes.password()}'\n".encode())))

    threads = [threading.Thread(target=prepare_and_search) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    prefilter.prepare()

    assert calls == [1]
    assert results == [1] * 6


def test_first_search_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting_compile(monkeypatch)
    prefilter = Prefilter(all_detectors(Config()), backend="hyperscan")

    line = f"token: '{fakes.password()}'"
    hits = prefilter.line_hits(f"{line}\n".encode())

    assert calls == [1]
    assert [(hit.start, hit.end) for hit in hits] == [(0, len(line))]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_search_after_fork_during_compile() -> None:
    prefilter = Prefilter(all_detectors(Config()), backend="hyperscan")
    # A thread that compiles holds the lock, and a child forked meanwhile must not wait.
    lock = prefilter._search._lock  # type: ignore[attr-defined]
    lock.acquire()
    try:
        pid = os.fork()
        if pid == 0:
            hits = prefilter.line_hits(f"password = '{fakes.password()}'\n".encode())
            os._exit(0 if len(hits) == 1 else 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child waited for the parent's compile lock")
    finally:
        lock.release()
    assert os.waitstatus_to_exitcode(status) == 0


# Pieces of lines that the detectors' regular expressions look for, combined at random
# with values from VALUE_ALPHABETS.
FRAGMENTS = [
    *("password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey"),
    *("access-key", "private.key", "auth_key", "signing_key", "encryption_key", "KEY"),
    *("credentials", "ibm_cloud_iam_key", "cl_pw", "cloudant_password", "sl_api_key"),
    *("secret_access_key", "AWS_SECRET", "aws_private", "AKIA", "ASIA", "Authorization"),
    *("Basic", "Bearer", "curl", "docker login", "-u", "--user", "-p", "--password"),
    *("=", ":=", ":", "=>", "<-", "::", " ", "  ", "\t", "\u00a0", "\u3000", "\x1c"),
    *('"', "'", "`", "[", "]", ",", ";", ")", "é", "密", "\r", "-us6", "SG.", ".", "/"),
    *("https://", "postgres://", "@db.internal", "@acct.cloudant.com", "%3A%2F%2F", "%3A"),
    *("%40", "api.softlayer.com/soap/v3/"),
]
VALUE_ALPHABETS = [
    *(fakes.ALNUM, fakes.URLSAFE, HEX, LOWER_ALNUM, "abcdefghijklmnopqrstuvwxyz"),
    *(fakes.ALNUM + "!#%^*+/=", fakes.B64, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
]
VALUE_LENGTHS = (8, 12, 16, 20, 22, 24, 32, 40, 43, 44, 48, 64)


def random_line(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(2, 9)):
        if rng.random() < 0.35:
            alphabet = rng.choice(VALUE_ALPHABETS)
            length = rng.choice(VALUE_LENGTHS)
            parts.append("".join(rng.choice(alphabet) for _ in range(length)))
        else:
            parts.append(rng.choice(FRAGMENTS))
    return "".join(parts)


def test_random_lines_selected_when_matching() -> None:
    rng = random.Random(5)
    detectors = all_detectors(Config())
    prefilter = Prefilter(detectors, backend="hyperscan")
    text = "\n".join(random_line(rng) for _ in range(8000))
    chosen = selected(prefilter, text)
    matched = 0
    for start, end in lines_of(text):
        for detector in detectors:
            if next(iter(detector.find(text, start, end)), None) is None:
                continue
            matched += 1
            assert detector in chosen.get(start, ()), (detector.rule.id, text[start:end])
    assert matched > 150
