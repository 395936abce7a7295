"""Buildkite: request the token with `buildkite-agent oidc request-token`.

The agent is run without a shell, from an argument list. The token arrives on the
agent's stdout and never appears on any command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from keyless.identity.token import IdentityError, IdentityToken, make_token
from keyless.logs import logger
from keyless.secret import Secret, redact_text

if TYPE_CHECKING:
    from keyless.identity.providers import TokenRequest

AGENT = "buildkite-agent"


def command(agent: str, audience: str | None) -> list[str]:
    """Return the argument list that requests a token for `audience`."""
    argv = [agent, "oidc", "request-token"]
    if audience:
        argv += ["--audience", audience]
    return argv


def fetch(request: TokenRequest) -> IdentityToken | None:
    """Return the job's token from Buildkite, or None outside Buildkite."""
    if os.environ.get("BUILDKITE") != "true":
        return None
    agent = shutil.which(AGENT)
    if agent is None:
        raise IdentityError(
            f"Buildkite: {AGENT} is not on PATH, so keyless cannot request an OIDC token",
            hint="run keyless in a step on a Buildkite agent, or pass --token-env NAME",
        )
    argv = command(agent, request.audience)
    logger.debug("Buildkite: running %s", " ".join(argv))
    try:
        completed = subprocess.run(
            argv,
            shell=False,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=request.command_timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise IdentityError(
            f"Buildkite: {AGENT} oidc request-token timed out after {request.command_timeout:.0f}s"
        ) from exc
    except OSError as exc:
        raise IdentityError(f"Buildkite: cannot run {agent}: {exc.strerror}") from exc
    value = completed.stdout.strip()
    if completed.returncode != 0 or not value:
        if value:
            # Whatever the agent printed might be a token; keep it out of messages.
            Secret(value)
        stderr_lines = completed.stderr.strip().splitlines()
        detail = redact_text(stderr_lines[-1]) if stderr_lines else ""
        raise IdentityError(
            f"Buildkite: {AGENT} oidc request-token failed with exit code "
            f"{completed.returncode}" + (f": {detail}" if detail else ""),
            hint="run it in a Buildkite step, whose environment has the agent's "
            "BUILDKITE_AGENT_ACCESS_TOKEN, with an agent version that has `oidc request-token`",
        )
    return make_token(Secret(value), "buildkite", mask_stream=request.mask_stream)
