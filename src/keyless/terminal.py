"""Make untrusted text safe to print on one line of a terminal or a CI log.

Claim values, file contents and server responses can contain characters that a
terminal or a CI runner acts on. A newline followed by `::error::...` becomes a
GitHub Actions workflow command, and `##[...]` and `##vso[...]` are the older
GitHub and Azure Pipelines command forms. ESC starts terminal escape sequences
(GitLab's collapsible sections among them), and CR lets a value overwrite what came
before it on the line. `safe_line` shows all of these as visible escapes.
"""

from __future__ import annotations

import re

# Characters shown as escapes: C0 controls, DEL, C1 controls, the Unicode line and
# paragraph separators, the bidirectional controls that can reorder what a reader
# sees ("Trojan Source"), and lone surrogates, which JSON allows but UTF-8 cannot
# encode.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A workflow command in the older forms, anywhere on a line.
_OLD_COMMAND = re.compile(r"##(?=\[|vso\[)", re.IGNORECASE)
# A GitHub Actions workflow command: `::` at the start of a line, after any white
# space (the runner trims it). Any leading colon is escaped, so that two escaped
# pieces written side by side cannot form `::` either.
_COMMAND_START = re.compile(r"^(\s*):")


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_line(text: str) -> str:
    """Return `text` as one line that no terminal or CI runner interprets.

    Control characters become `\\n`, `\\r`, `\\t`, `\\xNN` or `\\uNNNN`. A leading `:`
    becomes `\\x3a`, because it could start a GitHub workflow command `::` even when
    the caller indents the text. The `#` that starts `##[` or `##vso[` becomes `\\x23`.
    Backslashes are left alone, so the result is for reading, not for parsing back;
    machine-readable output should carry the exact value instead.
    """
    escaped = _UNSAFE.sub(lambda match: _escape(match.group()), text)
    escaped = _OLD_COMMAND.sub("#\\\\x23", escaped)
    return _COMMAND_START.sub(lambda match: match.group(1) + "\\x3a", escaped, count=1)
