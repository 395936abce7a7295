"""GitLab CI models: a pipeline built from `.gitlab-ci.yml` and its local includes.

Jobs are resolved the way GitLab resolves them: `extends:` (several levels, a list
merges left to right) deep-merges mappings and replaces everything else, and
`!reference [job, key, ...]` tags are replaced by the node they name. Nodes keep
their own file and line, so a finding in an included template points there.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from keyless.audit.loader import LoadedFile
from keyless.audit.nodes import Mapping, Node, Scalar, Sequence, string_items

# Top-level keys that are not jobs (https://docs.gitlab.com/ci/yaml/).
RESERVED = frozenset(
    {
        "default",
        "include",
        "stages",
        "variables",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "spec",
        "types",
    }
)
SCRIPT_KEYS = ("before_script", "script", "after_script")
# GitLab stops at 11 levels of `extends:` and 10 of nested `!reference`.
MAX_EXTENDS_DEPTH = 11
MAX_REFERENCE_DEPTH = 10
# GitLab allows 150 includes per pipeline by default.
MAX_INCLUDES = 150
INCLUDE_KINDS = ("local", "project", "remote", "template", "component")


@dataclass(eq=False)
class Include:
    """One `include:` entry; only `local` ones are followed."""

    kind: str
    target: str
    node: Node
    inputs: Mapping | None = None
    followed: bool = False


@dataclass(eq=False)
class Job:
    """A resolved job; `node` is the merged mapping after `extends:` and `!reference`."""

    name: str
    key: Scalar
    node: Mapping

    @property
    def hidden(self) -> bool:
        """Return whether the job is a template (`.name`) that never runs by itself."""
        return self.name.startswith(".")

    @property
    def describe(self) -> str:
        """Return the job's place for finding keys: `jobs.build`, or `jobs[".base"]`."""
        if re.fullmatch(r"[\w-]+", self.name):
            return f"jobs.{self.name}"
        return f"jobs[{json.dumps(self.name)}]"

    def scripts(self) -> Iterator[tuple[str, Scalar]]:
        """Yield (keyword, line) for every script line, `!reference` expanded."""
        for keyword in SCRIPT_KEYS:
            for line in string_items(self.node.get(keyword)):
                yield keyword, line

    @property
    def variables(self) -> Mapping | None:
        """Return the job's `variables:` mapping."""
        return self.node.mapping("variables")

    @property
    def id_tokens(self) -> Mapping | None:
        """Return the job's `id_tokens:` mapping."""
        return self.node.mapping("id_tokens")


@dataclass
class Pipeline:
    """Every file of one pipeline, its global settings, jobs and includes."""

    main: LoadedFile
    files: list[LoadedFile] = field(default_factory=list)
    top: dict[str, tuple[Scalar, Node]] = field(default_factory=dict)
    global_variables: list[Mapping] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def default(self) -> Mapping | None:
        """Return the `default:` mapping."""
        entry = self.top.get("default")
        return entry[1] if entry is not None and isinstance(entry[1], Mapping) else None

    def variable_mappings(self, *, inputs: bool = False) -> Iterator[tuple[str, Mapping]]:
        """Yield (place, mapping) for global and job variables, and include inputs if asked."""
        for mapping in self.global_variables:
            yield "variables", mapping
        for job in self.jobs:
            if job.variables is not None:
                yield f"{job.describe}.variables", job.variables
        for include in self.includes if inputs else ():
            if include.inputs is not None:
                yield f"include[{include.target}].inputs", include.inputs


def variable_value(value: Node) -> Node | None:
    """Return a variable's value node, also from the form `NAME: {value: ..., description: ...}`."""
    if isinstance(value, Mapping):
        return value.get("value")
    return value


class Reader(Protocol):
    """A reader of pipeline files, addressed by project-relative path."""

    def __call__(self, relative: str) -> LoadedFile | None:
        """Return the loaded file, or None when it does not exist in the project."""

    def failure(self, relative: str) -> str:
        """Return why `relative` was not read, such as "not found"."""

    def glob(self, pattern: str) -> list[str]:
        """Return the project-relative files that match a wildcard include."""


