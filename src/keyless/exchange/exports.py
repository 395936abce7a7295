"""The export targets of exchanged values, kept light so option parsing imports little."""

from __future__ import annotations

import enum

from keyless.ci import Platform


class Export(str, enum.Enum):
    """An export target of `emit()`."""

    GITHUB = "github"  # GITHUB_ENV and GITHUB_OUTPUT
    GITLAB = "gitlab"  # a dotenv file for artifacts:reports:dotenv
    SHELL = "shell"  # `export NAME='value'` lines
    JSON = "json"  # one JSON object {name: value}
    FILES = "files"  # one 0600 file per value


def default_exports(platform: Platform) -> list[Export]:
    """Return the export that suits the CI platform: GitHub, GitLab, else shell lines."""
    if platform is Platform.GITHUB:
        return [Export.GITHUB]
    if platform is Platform.GITLAB:
        return [Export.GITLAB]
    return [Export.SHELL]
