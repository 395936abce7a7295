"""GitHub Actions models: workflows, jobs, steps, composite actions and `uses:` refs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from keyless.audit.nodes import Mapping, Node, Scalar, Sequence, Source

_SHA = re.compile(r"^[0-9a-f]{40}$")
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_SECRET_REFERENCE = re.compile(r"\bsecrets\s*(?:\.\s*([A-Za-z_][\w-]*)|\[)")
GITHUB_OWNERS = frozenset({"actions", "github"})


@dataclass(frozen=True)
class ActionRef:
    """A parsed `uses:` value: `owner/repo[/path]@ref`, `./local` or `docker://image`."""

    raw: str
    owner: str = ""
    repo: str = ""
    subpath: str = ""
    ref: str = ""
    local: bool = False
    docker: bool = False

    @classmethod
    def parse(cls, raw: str) -> ActionRef:
        """Parse a `uses:` string; anything unrecognised is kept as an unpinned ref."""
        value = raw.strip()
        if value.startswith("./") or value.startswith("../"):
            return cls(raw=value, local=True)
        if value.startswith("docker://"):
            return cls(raw=value, docker=True)
        name, _, ref = value.partition("@")
        parts = name.split("/")
        owner = parts[0] if parts else ""
        repo = parts[1] if len(parts) > 1 else ""
        return cls(raw=value, owner=owner, repo=repo, subpath="/".join(parts[2:]), ref=ref)

    @property
    def name(self) -> str:
        """Return `owner/repo` or `owner/repo/path`, lowercased, without the ref."""
        base = f"{self.owner}/{self.repo}".lower()
        return f"{base}/{self.subpath}".lower() if self.subpath else base

    @property
    def repository(self) -> str:
        """Return `owner/repo`, lowercased."""
        return f"{self.owner}/{self.repo}".lower()

    @property
    def pinned(self) -> bool:
        """Return whether the ref is a full commit SHA."""
        return bool(_SHA.match(self.ref))

    @property
    def github_owned(self) -> bool:
        """Return whether the action belongs to GitHub (`actions/*`, `github/*`)."""
        return self.owner.lower() in GITHUB_OWNERS

    def major_version(self) -> tuple[int, ...] | None:
        """Return the numeric parts of a `v1`, `v1.2` or `v1.2.3` ref, or None."""
        match = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", self.ref)
        if match is None:
            return None
        return tuple(int(part) for part in match.groups() if part is not None)


@dataclass(eq=False)
class Step:
    """One step of a job or of a composite action."""

    node: Mapping
    index: int
    job: Job

    @property
    def uses(self) -> Scalar | None:
        """Return the `uses:` node."""
        return self.node.scalar("uses")

    @property
    def action(self) -> ActionRef | None:
        """Return the parsed `uses:` value, or None for a `run:` step."""
        uses = self.uses
        return ActionRef.parse(uses.value) if uses is not None else None

    def uses_action(self, *names: str) -> bool:
        """Return whether the step uses one of the named actions (`owner/repo`)."""
        action = self.action
        return action is not None and not action.local and action.name in names

    @property
    def inputs(self) -> Mapping | None:
        """Return the `with:` mapping."""
        return self.node.mapping("with")

    def input(self, name: str) -> Scalar | None:
        """Return the `with:` value for `name` as a scalar."""
        inputs = self.inputs
        return inputs.scalar(name) if inputs is not None else None

    def input_key(self, name: str) -> Scalar | None:
        """Return the key node of a `with:` entry."""
        inputs = self.inputs
        return inputs.key_node(name) if inputs is not None else None

    @property
    def run(self) -> Scalar | None:
        """Return the `run:` script node."""
        return self.node.scalar("run")

    @property
    def env(self) -> Mapping | None:
        """Return the step's own `env:` mapping."""
        return self.node.mapping("env")

    @property
    def label(self) -> str:
        """Return a name for the step that survives inserted steps: id, name, uses or index.

        The index is 0-based, as in a path (`steps[0]`); messages use `title`.
        """
        for key in ("id", "name"):
            value = self.node.text(key)
            if value:
                return f"{key}={value}"
        action = self.action
        if action is not None:
            return f"uses={action.name if not action.local else action.raw}"
        return str(self.index)

    @property
    def title(self) -> str:
        """Return the step for messages: its name, or its 1-based number and line."""
        name = self.node.text("name")
        if name:
            return f"step {name!r}"
        return f"step {self.index + 1} (line {self.node.start.line})"

    @property
    def describe(self) -> str:
        """Return the step's place for finding keys: `jobs.build.steps[uses=...]`."""
        return f"{self.job.describe}.steps[{self.label}]"

    def effective_env(self) -> dict[str, Scalar]:
        """Return the environment the step sees: workflow, then job, then step `env:`."""
        env: dict[str, Scalar] = {}
        for mapping in (self.job.workflow_env, self.job.env, self.env):
            if mapping is None:
                continue
            for name, value in mapping.items():
                if isinstance(value, Scalar):
                    env[name] = value
        return env


