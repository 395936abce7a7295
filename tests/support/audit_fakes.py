"""Fake secrets for pipeline-file fixtures, filled in at run time.

Fixture files hold `<<FAKE:name>>` markers instead of secret-shaped values, so the
repository itself contains no secrets. `render` replaces each marker with a freshly
generated fake of that kind.
"""

from __future__ import annotations

import re
import string

from tests.fakes import ALNUM, aws_key_id, github_token, random_string

_MARKER = re.compile(r"<<FAKE:([a-z_]+)>>")


def gitlab_token() -> str:
    return "glpat-" + random_string(20, ALNUM + "_-")


def slack_token() -> str:
    return "xoxb-" + random_string(12, string.digits) + "-" + random_string(24)


def password() -> str:
    # A digit and a symbol make the value look random to the assignment detector.
    return random_string(12) + "7!" + random_string(8)


GENERATORS = {
    "github_token": github_token,
    "aws_key_id": aws_key_id,
    "gitlab_token": gitlab_token,
    "slack_token": slack_token,
    "password": password,
}


def render(text: str) -> str:
    """Replace every `<<FAKE:name>>` marker with a new fake value of that kind."""
    return _MARKER.sub(lambda match: GENERATORS[match.group(1)](), text)
