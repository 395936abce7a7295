"""Load YAML into located nodes, reporting problems instead of raising.

PyYAML's composer gives nodes with start and end marks; keyless converts them into
its own node types. Aliases reuse the anchored node, merge keys (`<<`) are applied
with explicit keys winning, and custom tags such as GitLab's `!reference` are kept
on the node. A duplicate key keeps the last value, as PyYAML and GitLab do, and is
reported. Invalid YAML stops that document, not the run: the documents before the
error are kept.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keyless.audit.nodes import Mapping, Mark, Node, Scalar, Sequence, Source

if TYPE_CHECKING:
    import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"
# The maximum number of nodes in a document with every alias expanded in place.
# Aliases share nodes, so a small file can expand to billions of them ("billion
# laughs"). A document past this bound is reported and not audited. A 2 MiB file
# without aliases stays below it.
MAX_EXPANDED_NODES = 2_000_000
# The deepest nesting of collections accepted, aliases expanded. Real pipelines nest
# a few levels; the bound keeps every recursive walk of the nodes far from Python's
# recursion limit.
MAX_DEPTH = 100


class _TooDeep(Exception):
    """Raised by the converter when a document nests deeper than MAX_DEPTH."""

    def __init__(self, mark: Mark) -> None:
        super().__init__(mark)
        self.mark = mark


@dataclass(frozen=True)
class Problem:
    """Something wrong with the YAML itself: `kind` is "invalid-yaml" or "duplicate-key"."""

    kind: str
    source: Source
    mark: Mark
    message: str
    key: str


@dataclass
class LoadedFile:
    """The documents of one file and the problems met while loading it."""

    source: Source
    documents: list[Node] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """Return whether the file parsed without a YAML syntax error."""
        return not any(p.kind == "invalid-yaml" for p in self.problems)


def load_text(path: str, text: str) -> LoadedFile:
    """Compose every document of `text`; syntax errors become problems."""
    import yaml

    source = Source(path, text)
    loaded = LoadedFile(source)
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        while loader.check_node():
            composed = loader.get_node()
            if composed is None:
                continue
            converter = _Converter(source, loaded.problems)
            try:
                document = converter.convert(composed)
            except _TooDeep as exc:
                message = f"invalid YAML: nests deeper than {MAX_DEPTH} levels"
                loaded.problems.append(
                    Problem("invalid-yaml", source, exc.mark, message, "too-deep")
                )
                continue
            if converter.expanded_size(document) > MAX_EXPANDED_NODES:
                loaded.problems.append(_expansion_problem(source, document))
                continue
            loaded.documents.append(document)
    except yaml.MarkedYAMLError as exc:
        loaded.problems.append(_syntax_problem(source, exc))
    except yaml.reader.ReaderError as exc:
        # A character YAML does not allow, such as NUL; `position` counts characters.
        where = _position_mark(text, exc.position)
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"invalid YAML: character U+{character:04X} is not allowed in YAML"
        loaded.problems.append(Problem("invalid-yaml", source, where, message, "invalid-yaml"))
    except RecursionError:
        # The pure-Python composer recurses once per nesting level.
        message = f"invalid YAML: nests deeper than {MAX_DEPTH} levels"
        loaded.problems.append(Problem("invalid-yaml", source, Mark(1, 1), message, "too-deep"))
    except yaml.YAMLError as exc:
        loaded.problems.append(
            Problem("invalid-yaml", source, Mark(1, 1), f"invalid YAML: {exc}", "invalid-yaml")
        )
    finally:
        loader.dispose()
    return loaded


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class _Positions:
    """Map character offsets to lines and columns, counting only \\n, \\r\\n and \\r.

    YAML parsers also break lines at U+0085, U+2028 and U+2029, but GitHub, GitLab and
    editors do not, so PyYAML's own line numbers would drift after such a character.
    """

    def __init__(self, text: str) -> None:
        self.starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    def mark(self, index: int) -> Mark:
        line = bisect.bisect_right(self.starts, index)
        return Mark(line, index - self.starts[line - 1] + 1)


def _position_mark(text: str, position: int) -> Mark:
    return _Positions(text).mark(position)


def _syntax_problem(source: Source, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    where = _Positions(source.text).mark(mark.index) if mark is not None else Mark(1, 1)
    parts = [p for p in (exc.context, exc.problem) if p]
    detail = ", ".join(parts) if parts else "syntax error"
    return Problem("invalid-yaml", source, where, f"invalid YAML: {detail}", "invalid-yaml")


def _expansion_problem(source: Source, document: Node) -> Problem:
    message = (
        f"invalid YAML: aliases expand this document to more than {MAX_EXPANDED_NODES:,} "
        "nodes; it was not audited"
    )
    return Problem("invalid-yaml", source, document.start, message, "alias-expansion")


class _Converter:
    """Convert one composed document, keeping shared (aliased) nodes shared."""

    def __init__(self, source: Source, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        self.positions = _Positions(source.text)
        self.done: dict[int, Node] = {}
        self.active: set[int] = set()
        # Node count and nesting depth with aliases expanded, by id of a converted node.
        self.sizes: dict[int, int] = {}
        self.depths: dict[int, int] = {}

    def expanded_size(self, node: Node) -> int:
        """Return how many nodes `node` stands for with every alias expanded."""
        size = self.sizes.get(id(node))
        if size is not None:
            return size
        if isinstance(node, Sequence):
            size = 1 + sum(self.expanded_size(item) for item in node.items)
        elif isinstance(node, Mapping):
            children = (self.expanded_size(part) for entry in node.entries for part in entry)
            size = 1 + sum(children)
        else:
            size = 1
        self.sizes[id(node)] = size
        return size

    def convert(self, node: yaml.Node) -> Node:
        import yaml

        known = self.done.get(id(node))
        if known is not None:
            return known
        start = self.positions.mark(node.start_mark.index)
        end = self.positions.mark(node.end_mark.index)
        if len(self.active) >= MAX_DEPTH:
            raise _TooDeep(start)
        if id(node) in self.active:
            # An alias inside its own anchor. CI systems reject it; keep a placeholder.
            self.problems.append(
                Problem(
                    "invalid-yaml",
                    self.source,
                    start,
                    "invalid YAML: an alias refers to a node that contains it",
                    "recursive-alias",
                )
            )
            return Scalar(self.source, start, end, "tag:yaml.org,2002:null", "", None)
        if isinstance(node, yaml.ScalarNode):
            result: Node = Scalar(self.source, start, end, node.tag, node.value, node.style)
            self.done[id(node)] = result
            return result
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = [self.convert(item) for item in node.value]
                result = Sequence(self.source, start, end, node.tag, items)
            elif isinstance(node, yaml.MappingNode):
                result = self._mapping(node, start, end)
            else:
                raise TypeError(f"unexpected YAML node {type(node).__name__}")
        finally:
            self.active.discard(id(node))
        if self._depth(result) > MAX_DEPTH:
            # Aliases can stack shallow anchors into a deep tree.
            raise _TooDeep(start)
        self.done[id(node)] = result
        return result

    def _depth(self, node: Node) -> int:
        """Return the nesting depth of a converted node, aliases expanded, from its children."""
        if isinstance(node, Sequence):
            children: list[Node] = node.items
        elif isinstance(node, Mapping):
            children = [value for _, value in node.entries]
        else:
            return 0
        depth = 1 + max((self.depths.get(id(child), 0) for child in children), default=0)
        self.depths[id(node)] = depth
        return depth

    def _mapping(self, node: yaml.MappingNode, start: Mark, end: Mark) -> Mapping:

        mapping = Mapping(self.source, start, end, node.tag)
        merged: list[Mapping] = []
        first_seen: dict[str, Scalar] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.extend(self._merge_sources(self.convert(value_node)))
                continue
            key = self.convert(key_node)
            if not isinstance(key, Scalar):
                # CI files only use scalar keys; complex keys are kept as their text.
                key = Scalar(self.source, key.start, key.end, "tag:yaml.org,2002:str", "?", None)
            value = self.convert(value_node)
            previous = first_seen.get(key.value)
            if previous is not None:
                self.problems.append(
                    Problem(
                        "duplicate-key",
                        self.source,
                        key.start,
                        f"duplicate key {key.value!r} (first at line {previous.start.line}); "
                        "the last value is used",
                        key.value,
                    )
                )
            else:
                first_seen[key.value] = key
            mapping.add(key, value)
        for source in merged:
            for key, value in source.entries:
                if key.value not in mapping:
                    mapping.add(key, value)
        return mapping

    def _merge_sources(self, value: Node) -> list[Mapping]:
        if isinstance(value, Mapping):
            return [value]
        if isinstance(value, Sequence):
            return [item for item in value.items if isinstance(item, Mapping)]
        return []
