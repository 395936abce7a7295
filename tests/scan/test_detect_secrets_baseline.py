"""A real detect-secrets baseline accepts every finding detect-secrets reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import run, scan_json


def detect_secrets_scan(root: Path) -> dict[str, list[dict[str, object]]]:
    detect_secrets = Path(sys.executable).with_name("detect-secrets")
    proc = subprocess.run(
        [str(detect_secrets), "scan", "--all-files", "--no-verify"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    (root / ".secrets.baseline").write_text(proc.stdout)
    results: dict[str, list[dict[str, object]]] = json.loads(proc.stdout)["results"]
    return results


def test_every_type(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "github.txt": f"value {fakes.github_token()}\n",
        "gitlab.txt": f"value {fakes.gitlab_token()}\n",
        "key.pem": fakes.pem_private_key(),
        "azure.txt": f"conn {fakes.azure_connection_string()}\n",
        "jwt.txt": f"value {fakes.jwt()}\n",
        "aws.txt": f"id {fakes.aws_key_id()}\n",
        "slack.txt": f"value {fakes.slack_token()}\n",
        "stripe.txt": f"value {fakes.stripe_key()}\n",
        "settings.py": f'password = "{fakes.random_string(24)}"\n',
    }
    for name, text in files.items():
        repo.write(name, text)
    monkeypatch.chdir(repo.path)
    recorded = detect_secrets_scan(repo.path)
    assert set(recorded) == set(files)

    _, before = scan_json(capsys)
    reported = {(f["path"], f["line"]) for f in before["findings"]}
    accepted = {(path, e["line_number"]) for path, entries in recorded.items() for e in entries}
    result, document = scan_json(capsys, "--baseline", ".secrets.baseline")
    left = [(f["rule_id"], f["path"], f["line"]) for f in document["findings"]]
    # Nothing keyless reports on a line detect-secrets accepted is left.
    assert [f for f in left if (f[1], f[2]) in accepted] == []
    assert reported & accepted
    assert result.code == 0


def test_partial_update_keeps_other_files(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("a/s.py", f"value = '{fakes.github_token()}'\n")
    repo.write("b/s.py", f"value = '{fakes.github_token()}'\n")
    monkeypatch.chdir(repo.path)
    detect_secrets_scan(repo.path)
    original = (repo.path / ".secrets.baseline").read_text()

    result = run(capsys, "scan", "--baseline", ".secrets.baseline", "--update-baseline", "a")
    assert result.code == 2
    assert "b/s.py" in result.err
    assert "--baseline NEW.json" in result.err
    assert (repo.path / ".secrets.baseline").read_text() == original

    result = run(capsys, "scan", "--baseline", ".secrets.baseline", "--update-baseline")
    assert result.code == 0
    result, document = scan_json(capsys, "--baseline", ".secrets.baseline")
    assert (result.code, document["findings"], document["baselined"]) == (0, [], 2)


def test_staged_reads_lines_from_index(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.write("README.md", "hello\n")
    repo.commit("initial")
    repo.write("key.pem", fakes.pem_private_key())
    monkeypatch.chdir(repo.path)
    detect_secrets_scan(repo.path)
    repo.git("add", "key.pem")
    # The work tree no longer has the key; the line must come from the index.
    repo.write("key.pem", "removed\n")
    result, document = scan_json(capsys, "--staged", "--baseline", ".secrets.baseline")
    assert (result.code, document["findings"], document["baselined"]) == (0, [], 1)
