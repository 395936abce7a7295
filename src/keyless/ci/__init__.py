"""The CI platform a job runs on, and the outputs it offers (masking, env files, dotenv)."""

from __future__ import annotations

import enum
import os


class Platform(str, enum.Enum):
    """CI platforms keyless knows how to hand values to."""

    GITHUB = "github"
    GITLAB = "gitlab"
    NONE = "none"


def detect() -> Platform:
    """Return the CI platform from the runner's standard variables."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return Platform.GITHUB
    if os.environ.get("GITLAB_CI") == "true":
        return Platform.GITLAB
    return Platform.NONE
