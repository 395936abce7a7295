"""Redacted previews: a short prefix for tokens, the scheme and host for URL secrets."""

from __future__ import annotations

import hashlib
import json

import pytest

from keyless.report import FORMATS, render
from keyless.report.model import Report
from keyless.secret import MASK, Secret, redact
from tests import fakes
from tests.conftest import GitRepo
from tests.report.support import secret_finding
from tests.scan.support import run, scan_json

SLACK_ORIGIN = "https://hooks.slack.com/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abcdefghijklmnop", "abcd" + MASK),
        ("abcdefg", MASK),
        ("https://hooks.slack.com/services/T1/B2/abcdefghij", SLACK_ORIGIN + MASK),
        ("http://ci.internal:8443/hooks/abcdefghij", "http://ci.internal:8443/" + MASK),
        # User info could be a credential, so such a URL keeps only the usual prefix.
        ("https://user:pw@hooks.slack.com/services/abcdefghij", "http" + MASK),
        # Too little after the host to hide: the usual prefix rule applies.
        ("https://example.net/abc", "http" + MASK),
        ("https://hooks.slack.com/services/a b c d e", "http" + MASK),
    ],
)
def test_redact_cases(value: str, expected: str) -> None:
    assert redact(value) == expected


def test_slack_webhook_preview_keeps_host(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    webhook = fakes.slack_webhook()
    repo.write("notify.sh", f'curl -X POST "{webhook}"\n')
    monkeypatch.chdir(repo.path)
    result, document = scan_json(capsys)
    assert result.code == 1
    [finding] = document["findings"]
    assert finding["rule_id"] == "slack-webhook"
    assert finding["preview"] == SLACK_ORIGIN + MASK
    # The identity is still the hash of the whole URL, so baselines keep matching.
    key = hashlib.sha256(webhook.encode()).hexdigest()
    expected = hashlib.sha256(f"slack-webhook\0notify.sh\0{key}".encode()).hexdigest()[:32]
    assert finding["fingerprint"] == expected
    assert run(capsys, "scan", "--baseline", "b.json", "--update-baseline").code == 0
    entries = json.loads((repo.path / "b.json").read_text())["findings"]
    assert [entry["hash"] for entry in entries] == [key]


def test_slack_webhook_path_in_no_format() -> None:
    webhook = fakes.slack_webhook()
    # The team, channel and token segments after /services/.
    segments = webhook.removeprefix(SLACK_ORIGIN + "services/").split("/")
    assert len(segments) == 3
    finding = secret_finding(webhook, "notify.sh", 1, rule_id="slack-webhook")
    assert finding.preview == SLACK_ORIGIN + MASK
    assert finding.key == Secret(webhook).sha256()
    report = Report(kind="secrets", findings=[finding], commit="a" * 40)
    for name in FORMATS:
        text = render(name, report)
        for segment in segments:
            assert segment not in text, name
        assert SLACK_ORIGIN + MASK in text.replace("\\", ""), name