def content_document(loaded: LoadedFile) -> Mapping | None:
    """Return the pipeline document: the second one when the first is a `spec:` header."""
    documents = [d for d in loaded.documents if isinstance(d, Mapping)]
    if len(documents) >= 2 and "spec" in documents[0]:
        return documents[1]
    if documents and "spec" in documents[0] and len(documents[0].entries) == 1:
        return None
    return documents[0] if documents else None


def build_pipeline(main: LoadedFile, read: Reader) -> Pipeline:
    """Follow local includes from `main`, then resolve every job."""
    pipeline = Pipeline(main=main)
    _collect(pipeline, main, read, seen={main.source.path})
    lookup = {name: value for name, (_, value) in pipeline.top.items()}
    resolver = _Resolver(lookup, pipeline.notes)
    defaults = _defaults(pipeline, resolver)
    for name, (key, value) in pipeline.top.items():
        if name in RESERVED or not isinstance(value, Mapping):
            continue
        merged = resolver.extended(name, value, depth=0, chain=[name])
        resolved = resolver.references(merged, depth=0)
        if isinstance(resolved, Mapping):
            node = _inherit_defaults(resolved, defaults)
            pipeline.jobs.append(Job(name=name, key=key, node=node))
    return pipeline


# Top-level keywords that old pipelines use as defaults for every job.
_GLOBAL_DEFAULTS = ("image", "services", "cache", "before_script", "after_script")


def _defaults(pipeline: Pipeline, resolver: _Resolver) -> list[tuple[Scalar, Node]]:
    """Return the `default:` entries, then the old top-level defaults it does not set."""
    entries: list[tuple[Scalar, Node]] = []
    default = pipeline.default
    if default is not None:
        resolved = resolver.references(default, depth=0)
        if isinstance(resolved, Mapping):
            entries.extend(resolved.entries)
    names = {key.value for key, _ in entries}
    for name in _GLOBAL_DEFAULTS:
        entry = pipeline.top.get(name)
        if entry is not None and name not in names:
            entries.append(entry)
    return entries


def _inherit_defaults(job: Mapping, defaults: list[tuple[Scalar, Node]]) -> Mapping:
    """Add the defaults a job does not set itself, honouring `inherit: default:`."""
    if not defaults:
        return job
    inherit = job.mapping("inherit")
    setting = inherit.get("default") if inherit is not None else None
    allowed: set[str] | None = None
    if isinstance(setting, Scalar):
        if not setting.is_true():
            return job
    elif isinstance(setting, Sequence):
        allowed = {item.value for item in string_items(setting)}
    missing = [
        (key, value)
        for key, value in defaults
        if key.value not in job and (allowed is None or key.value in allowed)
    ]
    if not missing:
        return job
    merged = Mapping(job.source, job.start, job.end, job.tag)
    for key, value in [*job.entries, *missing]:
        merged.add(key, value)
    return merged


def _collect(pipeline: Pipeline, loaded: LoadedFile, read: Reader, seen: set[str]) -> None:
    pipeline.files.append(loaded)
    document = content_document(loaded)
    if document is None:
        return
    includes = list(_includes(document.get("include")))
    pipeline.includes.extend(includes)
    for include in includes:
        if include.kind != "local":
            line = include.node.start.line
            pipeline.notes.append(
                f"{include.node.path}:{line}: include {include.kind} {include.target!r} "
                "not followed; audit that file in its own project"
            )
            continue
        for path in _expand_local(include.target, read):
            if path in seen:
                continue
            if len(seen) >= MAX_INCLUDES:
                pipeline.notes.append(f"more than {MAX_INCLUDES} includes; the rest not followed")
                return
            seen.add(path)
            included = read(path)
            if included is None:
                pipeline.notes.append(
                    f"{include.node.path}:{include.node.start.line}: local include "
                    f"{path!r} not read: {read.failure(path)}"
                )
                continue
            include.followed = True
            _collect(pipeline, included, read, seen)
    # Included files are read first, so the including file's keys win. As in GitLab,
    # a job or mapping defined in both is deep-merged.
    for key, value in document.entries:
        if key.value == "variables" and isinstance(value, Mapping):
            pipeline.global_variables.append(value)
        if key.value == "include":
            continue
        previous = pipeline.top.get(key.value)
        merged = value
        if previous is not None and isinstance(previous[1], Mapping) and isinstance(value, Mapping):
            merged = deep_merge(previous[1], value, drop=())
        pipeline.top[key.value] = (key, merged)


