"""`keyless scan`: what it selects, exit codes, output files and environment defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, run, scan_json


def test_git_selection(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write(".gitignore", "build/\n*.log\n")
    repo.write("tracked.py", f"a = '{fakes.github_token()}'\n")
    repo.commit("tracked")
    repo.write("untracked.py", f"b = '{fakes.github_token()}'\n")
    repo.write("build/out.py", f"c = '{fakes.github_token()}'\n")
    repo.write("debug.log", f"d {fakes.github_token()}\n")
    monkeypatch.chdir(repo.path)
    _, document = scan_json(capsys)
    assert [f["path"] for f in document["findings"]] == ["tracked.py", "untracked.py"]


def test_subfolder_paths_are_repository_relative(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("pkg/sub/mod.py", f"a = '{fakes.github_token()}'\n")
    repo.write("other.py", f"a = '{fakes.github_token()}'\n")
    monkeypatch.chdir(repo.path / "pkg")
    _, document = scan_json(capsys, "sub")
    assert [f["path"] for f in document["findings"]] == ["pkg/sub/mod.py"]


def test_file_arguments_as_pre_commit_passes_them(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("a.py", f"a = '{fakes.github_token()}'\n")
    repo.write("b.py", "clean\n")
    repo.write("c.py", f"c = '{fakes.slack_token()}'\n")
    monkeypatch.chdir(repo.path)
    result, document = scan_json(capsys, "b.py", "c.py")
    assert result.code == 1
    assert located(document) == [("slack-token", "c.py", 1, 6)]
    assert document["scanned"] == 2


def test_folder_walk_outside_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "config.yml").write_text(f"token: {fakes.gitlab_token()}\n")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "i.js").write_text(f"t='{fakes.github_token()}'\n")
    monkeypatch.chdir(tmp_path)
    result, document = scan_json(capsys)
    assert result.code == 1
    assert located(document) == [("gitlab-token", "app/config.yml", 1, 8)]
    assert "commit" not in document


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [("info", 1), ("low", 1), ("medium", 1), ("high", 1), ("critical", 0), ("never", 0)],
)
def test_fail_on(
    repo: GitRepo,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fail_on: str,
    code: int,
) -> None:
    repo.write("a.py", f"a = '{fakes.github_token()}'\n")
    monkeypatch.chdir(repo.path)
    assert run(capsys, "scan", "--fail-on", fail_on).code == code


def test_stripe_test_key_is_low(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("a.py", f"print('{fakes.stripe_key('sk_test_')}')\n")
    monkeypatch.chdir(repo.path)
    assert run(capsys, "scan").code == 1
    assert run(capsys, "scan", "--fail-on", "medium").code == 0


def test_output_file(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("a.py", f"a = '{fakes.github_token()}'\n")
    monkeypatch.chdir(repo.path)
    (repo.path / "out").mkdir()
    result = run(capsys, "scan", "--format", "json", "--output", "out/report.json")
    assert result.code == 1
    assert result.out == ""
    report = json.loads((repo.path / "out" / "report.json").read_text())
    assert report["findings"][0]["path"] == "a.py"


def test_format_from_environment(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("a.py", "clean\n")
    monkeypatch.chdir(repo.path)
    monkeypatch.setenv("KEYLESS_FORMAT", "json")
    result = run(capsys, "scan")
    assert json.loads(result.out)["scanned"] == 1


def test_quiet_and_verbose_logging(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("a.py", "clean\n")
    (repo.path / "dangling").symlink_to("gone")
    monkeypatch.chdir(repo.path)
    assert "broken symbolic link" in run(capsys, "scan").err
    assert run(capsys, "scan", "-q").err == ""
    assert "DEBUG keyless: git: ls-files" in run(capsys, "scan", "-vv").err
    monkeypatch.setenv("KEYLESS_LOGLEVEL", "debug")
    assert "DEBUG keyless: git: ls-files" in run(capsys, "scan").err


def test_lazy_imports_for_small_scans(repo: GitRepo) -> None:
    import subprocess
    import sys

    # Words that send lines to detect-secrets' plugins, without a value of their shape.
    repo.write("a.py", "api_key = os.environ['API_KEY']\ntoken = session.token()\n")
    for index in range(4):
        repo.write(f"m{index}.py", f"def f{index}(secret_key, password):\n    return {index}\n")
    repo.git("add", ".")
    code = (
        "import sys\n"
        "from keyless.cli import main\n"
        "code = main(['scan', '--staged'])\n"
        "heavy = {'detect_secrets', 'requests', 'hvac', 'jwt', 'yaml'} & set(sys.modules)\n"
        "print(code, sorted(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, check=True
    )
    assert proc.stdout.splitlines()[-1] == "0 []"


def test_worker_processes_give_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from keyless.commands import scanning
    from tests.scan.test_prefilter import synthetic_files

    for name, content in synthetic_files().items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (tmp_path / "synthetic" / "blob.bin").write_bytes(b"\x00" * 64)
    (tmp_path / "synthetic" / "latin1.txt").write_bytes(b"caf\xe9\n")
    monkeypatch.chdir(tmp_path)
    # Small enough that these few kilobytes go to the workers.
    monkeypatch.setattr(scanning, "PARALLEL_MIN_BYTES", 1)
    single, one = scan_json(capsys, "--jobs", "1", "--fail-on", "never")
    parallel, two = scan_json(capsys, "-vv", "--jobs", "2", "--fail-on", "never")
    assert "scanning in 2 processes" in parallel.err
    assert "scanning in" not in single.err
    assert "latin1.txt: not valid utf-8" in parallel.err
    assert len(one["findings"]) > 50
    assert two == one


def test_invalid_jobs(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo.path)
    result = run(capsys, "scan", "--jobs", "0")
    assert result.code == 2
    assert "invalid value '0'" in result.err


@pytest.mark.slow
def test_interrupt_with_workers(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    line = "    api_key = settings.get('key', token_for(user, password=None))\n"
    for index in range(24):
        (tmp_path / f"big{index}.py").write_text(line * 16_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyless", "-v", "scan", "--jobs", "2", "."],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    started = proc.stderr.readline()
    assert "scanning in 2 processes" in started
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in err
    assert "Traceback" not in err


def test_secret_from_worker_keeps_redaction() -> None:
    import pickle

    from keyless import secret

    value = fakes.github_token()
    sent = pickle.dumps(secret.Secret(value))
    secret._registered.discard(value)
    received = pickle.loads(sent)  # noqa: S301 (bytes made by this test)
    assert received.reveal() == value
    assert secret.redact_text(f"token {value}") == "token ****"
    opted_out = fakes.slack_token()
    pickle.loads(pickle.dumps(secret.Secret(opted_out, redact_in_logs=False)))  # noqa: S301
    assert opted_out not in secret._registered
