"""YAML nodes that remember where they came from: file, line and column.

The loader builds these from PyYAML's composed nodes, so every value a rule looks
at can be reported at its own place. Aliases share the node of their anchor, and
merge keys (`<<`) are already applied to mappings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

TRUE_WORDS = frozenset({"true", "yes", "on", "y"})


@dataclass(frozen=True)
class Mark:
    """A 1-based line and column in a source file."""

    line: int
    column: int


@dataclass(eq=False)
class Source:
    """A loaded file: its repository-relative path and its text split into lines."""

    path: str
    text: str
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Only \n, \r\n and \r end a line, as for GitHub, GitLab and editors;
        # str.splitlines() also splits at U+2028, U+0085 and form feeds.
        if not self.lines:
            self.lines = re.split(r"\r\n|\r|\n", self.text)
            if self.lines[-1] == "":
                self.lines.pop()

    def line(self, number: int) -> str:
        """Return the text of a 1-based line, or '' past the end."""
        if 1 <= number <= len(self.lines):
            return self.lines[number - 1]
        return ""


@dataclass(eq=False)
class Node:
    """Any YAML node: where it starts and ends, and its tag."""

    source: Source
    start: Mark
    end: Mark
    tag: str

    @property
    def path(self) -> str:
        """Return the repository-relative path of the file the node is in."""
        return self.source.path


@dataclass(eq=False)
class Scalar(Node):
    """A scalar as written; `style` is PyYAML's: None for plain, or one of ' \" | >."""

    value: str = ""
    style: str | None = None

    def is_true(self) -> bool:
        """Return whether the scalar reads as a YAML or CI true value."""
        return self.value.strip().strip("\"'").lower() in TRUE_WORDS

    def locate(self, offset: int) -> Mark:
        """Return where character `offset` of the value sits in the file.

        Literal blocks (`|`) map exactly, because each value line is the end of a
        source line. Other styles fold or unescape lines, so the text around the
        offset is searched for within the node's span; the node start is the fallback.
        """
        before = self.value[:offset]
        index = before.count("\n")
        value_lines = self.value.split("\n")
        if index >= len(value_lines):
            return self.start
        value_line = value_lines[index]
        column_in_value = offset - (len(before) - len(before.split("\n")[-1]))
        if self.style == "|":
            number = self.start.line + 1 + index
            source_line = self.source.line(number)
            if source_line.endswith(value_line):
                column = len(source_line) - len(value_line) + column_in_value + 1
                return Mark(number, column)
        fragment = value_line[column_in_value : column_in_value + 40] or value_line
        return self._search(fragment) or self.start

    def _search(self, fragment: str) -> Mark | None:
        if not fragment:
            return None
        for number in range(self.start.line, self.end.line + 1):
            text = self.source.line(number)
            begin = self.start.column - 1 if number == self.start.line else 0
            column = text.find(fragment, begin)
            if column >= 0:
                return Mark(number, column + 1)
        return None


@dataclass(eq=False)
class Sequence(Node):
    """A YAML sequence."""

    items: list[Node] = field(default_factory=list)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(eq=False)
class Mapping(Node):
    """A YAML mapping with scalar keys, in file order, merge keys applied."""

    entries: list[tuple[Scalar, Node]] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def add(self, key: Scalar, value: Node) -> None:
        """Append an entry, or replace the value of an existing key."""
        position = self._index.get(key.value)
        if position is None:
            self._index[key.value] = len(self.entries)
            self.entries.append((key, value))
        else:
            self.entries[position] = (key, value)

    def get(self, key: str) -> Node | None:
        """Return the value node for `key`, or None."""
        position = self._index.get(key)
        return None if position is None else self.entries[position][1]

    def key_node(self, key: str) -> Scalar | None:
        """Return the key's own node, the most precise place for a finding about it."""
        position = self._index.get(key)
        return None if position is None else self.entries[position][0]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def items(self) -> Iterator[tuple[str, Node]]:
        """Yield (key, value node) pairs in file order."""
        for key, value in self.entries:
            yield key.value, value

    def scalar(self, key: str) -> Scalar | None:
        """Return the value for `key` when it is a scalar."""
        value = self.get(key)
        return value if isinstance(value, Scalar) else None

    def text(self, key: str, default: str = "") -> str:
        """Return the scalar value for `key` as text, or `default`."""
        value = self.scalar(key)
        return value.value if value is not None else default

    def mapping(self, key: str) -> Mapping | None:
        """Return the value for `key` when it is a mapping."""
        value = self.get(key)
        return value if isinstance(value, Mapping) else None

    def sequence(self, key: str) -> Sequence | None:
        """Return the value for `key` when it is a sequence."""
        value = self.get(key)
        return value if isinstance(value, Sequence) else None


def walk_scalars(node: Node) -> Iterator[Scalar]:
    """Yield every scalar value below `node` (not keys), each once."""
    seen: set[int] = set()
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, Scalar):
            yield current
        elif isinstance(current, Sequence):
            stack.extend(reversed(current.items))
        elif isinstance(current, Mapping):
            stack.extend(reversed([value for _, value in current.entries]))


def string_items(node: Node | None) -> Iterator[Scalar]:
    """Yield the scalars of a scalar or a (nested) sequence of scalars, such as `script:`.

    A sequence reached again through an alias is skipped, so each node is visited once.
    """
    seen: set[int] = set()
    stack: list[Node] = [] if node is None else [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Scalar):
            yield current
        elif isinstance(current, Sequence) and id(current) not in seen:
            seen.add(id(current))
            stack.extend(reversed(current.items))
