"""Shell-script helpers shared by the rules that read `run:` and `script:` lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from keyless.audit.nodes import Scalar

# Variable names that hold credentials by convention.
CREDENTIAL_NAME = re.compile(
    r"(?i)(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credential|auth|jwt|pat$|_key$)"
)
# Names that match the pattern above but hold no secret.
NOT_CREDENTIAL = re.compile(
    r"(?i)^(?:[A-Z_]*_(?:ID|URL|URI|HOST|PATH|FILE|NAME|USER|USERNAME|REGION|ENDPOINT|AUDIENCE)"
    r"|AWS_ACCESS_KEY_ID|CI_JOB_TOKEN_.*)$"
)


@dataclass(frozen=True)
class Line:
    """One line of a script: its text and its offset in the scalar's value."""

    offset: int
    text: str

    @property
    def code(self) -> str:
        """Return the line without a trailing `# comment` (a rough cut, outside quotes)."""
        return re.sub(r"(?:^|\s)#.*$", "", self.text)


def script_lines(scalar: Scalar) -> Iterator[Line]:
    """Yield the non-blank, non-comment lines of a script value with their offsets."""
    offset = 0
    for text in scalar.value.split("\n"):
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            yield Line(offset, text)
        offset += len(text) + 1


def is_credential_name(name: str) -> bool:
    """Return whether an environment variable name suggests it holds a credential."""
    return bool(CREDENTIAL_NAME.search(name)) and not NOT_CREDENTIAL.match(name)


def variable_uses(text: str, name: str) -> Iterator[re.Match[str]]:
    """Yield each `$NAME` or `${NAME...}` expansion of `name` in shell text."""
    pattern = re.compile(r"\$(?:\{" + re.escape(name) + r"(?:[^}]*)\}|" + re.escape(name) + r"\b)")
    yield from pattern.finditer(text)


def expanded_variables(text: str) -> set[str]:
    """Return the names of every `$NAME` and `${NAME}` expansion in shell text."""
    return set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
