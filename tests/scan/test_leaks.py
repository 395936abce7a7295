"""No output format, at any log level, in or out of GitHub Actions, prints a whole secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keyless.report import FORMATS
from tests.conftest import GitRepo
from tests.scan.detector_cases import TRUE_POSITIVES


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A repository with every table secret planted, some staged and some committed."""
    repo = GitRepo(tmp_path_factory.mktemp("leaks") / "repo")
    secrets = []
    for index, (rule_id, text, secret) in enumerate(TRUE_POSITIVES):
        repo.write(f"planted/{rule_id}-{index}.txt", f"# planted\n{text}\n")
        secrets.append(secret)
    repo.commit("plant secrets")
    repo.write("planted/staged.txt", "\n".join(t for _, t, _ in TRUE_POSITIVES[:10]) + "\n")
    repo.git("add", "planted/staged.txt")
    return repo.path, secrets


def keyless(
    cwd: Path, *argv: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYLESS_")}
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "keyless", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("format_name", sorted(FORMATS))
@pytest.mark.parametrize(
    "mode",
    [[], ["--staged"], ["--no-inline-allow", "--no-prefilter"]],
    ids=["files", "staged", "unfiltered"],
)
def test_no_secret_in_output(
    planted: tuple[Path, list[str]], format_name: str, mode: list[str]
) -> None:
    root, secrets = planted
    proc = keyless(root, "-vv", "scan", "--format", format_name, *mode)
    in_actions = keyless(
        root, "-vv", "scan", "--format", format_name, *mode, extra_env={"GITHUB_ACTIONS": "true"}
    )
    assert in_actions.returncode == 1, in_actions.stderr
    assert proc.returncode == 1, proc.stderr
    assert "DEBUG" in proc.stderr
    assert proc.stdout.strip()
    for secret in secrets:
        assert secret not in proc.stdout
        assert secret not in proc.stderr
        assert secret not in in_actions.stdout
        assert secret not in in_actions.stderr


def test_no_secret_in_written_files(planted: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, secrets = planted
    baseline, report = tmp_path / "baseline.json", tmp_path / "report.json"
    written = keyless(root, "-vv", "scan", "--baseline", str(baseline), "--update-baseline")
    assert written.returncode == 0, written.stderr
    reported = keyless(root, "scan", "--format", "json", "--output", str(report))
    assert reported.returncode == 1
    for path in (baseline, report):
        content = path.read_text()
        for secret in secrets:
            assert secret not in content
