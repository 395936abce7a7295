"""The shared --token-env and --token-file options."""

from __future__ import annotations

import argparse

import pytest

from keyless.identity import add_token_options


def test_token_options_parse() -> None:
    parser = argparse.ArgumentParser()
    add_token_options(parser)
    args = parser.parse_args(["--token-env", "VAULT_ID_TOKEN", "--token-file", "jwt.txt"])
    assert args.token_env == "VAULT_ID_TOKEN"
    assert args.token_file == "jwt.txt"


def test_token_options_default_none() -> None:
    parser = argparse.ArgumentParser()
    add_token_options(parser)
    args = parser.parse_args([])
    assert args.token_env is None
    assert args.token_file is None


def test_token_options_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYLESS_TOKEN_ENV", "AWS_ID_TOKEN")
    monkeypatch.setenv("KEYLESS_TOKEN_FILE", "/run/token")
    parser = argparse.ArgumentParser()
    add_token_options(parser)
    args = parser.parse_args([])
    assert args.token_env == "AWS_ID_TOKEN"
    assert args.token_file == "/run/token"