def _expand_local(target: str, read: Reader) -> list[str]:
    relative = target.lstrip("/")
    if "*" not in relative:
        return [relative]
    return read.glob(relative)


def _includes(node: Node | None) -> Iterator[Include]:
    if node is None:
        return
    items = node.items if isinstance(node, Sequence) else [node]
    for item in items:
        if isinstance(item, Scalar):
            value = item.value.strip()
            kind = "remote" if value.startswith(("http://", "https://")) else "local"
            yield Include(kind=kind, target=value, node=item)
        elif isinstance(item, Mapping):
            kind = next((k for k in INCLUDE_KINDS if k in item), "unknown")
            target_node = item.get(kind)
            target = target_node.value if isinstance(target_node, Scalar) else kind
            if kind == "project":
                files = item.get("file")
                names = [s.value for s in string_items(files)]
                target = f"{target}:{','.join(names)}" if names else target
            yield Include(kind=kind, target=target, node=item, inputs=item.mapping("inputs"))


class _Resolver:
    """Resolve `extends:` and `!reference` against the pipeline's top-level keys."""

    def __init__(self, lookup: dict[str, Node], notes: list[str]) -> None:
        self.lookup = lookup
        self.notes = notes
        # Resolved nodes by (id, depth). YAML aliases share nodes, so without this a
        # chain of aliases ("billion laughs") is walked once per path, exponentially.
        # The key node is kept in the value so its id cannot be reused.
        self.resolved: dict[tuple[int, int], tuple[Node, Node]] = {}

    def extended(self, name: str, job: Mapping, depth: int, chain: list[str]) -> Mapping:
        parents = [s.value for s in string_items(job.get("extends"))]
        if not parents:
            return job
        if depth >= MAX_EXTENDS_DEPTH:
            self._note(job, f"job {name!r}: extends nests deeper than {MAX_EXTENDS_DEPTH} levels")
            return job
        base: Mapping | None = None
        for parent in parents:
            if parent in chain:
                self._note(job, f"job {name!r}: extends loop through {parent!r}")
                continue
            target = self.lookup.get(parent)
            if not isinstance(target, Mapping):
                self._note(job, f"job {name!r}: extends unknown job {parent!r}")
                continue
            resolved = self.extended(parent, target, depth + 1, [*chain, parent])
            base = resolved if base is None else deep_merge(base, resolved)
        return job if base is None else deep_merge(base, job)

    def references(self, node: Node, depth: int) -> Node:
        if isinstance(node, Scalar):
            return node
        known = self.resolved.get((id(node), depth))
        if known is not None:
            return known[1]
        result = self._resolve_references(node, depth)
        self.resolved[(id(node), depth)] = (node, result)
        return result

    def _resolve_references(self, node: Node, depth: int) -> Node:
        if isinstance(node, Sequence) and node.tag == "!reference":
            return self._reference(node, depth)
        if isinstance(node, Sequence):
            items = [self.references(item, depth) for item in node.items]
            if all(a is b for a, b in zip(items, node.items, strict=True)):
                return node
            return Sequence(node.source, node.start, node.end, node.tag, items)
        if isinstance(node, Mapping):
            copy = Mapping(node.source, node.start, node.end, node.tag)
            changed = False
            for key, value in node.entries:
                resolved = self.references(value, depth)
                changed = changed or resolved is not value
                copy.add(key, resolved)
            return copy if changed else node
        return node

    def _reference(self, node: Sequence, depth: int) -> Node:
        path = [item.value for item in node.items if isinstance(item, Scalar)]
        if depth >= MAX_REFERENCE_DEPTH or not path:
            self._note(node, "!reference nests too deep or names nothing")
            return Sequence(node.source, node.start, node.end, "tag:yaml.org,2002:seq", [])
        current: Node | None = self.lookup.get(path[0])
        if isinstance(current, Mapping) and path[0] not in RESERVED:
            current = self.extended(path[0], current, 0, [path[0]])
        for key in path[1:]:
            current = current.get(key) if isinstance(current, Mapping) else None
        if current is None:
            self._note(node, f"!reference {path} not found")
            return Sequence(node.source, node.start, node.end, "tag:yaml.org,2002:seq", [])
        return self.references(current, depth + 1)

    def _note(self, node: Node, message: str) -> None:
        note = f"{node.path}:{node.start.line}: {message}"
        if note not in self.notes:
            self.notes.append(note)


