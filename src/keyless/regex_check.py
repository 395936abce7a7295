"""A static check for regular expressions that can take exponential time.

Python's `re` has no time limit, so a configured regex such as `(a+)+$` could hang
a scan on one line of `a`s. The check rejects the common cause: a repeat whose body
can match in more than one way through a variable repeat inside it, because nothing
else in that body must match (as in `(a+)+`, `(\\w+\\s?)*` or `(a{1,3})+`). A body
with a required part, as in `(?:[a-z]+\\.)+`, passes. Overlapping alternatives such
as `(a|ab)+` are not detected.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

if sys.version_info >= (3, 11):
    from re import _constants as constants
    from re import _parser as parser
else:  # pragma: no cover - Python 3.10
    import sre_constants as constants
    import sre_parse as parser

_REPEATS = {constants.MAX_REPEAT, constants.MIN_REPEAT}
# Alternatives expanded per repeat body at most, so the check itself stays cheap.
_MAX_SEQUENCES = 64


def nested_repeat(pattern: str) -> str | None:
    """Return the part of `pattern` that nests a variable repeat ambiguously, or None."""
    return _check(parser.parse(pattern))


def _check(items: Any) -> str | None:
    for op, av in items:
        if op in _REPEATS:
            high, body = av[1], av[2]
            if high > 1 and _ambiguous(body):
                return str(_text(op, av))
            found = _check(body)
        elif op is constants.SUBPATTERN:
            found = _check(av[-1])
        elif op is constants.BRANCH:
            found = next((f for alt in av[1] if (f := _check(alt)) is not None), None)
        elif op in (constants.ASSERT, constants.ASSERT_NOT):
            found = _check(av[1])
        else:
            found = None
        if found is not None:
            return found
    return None


def _ambiguous(body: Any) -> bool:
    """Return whether a variable repeat in `body` is all that body must match."""
    for count, sequence in enumerate(_sequences(list(body))):
        if count >= _MAX_SEQUENCES:
            return False
        widths = [_min_width(body, [item]) for item in sequence]
        for index, (op, av) in enumerate(sequence):
            if op in _REPEATS and av[1] > av[0] and sum(widths) - widths[index] == 0:
                return True
    return False


def _sequences(items: list[Any]) -> Iterator[list[Any]]:
    """Yield `items` as flat sequences, with groups opened and each alternative taken."""
    for index, (op, av) in enumerate(items):
        if op is constants.SUBPATTERN:
            yield from _sequences(items[:index] + list(av[-1]) + items[index + 1 :])
            return
        if op is constants.BRANCH:
            for alternative in av[1]:
                yield from _sequences(items[:index] + list(alternative) + items[index + 1 :])
            return
    yield items


def _min_width(body: Any, items: list[Any]) -> int:
    return int(parser.SubPattern(body.state, items).getwidth()[0])


def _text(op: Any, av: Any) -> str:
    low, high, _ = av
    upper = "" if high == constants.MAXREPEAT else str(high)
    return f"a repeat {{{low},{upper}}} around a variable repeat"
