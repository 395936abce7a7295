"""Environment defaults of options: repeatable options and boolean spellings."""

from __future__ import annotations

import argparse
import base64
import json
import socket
from pathlib import Path

import pytest

from keyless import cli
from keyless.commands.options import add_option


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fake_jwt() -> str:
    """Return an unsigned JWT; the exchange commands only read its claims."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'sub': 'test', 'aud': 'vault'})}.sig"


def parser_with(option: str, **kwargs: object) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_option(parser, option, **kwargs)
    return parser


def test_append_env_default_used_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYLESS_SECRET", "a b\nc d")
    parser = parser_with("--secret", action="append", default=[])
    assert parser.parse_args([]).secret == ["a b", "c d"]


def test_append_command_line_replaces_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYLESS_SECRET", "a b\nc d")
    parser = parser_with("--secret", action="append", default=[])
    args = parser.parse_args(["--secret", "e f", "--secret", "g h"])
    assert args.secret == ["e f", "g h"]


def test_append_without_env_keeps_appending() -> None:
    parser = parser_with("--export", action="append")
    assert parser.parse_args(["--export", "json", "--export", "files"]).export == [
        "json",
        "files",
    ]
    assert parser.parse_args([]).export is None


def test_append_default_not_mutated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYLESS_EXPORT", "json")
    parser = parser_with("--export", action="append")
    assert parser.parse_args(["--export", "shell"]).export == ["shell"]
    assert parser.parse_args([]).export == ["json"]


def test_export_env_and_flag_do_not_conflict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The env default json would otherwise join the command line's shell, and the
    # two would be rejected as writing to the same place before any request.
    monkeypatch.setenv("KEYLESS_EXPORT", "json")
    token = tmp_path / "token"
    token.write_text(fake_jwt())
    args = ["vault", "--url", f"http://127.0.0.1:{free_port()}", "--secret", "kv/app key"]
    extra = ["--token-file", str(token), "--retry-deadline", "0", "--export", "shell"]
    code = cli.main([*args, *extra, "--state-dir", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == 2
    assert "both write to --output" not in err
    assert "cannot reach http://127.0.0.1" in err


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("t", True), ("T", True), ("TRUE", True), ("True", True), ("1", True), ("f", False)],
)
def test_bool_env_accepts_go_spellings(
    raw: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_SKIP_VERIFY", raw)
    parser = parser_with("--tls-skip-verify", env="VAULT_SKIP_VERIFY", action="store_true")
    assert parser.parse_args([]).tls_skip_verify is expected
