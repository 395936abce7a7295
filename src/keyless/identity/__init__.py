"""The job's OIDC identity token: where to get it and what it claims.

`obtain_token` tries the explicit sources first (`--token-env`, `--token-file`), then
each ambient provider in PROVIDERS order. A provider returns None when the job is not
on its platform, and raises IdentityError when it is there but misconfigured.
"""

from __future__ import annotations

from keyless.identity.options import add_token_options
from keyless.identity.token import IdentityError, IdentityToken, obtain_token

__all__ = ["IdentityError", "IdentityToken", "add_token_options", "obtain_token"]
