"""Inline suppression comments: `keyless: allow[rule-id] reason` and detect-secrets pragmas."""

from __future__ import annotations

import re

_ALLOW = re.compile(r"keyless:\s*allow\[([a-z0-9*,\s\-]+)\]")
_PRAGMA_LINE = re.compile(r"pragma:\s*allowlist[\s-]secret")
_PRAGMA_NEXT = re.compile(r"pragma:\s*allowlist[\s-]nextline[\s-]secret")


def allowed_rules(line: str) -> set[str]:
    """Return the rule ids an allow comment on `line` names; `*` is not accepted."""
    rules: set[str] = set()
    for match in _ALLOW.finditer(line):
        rules.update(r.strip() for r in match.group(1).split(",") if r.strip())
    rules.discard("*")
    return rules


def is_suppressed(rule_id: str, line: str, previous_line: str | None) -> bool:
    """Return whether a comment on the line, or on the line above it, allows `rule_id`.

    detect-secrets' `pragma: allowlist secret` (same line) and `pragma: allowlist
    nextline secret` (line above) allow any secret rule.
    """
    if rule_id in allowed_rules(line) or _PRAGMA_LINE.search(line):
        return True
    if previous_line is None:
        return False
    if _PRAGMA_NEXT.search(previous_line):
        return True
    # An allow comment on the line above counts only when that line contains nothing else,
    # so a secret on line N does not hide one on line N+1.
    stripped = previous_line.strip()
    return rule_id in allowed_rules(previous_line) and _is_comment(stripped)


def _is_comment(stripped: str) -> bool:
    """Return whether a stripped line is a comment and nothing else."""
    if stripped.startswith("'"):
        # A Visual Basic comment, unless a closing quote makes it a string literal
        # such as `'keyless: allow[rule]',` in a list.
        return stripped.count("'") == 1
    return bool(re.match(r"^(?:#|//|--|;|/?\*|<!--|%)", stripped))
