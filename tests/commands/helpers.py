"""Helpers for the cloud command tests: token files and masked values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.jwts import claims_for, mint

MASK = "::add-mask::"


def token_file(directory: Path, audience: str, **claims: object) -> tuple[Path, str]:
    """Write a GitHub-shaped token for `audience` to a file; return (path, token)."""
    token = mint(claims_for(audience, **claims))
    path = directory / "oidc-token"
    path.write_text(token)
    return path, token


def masked_values(captured: pytest.CaptureResult[str]) -> list[str]:
    """Return the values registered with ::add-mask:: on stdout or stderr.

    The Actions runner reads workflow commands from both streams.
    """
    lines = captured.out.splitlines() + captured.err.splitlines()
    return [line.removeprefix(MASK) for line in lines if line.startswith(MASK)]


def without_masks(text: str) -> str:
    """Return `text` without its ::add-mask:: lines, the only place a secret may appear."""
    return "\n".join(line for line in text.splitlines() if not line.startswith(MASK))