def deep_merge(base: Mapping, override: Mapping, drop: tuple[str, ...] = ("extends",)) -> Mapping:
    """Merge two mappings as GitLab does: mappings recursively, other values replaced.

    `drop` names top-level keys of `base` to leave out; `extends:` merging drops the
    parent's own `extends:`, which has been resolved already.
    """
    return _merge(base, override, drop, {})


def _merge(
    base: Mapping,
    override: Mapping,
    drop: tuple[str, ...],
    done: dict[tuple[int, int], tuple[Mapping, Mapping, Mapping]],
) -> Mapping:
    # `done` maps pairs already merged to their result (the inputs are kept so their
    # ids stay unique), so mappings shared through aliases are merged once, not once
    # per path to them.
    pair = (id(base), id(override))
    known = done.get(pair) if not drop else None
    if known is not None:
        return known[2]
    merged = Mapping(override.source, override.start, override.end, override.tag)
    for key, value in base.entries:
        if key.value in drop:
            continue
        merged.add(key, value)
    for key, value in override.entries:
        previous = merged.get(key.value)
        if previous is not value and isinstance(previous, Mapping) and isinstance(value, Mapping):
            merged.add(key, _merge(previous, value, (), done))
        else:
            merged.add(key, value)
    if not drop:
        done[pair] = (base, override, merged)
    return merged


class DirectoryReader:
    """Read pipeline files below a project root, with paths shown relative to `display`.

    Only regular files inside `root` are read: symbolic links, special files and
    paths that leave the root (`..`) are not, and each read is bounded by `max_size`.
    """

    def __init__(
        self,
        root: Path,
        display: Path,
        load: Callable[[str, str], LoadedFile],
        max_size: int = 2 * 1024 * 1024,
    ) -> None:
        self.root = root
        self.display = display
        self.load = load
        self.max_size = max_size
        self.failures: dict[str, str] = {}

    def __call__(self, relative: str) -> LoadedFile | None:
        from keyless.audit.files import Unread, decode_pipeline, inside, read_bytes

        normal = posixpath.normpath(relative)
        if normal.startswith("../") or normal == ".." or posixpath.isabs(normal):
            self.failures[relative] = "outside the repository"
            return None
        path = self.root / normal
        if not inside(path.parent, self.root):
            self.failures[relative] = "outside the repository (through a linked folder)"
            return None
        data = read_bytes(path, self.max_size)
        if isinstance(data, Unread):
            self.failures[relative] = data.detail
            return None
        display = _relative(path, self.display)
        return self.load(display, decode_pipeline(display, data))

    def failure(self, relative: str) -> str:
        """Return why `relative` was not read."""
        return self.failures.get(relative, "not found")

    def glob(self, pattern: str) -> list[str]:
        """Return the project-relative files matching a local include wildcard."""
        matcher = wildcard_regex(pattern)
        found: list[str] = []
        for current, dirnames, filenames in os.walk(self.root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            base = Path(current).relative_to(self.root).as_posix()
            for name in filenames:
                relative = name if base == "." else f"{base}/{name}"
                if matcher.fullmatch(relative):
                    found.append(relative)
        return sorted(found)


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """Compile an `include: local` wildcard the way GitLab matches it.

    `*` matches within one folder and `**` across folders, so `configs/**.yml` matches
    every `.yml` file below `configs/` and `configs/**/*.yml` only those in subfolders.
    Every other character is literal.
    """
    pieces: list[str] = []
    for part in re.split(r"(\*\*|\*)", pattern):
        if part == "**":
            pieces.append(".*")
        elif part == "*":
            pieces.append("[^/]*")
        else:
            pieces.append(re.escape(part))
    return re.compile("".join(pieces), re.DOTALL)


def _relative(path: Path, display: Path) -> str:
    try:
        return path.relative_to(display.resolve()).as_posix()
    except ValueError:
        try:
            return path.resolve().relative_to(display.resolve()).as_posix()
        except ValueError:
            return path.as_posix()