@dataclass(eq=False)
class Job:
    """A workflow job, or the steps of a composite action (`kind` "action")."""

    id: str
    key: Scalar | None
    node: Mapping
    kind: str = "workflow"
    workflow_env: Mapping | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def describe(self) -> str:
        """Return `jobs.<id>` for workflows and `runs` for composite actions."""
        return f"jobs.{self.id}" if self.kind == "workflow" else "runs"

    @property
    def env(self) -> Mapping | None:
        """Return the job's `env:` mapping."""
        return self.node.mapping("env") if self.kind == "workflow" else None

    @property
    def permissions(self) -> Node | None:
        """Return the job's `permissions:` node."""
        return self.node.get("permissions") if self.kind == "workflow" else None

    @property
    def uses(self) -> Scalar | None:
        """Return the `uses:` of a reusable-workflow call."""
        return self.node.scalar("uses") if self.kind == "workflow" else None

    @property
    def anchor(self) -> Node:
        """Return the node whose first line carries job-wide allow comments."""
        return self.key if self.key is not None else self.node

    def steps_after(self, step: Step) -> list[Step]:
        """Return the steps that run after `step`."""
        return self.steps[step.index + 1 :]


@dataclass(eq=False)
class Workflow:
    """A workflow file: triggers, workflow-level permissions and env, and jobs."""

    source: Source
    root: Mapping
    triggers: dict[str, Node | None] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)

    @property
    def path(self) -> str:
        """Return the repository-relative path."""
        return self.source.path

    @property
    def permissions(self) -> Node | None:
        """Return the workflow-level `permissions:` node."""
        return self.root.get("permissions")

    @property
    def env(self) -> Mapping | None:
        """Return the workflow-level `env:` mapping."""
        return self.root.mapping("env")

    @property
    def on_node(self) -> Node:
        """Return the `on:` key node, or the root when it is missing."""
        return self.root.key_node("on") or self.root.key_node("true") or self.root


@dataclass(eq=False)
class CompositeAction:
    """An `action.yml` file; only composite actions have steps."""

    source: Source
    root: Mapping
    job: Job | None

    @property
    def path(self) -> str:
        """Return the repository-relative path."""
        return self.source.path


def parse_workflow(root: Mapping) -> Workflow:
    """Build a Workflow from the root mapping of a workflow file."""
    workflow = Workflow(source=root.source, root=root, triggers=_triggers(root))
    jobs = root.mapping("jobs")
    if jobs is None:
        return workflow
    for key, value in jobs.entries:
        if not isinstance(value, Mapping):
            continue
        job = Job(id=key.value, key=key, node=value, workflow_env=workflow.env)
        job.steps = _steps(value.get("steps"), job)
        workflow.jobs.append(job)
    return workflow


def parse_action(root: Mapping) -> CompositeAction:
    """Build a CompositeAction; `job` is None unless `runs.using` is composite."""
    runs = root.mapping("runs")
    if runs is None or runs.text("using").lower() != "composite":
        return CompositeAction(root.source, root, None)
    job = Job(id="runs", key=root.key_node("runs"), node=runs, kind="action")
    job.steps = _steps(runs.get("steps"), job)
    return CompositeAction(root.source, root, job)


def _steps(node: Node | None, job: Job) -> list[Step]:
    if not isinstance(node, Sequence):
        return []
    return [
        Step(node=item, index=index, job=job)
        for index, item in enumerate(node.items)
        if isinstance(item, Mapping)
    ]


def _triggers(root: Mapping) -> dict[str, Node | None]:
    # PyYAML composes `on:` as a plain scalar key "on"; a YAML 1.1 loader would make it true.
    node = root.get("on")
    if node is None:
        node = root.get("true")
    if isinstance(node, Scalar):
        return {node.value: None}
    if isinstance(node, Sequence):
        return {item.value: None for item in node.items if isinstance(item, Scalar)}
    if isinstance(node, Mapping):
        return dict(node.items())
    return {}


def expressions(scalar: Scalar) -> Iterator[tuple[int, int, str]]:
    """Yield (start, end, inner text) of each `${{ ... }}` expression in the value."""
    for match in _EXPRESSION.finditer(scalar.value):
        yield match.start(), match.end(), match.group(1)


def references_secrets(text: str) -> bool:
    """Return whether `text` contains an expression that reads `secrets`."""
    return any(_SECRET_REFERENCE.search(inner) for inner in _EXPRESSION.findall(text))


def secret_names(text: str) -> set[str]:
    """Return the names of `secrets.NAME` read in expressions in `text`."""
    names: set[str] = set()
    for inner in _EXPRESSION.findall(text):
        names.update(m.group(1) for m in _SECRET_REFERENCE.finditer(inner) if m.group(1))
    return names


def permission_scopes(node: Node | None) -> dict[str, str] | str | None:
    """Return the scopes of a `permissions:` node: a dict, `read-all`/`write-all`, or None."""
    if node is None:
        return None
    if isinstance(node, Scalar):
        return node.value.strip() or "{}"
    if isinstance(node, Mapping):
        return {name: value.value for name, value in node.items() if isinstance(value, Scalar)}
    return None


def is_workflow(root: Node) -> bool:
    """Return whether a document looks like a workflow (it has `jobs:` and `on:`)."""
    return isinstance(root, Mapping) and "jobs" in root and ("on" in root or "true" in root)


def is_action(root: Node) -> bool:
    """Return whether a document looks like an action metadata file (it has `runs:`)."""
    return isinstance(root, Mapping) and "runs" in root
