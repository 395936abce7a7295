"""GitLab CI: read the token from an `id_tokens:` variable.

GitLab puts each token declared under the job's `id_tokens:` into the variable of
that name. By convention the names end in `_ID_TOKEN`. keyless uses the variable
named with `--token-env`, else the only `*_ID_TOKEN` variable, else the one named
after the audience or whose token has the audience.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from keyless.identity.claims import format_value
from keyless.identity.token import IdentityError, IdentityToken, decode_unverified, make_token
from keyless.logs import logger
from keyless.secret import Secret
from keyless.terminal import safe_line

if TYPE_CHECKING:
    from keyless.identity.providers import TokenRequest

SUFFIX = "_ID_TOKEN"
REMOVED_VARIABLES = ("CI_JOB_JWT", "CI_JOB_JWT_V2")


def id_tokens_snippet(
    name: str = "VAULT_ID_TOKEN", audience: str = "https://vault.example.com"
) -> str:
    """Return the `id_tokens:` job keyword that declares token `name` for `audience`."""
    return f"""\
job:
  id_tokens:
    {name}:
      aud: {audience}
  script:
    - keyless ... --token-env {name}"""


def fetch(request: TokenRequest) -> IdentityToken | None:
    """Return the job's token from GitLab CI, or None outside GitLab CI."""
    if os.environ.get("GITLAB_CI") != "true":
        return None
    candidates = sorted(
        name for name, value in os.environ.items() if name.endswith(SUFFIX) and value.strip()
    )
    if not candidates:
        raise _no_token_error(request.audience)
    name = select(candidates, request.audience)
    raw = Secret(os.environ[name].strip())
    token = make_token(raw, f"gitlab:{name}", mask_stream=request.mask_stream)
    _warn_on_audience(token, name, request.audience)
    return token


def variable_for(audience: str) -> str:
    """Return the variable named after `audience`, e.g. STS_AMAZONAWS_COM_ID_TOKEN."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", audience.split("://", 1)[-1]).strip("_").upper()
    return stem + SUFFIX


def select(candidates: list[str], audience: str | None) -> str:
    """Return the one `*_ID_TOKEN` variable to use, or raise when the choice is ambiguous."""
    if len(candidates) == 1:
        return candidates[0]
    if audience:
        named = variable_for(audience)
        if named in candidates:
            return named
        matching = [name for name in candidates if audience in _audiences(name)]
        if len(matching) == 1:
            return matching[0]
    listing = ", ".join(f"{name} (aud {', '.join(_audiences(name)) or '?'})" for name in candidates)
    reason = f"none has the audience {audience}" if audience else "no audience was given"
    raise IdentityError(
        f"GitLab: several ID token variables are set ({listing}) and {reason}",
        hint="choose one with --token-env NAME",
    )


def _audiences(name: str) -> list[str]:
    raw = Secret(os.environ.get(name, "").strip())
    try:
        _, claims = decode_unverified(raw, f"gitlab:{name}")
    except IdentityError:
        return []
    audience = claims.get("aud")
    if isinstance(audience, str):
        return [audience]
    if isinstance(audience, list):
        return [str(item) for item in audience]
    return []


def _warn_on_audience(token: IdentityToken, name: str, audience: str | None) -> None:
    if not audience:
        return
    present = token.claims.get("aud")
    audiences = present if isinstance(present, list) else [present]
    if audience not in audiences:
        logger.warning(
            "GitLab: %s has the audience %s, not %s; set `aud: %s` under `id_tokens: %s:` "
            "in the job",
            name,
            safe_line(format_value(present)),
            audience,
            audience,
            name,
        )


def _no_token_error(audience: str | None) -> IdentityError:
    example = audience or "https://vault.example.com"
    removed = [name for name in REMOVED_VARIABLES if os.environ.get(name)]
    if removed:
        return IdentityError(
            f"GitLab: only {' and '.join(removed)} {'is' if len(removed) == 1 else 'are'} set. "
            "GitLab removed CI_JOB_JWT and CI_JOB_JWT_V2 in GitLab 17.0, and jobs now "
            "declare the tokens they need with `id_tokens:`",
            hint="declare an ID token in the job:\n" + id_tokens_snippet(audience=example),
        )
    return IdentityError(
        "GitLab: no *_ID_TOKEN variable is set, so this job has no OIDC token",
        hint="declare an ID token in the job with `id_tokens:` (GitLab 15.7 or later):\n"
        + id_tokens_snippet(audience=example),
    )
