"""Each detector against its table of true and false positives."""

from __future__ import annotations

import pytest

from keyless.config import Config
from keyless.findings import Confidence, Finding
from keyless.scan.detectors.checksums import crc32_base62_valid
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from keyless.secret import MASK
from tests import fakes
from tests.scan.detector_cases import FALSE_POSITIVES, TRUE_POSITIVES


def scan(text: str, *, prefilter: bool = True) -> list[Finding]:
    engine = Engine(all_detectors(Config()), Config(), prefilter=prefilter)
    return engine.scan("case.txt", text).findings


def revealed(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule_id, f.secret.reveal() if f.secret else "") for f in findings]


@pytest.mark.parametrize(
    ("rule_id", "text", "secret"),
    TRUE_POSITIVES,
    ids=[f"{rule}-{index}" for index, (rule, _, _) in enumerate(TRUE_POSITIVES)],
)
def test_true_positive(rule_id: str, text: str, secret: str) -> None:
    found = revealed(scan(text))
    assert (rule_id, secret) in found


@pytest.mark.parametrize(
    ("label", "text"), FALSE_POSITIVES, ids=[label for label, _ in FALSE_POSITIVES]
)
def test_false_positive(label: str, text: str) -> None:
    assert revealed(scan(text)) == []


def test_every_rule_has_a_true_positive() -> None:
    tested = {rule_id for rule_id, _, _ in TRUE_POSITIVES}
    rules = {d.rule.id for d in all_detectors(Config())}
    assert rules - tested == set()


def test_github_checksum_raises_confidence() -> None:
    valid = fakes.github_token()
    broken = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    assert crc32_base62_valid(valid.split("_", 1)[1])
    assert not crc32_base62_valid(broken.split("_", 1)[1])
    (good,) = scan(f"token = {valid}")
    (bad,) = scan(f"token = {broken}")
    assert good.confidence is Confidence.HIGH
    assert bad.confidence is Confidence.MEDIUM


def test_npm_checksum_raises_confidence() -> None:
    valid = fakes.npm_token()
    broken = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    (good,) = scan(f"//registry.npmjs.org/:_authToken={valid}")
    (bad,) = scan(f"//registry.npmjs.org/:_authToken={broken}")
    assert good.confidence is Confidence.HIGH
    assert bad.confidence is Confidence.MEDIUM


def test_encrypted_private_key_is_medium_confidence() -> None:
    (finding,) = scan(fakes.pem_private_key("ENCRYPTED "))
    assert finding.confidence is Confidence.MEDIUM


def test_location_of_multiline_key() -> None:
    text = "first line\n" + fakes.pem_private_key()
    (finding,) = scan(text)
    assert finding.location.line == 2
    assert finding.location.column == 1
    assert finding.location.end_line == 11


def test_location_is_column_of_secret() -> None:
    token = fakes.github_token()
    (finding,) = scan(f"a\n  x = '{token}'\n")
    assert (finding.location.line, finding.location.column) == (2, 8)


def test_service_account_wins_over_private_key() -> None:
    findings = scan(fakes.gcp_service_account_json())
    assert [f.rule_id for f in findings] == ["gcp-service-account-key"]


def test_preview_never_holds_secret() -> None:
    for _, text, secret in TRUE_POSITIVES:
        for finding in scan(text):
            assert secret not in finding.preview
            if len(finding.preview) > 8:
                # A URL secret keeps its scheme and host, and hides a path of 8 or more.
                origin = finding.preview.removesuffix(MASK)
                assert "://" in origin
                assert secret.startswith(origin)
                assert len(secret) - len(origin) >= 8


def test_disabled_rule_is_not_run() -> None:
    config = Config(disable={"github-token"})
    engine = Engine(all_detectors(config), config)
    assert engine.scan("a", f"t = {fakes.github_token()}").findings == []


def test_assignment_search_matches_plain_regex() -> None:
    from keyless.scan.detectors.assignment import _PATTERN, _assignments
    from tests.scan.test_prefilter import NOISE

    texts = [t for _, t, _ in TRUE_POSITIVES] + [t for _, t in FALSE_POSITIVES] + NOISE
    texts += [
        '"my_password" = "a1b2c3d4e5"',
        "x-token-key: 'abc123def456'",
        'pass"word=x',
        'password="abc123xyz9"token="def456uvw8"',
        "monkey=1 password='a1b2c3d4e5f6' api-key: Zx81Kq0PmW2aa",
        'pässword = "x1y2z3w4v5u6" secret_key="Qw3rTy9Uio0P"',
        "token=abc123def456ghi,password=zz9yy8xx7ww6",
        'print(f"password=abc123def456ghi")',
        "x'token: 'k8Hq2mZp4Rt7Wx' my_key_secret = 'Zx81Kq0PmW2a'",
        "keykeykey password passwordpassword = 'a1b2c3d4e5f6g7'",
    ]
    for text in texts:
        for line in text.splitlines():
            expected = [m.span() for m in _PATTERN.finditer(line)]
            assert [m.span() for m in _assignments(line, 0, len(line))] == expected, line


def test_plugin_shapes_cover_plugin_matches() -> None:
    import importlib
    import re

    from keyless.scan.detectors.upstream import PLUGINS

    by_rule = {spec.rule_id: spec for spec in PLUGINS}
    covered = set()
    for rule_id, text, _ in TRUE_POSITIVES:
        spec = by_rule.get(rule_id)
        if spec is None:
            continue
        module = importlib.import_module(f"detect_secrets.plugins.{spec.module}")
        for pattern in getattr(module, spec.cls).denylist:
            for match in pattern.finditer(text):
                assert re.search(spec.shape, match.group(0)), (rule_id, pattern.pattern)
                covered.add(rule_id)
    assert covered == set(by_rule)


def test_private_key_field_outside_service_account_is_not_gcp() -> None:
    import json

    key = fakes.pem_private_key("")
    document = json.dumps({"type": "tls", "private_key": key}, indent=2)
    assert [f.rule_id for f in scan(document)] == ["private-key"]
