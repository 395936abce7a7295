"""GitHub Actions: request the token from the runner's token endpoint.

The runner sets ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN only
when the job has `permissions: id-token: write`. The client appends `&audience=AUD`
to the URL, sends the request token as a bearer token and reads the JWT from the
JSON `value` field.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from keyless.identity.token import MAX_TOKEN_BYTES, IdentityError, IdentityToken, make_token
from keyless.logs import logger
from keyless.secret import Secret

if TYPE_CHECKING:
    from keyless.identity.providers import TokenRequest

URL_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_URL"
TOKEN_VARIABLE = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 - a variable name
DEPENDABOT = "dependabot[bot]"

# Events whose runs for pull requests from forks get no id-token permission.
# pull_request_target runs in the base repository's context and is not among them.
_PULL_REQUEST_EVENTS = frozenset(
    {"pull_request", "pull_request_review", "pull_request_review_comment"}
)

# Bytes read at most from the token service: the JSON around a token of at most
# MAX_TOKEN_BYTES.
MAX_RESPONSE_BYTES = 2 * MAX_TOKEN_BYTES

PERMISSION_SNIPPET = """\
permissions:
  id-token: write   # lets the job request an OIDC token
  contents: read    # a permissions block drops the defaults, so keep what you need"""


def fetch(request: TokenRequest) -> IdentityToken | None:
    """Return the job's token from GitHub Actions, or None outside GitHub Actions."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return None
    url = os.environ.get(URL_VARIABLE, "").strip()
    bearer = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not url or not bearer:
        present = {URL_VARIABLE: url, TOKEN_VARIABLE: bearer}
        missing = [name for name, value in present.items() if not value]
        raise no_token_error(missing)
    return _request_token(url, Secret(bearer), request)


def request_url(url: str, audience: str | None) -> str:
    """Return the token-request URL with `audience` appended to its existing query."""
    if not audience:
        return url
    if urlsplit(url).query:
        separator = "&"
    elif url.endswith("?"):
        separator = ""
    else:
        separator = "?"
    return f"{url}{separator}audience={quote(audience, safe='')}"


def _request_token(url: str, bearer: Secret, request: TokenRequest) -> IdentityToken:
    import requests

    from keyless import http

    host = urlsplit(url).hostname or url
    session = request.http or http.session()
    target = request_url(url, request.audience)
    logger.debug("GitHub: requesting an OIDC token from %s (audience %s)", host, request.audience)
    sent_at = time.time()
    try:
        response = http.send(
            session,
            "GET",
            target,
            label=f"GitHub: token request to {host}",
            retry=request.retry,
            headers={
                "Authorization": f"Bearer {bearer.reveal()}",
                "Accept": "application/json; api-version=2.0",
            },
            stream=True,
        )
    except requests.Timeout as exc:
        raise IdentityError(
            f"GitHub: the token request to {host} timed out ({request.retry.attempts} attempts)",
            hint="rerun the job; if it keeps failing, check githubstatus.com",
        ) from exc
    except requests.RequestException as exc:
        raise IdentityError(
            f"GitHub: the token request to {host} failed: {type(exc).__name__}: {exc}",
            hint="rerun the job; a self-hosted runner needs HTTPS access to its token service",
        ) from exc
    received_at = time.time()
    with response:
        skew = http.clock_skew(response, sent_at, received_at)
        try:
            raw = _value_from(response, host)
        except requests.RequestException as exc:
            raise IdentityError(
                f"GitHub: reading the token from {host} failed: {type(exc).__name__}: {exc}",
                hint="rerun the job; if it keeps failing, check githubstatus.com",
            ) from exc
    return make_token(
        raw,
        "github",
        clock_skew=skew,
        clock_skew_source=host,
        mask_stream=request.mask_stream,
    )


def _value_from(response: Any, host: str) -> Secret:
    status = response.status_code
    if status in (401, 403):
        raise IdentityError(
            f"GitHub: the token service at {host} rejected the request token (HTTP {status})",
            hint="the request token expires with the job; request the OIDC token during "
            "the job that has `id-token: write`, not from a later job or a saved value",
        )
    if status != 200:
        raise IdentityError(
            f"GitHub: the token request to {host} failed with HTTP {status}",
            hint="rerun the job; if it keeps failing, check githubstatus.com",
        )
    from keyless import http

    try:
        body = json.loads(http.read_limited(response, MAX_RESPONSE_BYTES))
    except http.ResponseTooLarge as exc:
        raise IdentityError(
            f"GitHub: the token service at {host} returned more than "
            f"{http.describe_size(exc.limit)}, which is no token response"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise IdentityError(f"GitHub: the token service at {host} returned invalid JSON") from exc
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise IdentityError(
            f"GitHub: the token service at {host} returned no token in the `value` field"
        )
    return Secret(value.strip())


def no_token_error(missing: list[str]) -> IdentityError:
    """Explain why a GitHub Actions job has no token-request variables."""
    actor = os.environ.get("GITHUB_ACTOR", "")
    triggering_actor = os.environ.get("GITHUB_TRIGGERING_ACTOR", "")
    if DEPENDABOT in (actor, triggering_actor):
        return IdentityError(
            "GitHub: no OIDC token in a run triggered by Dependabot: GitHub runs these "
            "workflows like pull requests from forks, with a read-only GITHUB_TOKEN and "
            "no id-token permission",
            hint="skip this step when `github.actor == 'dependabot[bot]'`, or run the "
            "exchange on the push after the pull request is merged",
        )
    fork = fork_pull_request()
    if fork is not None:
        return IdentityError(
            f"GitHub: no OIDC token for {fork}: GitHub gives workflows triggered by pull "
            "requests from forks no id-token permission, whatever the workflow requests",
            hint="run the exchange on push, or only for pull requests from branches of "
            "this repository: `if: github.event.pull_request.head.repo.full_name == "
            "github.repository`",
        )
    return IdentityError(
        f"GitHub: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set, "
        "so this job cannot request an OIDC token",
        hint="grant the job (or the workflow) the id-token permission:\n" + PERMISSION_SNIPPET,
    )


def fork_pull_request() -> str | None:
    """Return "pull request #N from fork OWNER/REPO" when this run is for one, else None.

    Reads the event payload at GITHUB_EVENT_PATH; an unreadable payload counts as
    no fork.
    """
    event = os.environ.get("GITHUB_EVENT_NAME", "")
    path = os.environ.get("GITHUB_EVENT_PATH", "")
    if event not in _PULL_REQUEST_EVENTS or not path:
        return None
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.debug("GitHub: cannot read the event payload at %s: %s", path, exc)
        return None
    pull_request = payload.get("pull_request") if isinstance(payload, dict) else None
    if not isinstance(pull_request, dict):
        return None
    head_repo = _dig(pull_request, "head", "repo")
    base_repo = _dig(pull_request, "base", "repo")
    number = pull_request.get("number", "?")
    if head_repo is None:
        # GitHub sends a null head repository when the fork was deleted.
        return f"pull request #{number} from a deleted fork"
    head_name = head_repo.get("full_name")
    base_name = base_repo.get("full_name") if base_repo else None
    # `fork` is true for any repository that is a fork, including a base repository
    # that is itself a fork, so the names decide whenever both are known.
    from_fork = head_name != base_name if base_name else head_repo.get("fork") is True
    return f"pull request #{number} from the fork {head_name}" if from_fork else None


def _dig(data: dict[str, Any], *keys: str) -> dict[str, Any] | None:
    current: Any = data
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current if isinstance(current, dict) else None
