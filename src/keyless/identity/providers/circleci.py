"""CircleCI: read the token CircleCI puts into the job's environment.

CircleCI sets CIRCLE_OIDC_TOKEN_V2 (newer claim format) and CIRCLE_OIDC_TOKEN only in
jobs that use at least one context. keyless prefers the V2 token.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from keyless.identity.claims import format_value
from keyless.identity.token import IdentityError, IdentityToken, make_token
from keyless.logs import logger
from keyless.secret import Secret
from keyless.terminal import safe_line

if TYPE_CHECKING:
    from keyless.identity.providers import TokenRequest

VARIABLES = ("CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN")


def fetch(request: TokenRequest) -> IdentityToken | None:
    """Return the job's token from CircleCI, or None outside CircleCI."""
    if os.environ.get("CIRCLECI") != "true":
        return None
    for name in VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            token = make_token(Secret(value), f"circleci:{name}", mask_stream=request.mask_stream)
            # TODO: request a token for the audience with CircleCI's custom-claims
            # command instead of only warning when the audience differs.
            _warn_on_audience(token, request.audience)
            return token
    raise IdentityError(
        "CircleCI: neither CIRCLE_OIDC_TOKEN_V2 nor CIRCLE_OIDC_TOKEN is set",
        hint="CircleCI issues OIDC tokens only to jobs that use a context: add "
        "`context: [NAME]` to the job in the workflow",
    )


# NOTE: the `circleci run oidc get --claims` command is quoted from CircleCI's
# "OIDC tokens with custom claims" documentation and has not been run here.
def _warn_on_audience(token: IdentityToken, audience: str | None) -> None:
    present = token.claims.get("aud")
    audiences = present if isinstance(present, list) else [present]
    if audience and audience not in audiences:
        logger.warning(
            "CircleCI: the token's audience is %s, not %s; request a token for it with "
            '`circleci run oidc get --claims \'{"aud": "%s"}\'` and pass it with --token-env',
            safe_line(format_value(present)),
            audience,
            audience,
        )
