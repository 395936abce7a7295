"""Find pipeline files, load them, run every rule and apply suppressions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from keyless.audit import github, gitlab
from keyless.audit.files import Unread, decode_pipeline, read_bytes
from keyless.audit.loader import LoadedFile, load_text
from keyless.audit.nodes import Mapping, Source
from keyless.audit.rules import RULES
from keyless.audit.rules.base import AuditRule, Context, Reported
from keyless.audit.rules.yaml_problems import report_problem, report_unaudited
from keyless.config import Config
from keyless.errors import UsageError
from keyless.findings import Finding
from keyless.logs import logger
from keyless.scan.engine import Engine
from keyless.scan.sources import Skipped, is_excluded
from keyless.scan.suppress import allowed_rules

_YAML_SUFFIXES = (".yml", ".yaml")
_SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "node_modules",
}


@dataclass(frozen=True)
class Target:
    """A file to audit; `kind` is workflow, action, gitlab or auto (decided by content)."""

    path: Path
    display: str
    kind: str
    # Named on the command line: a file that cannot be read fails the run.
    explicit: bool = False


@dataclass
class AuditResult:
    """Findings of one audit with counts and notes for the report."""

    findings: list[Finding] = field(default_factory=list)
    scanned: int = 0
    suppressed: int = 0
    ignored: int = 0
    skipped: Skipped = field(default_factory=Skipped)
    notes: list[str] = field(default_factory=list)
    scanned_paths: set[str] = field(default_factory=set)
    # Discovered pipeline files that could not be read: (path, why).
    unaudited: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Settings:
    """Settings of an audit run besides the paths: config, engine, root and limits."""

    config: Config
    engine: Engine
    root: Path
    exclude: list[str] = field(default_factory=list)
    inline_allow: bool = True
    max_file_size: int = 2 * 1024 * 1024
    # The git work tree the paths are in; None outside git, where folders are walked.
    git_root: Path | None = None


def classify(path: PurePosixPath) -> str | None:
    """Return the kind of pipeline file a path names, or None if it names none."""
    name = path.name
    if not name.endswith(_YAML_SUFFIXES):
        return None
    parents = path.parent.parts
    if len(parents) >= 2 and parents[-2:] == (".github", "workflows"):
        return "workflow"
    if name in ("action.yml", "action.yaml"):
        return "action"
    if name.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml")):
        return "gitlab"
    return None


def discover(paths: Sequence[str], settings: Settings, skipped: Skipped) -> list[Target]:
    """Resolve PATH arguments into pipeline files; explicit YAML files are always read."""
    targets: list[Target] = []
    for raw in paths:
        given = Path(raw)
        if not given.exists() and not given.is_symlink():
            raise UsageError(
                f"{raw}: no such file or directory",
                hint="check the path; keyless audits the current folder by default",
            )
        if given.is_dir() and not given.is_symlink():
            if settings.git_root is not None:
                targets.extend(_git_listed(given, settings))
            else:
                targets.extend(_walk(given, settings))
            continue
        display = _display(given, settings.root)
        kind = classify(PurePosixPath(Path(os.path.abspath(given)).as_posix()))
        if kind is None and given.name.endswith(_YAML_SUFFIXES):
            kind = "auto"
        if kind is None:
            skipped.add("not-a-pipeline-file", display)
            continue
        targets.append(Target(given, display, kind, explicit=True))
    unique: dict[str, Target] = {}
    for target in targets:
        unique.setdefault(target.display, target)
    return [t for t in unique.values() if not is_excluded(t.display, settings.exclude)]


def _git_listed(directory: Path, settings: Settings) -> list[Target]:
    """Return the pipeline files below `directory` that git shows.

    These are tracked files and untracked ones that are not ignored, the same
    selection as `keyless scan`.
    """
    from keyless.scan.sources import select_paths

    found: list[Target] = []
    for path, display in select_paths([str(directory)], settings.git_root).files:
        if _SKIPPED_DIRS.intersection(PurePosixPath(display).parts[:-1]):
            continue
        kind = classify(PurePosixPath(Path(os.path.abspath(path)).as_posix()))
        if kind is not None:
            found.append(Target(path, _display(path, settings.root), kind))
    return found


def _walk(directory: Path, settings: Settings) -> list[Target]:
    found: list[Target] = []
    for current, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIPPED_DIRS)
        for name in sorted(filenames):
            path = Path(current) / name
            absolute = PurePosixPath(Path(os.path.abspath(path)).as_posix())
            kind = classify(absolute)
            if kind is not None:
                found.append(Target(path, _display(path, settings.root), kind))
    return found


def _display(path: Path, root: Path) -> str:
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return path.as_posix()


def run(paths: Sequence[str], settings: Settings) -> AuditResult:
    """Audit the pipeline files under `paths` and return the findings left after suppression."""
    result = AuditResult()
    disabled = settings.config.disable
    rules = {rule_id: rule for rule_id, rule in RULES.items() if rule_id not in disabled}
    context = Context(engine=settings.engine)
    sources: dict[str, Source] = {}
    for target in discover(paths, settings, result.skipped):
        loaded = _load(target, settings, result)
        if loaded is None:
            continue
        result.scanned += 1
        result.scanned_paths.add(target.display)
        _audit_file(target, loaded, settings, rules, context, sources, result)
    if "file-not-audited" in rules:
        for display, detail in result.unaudited:
            report_unaudited(display, detail, context)
    result.findings = _filter(context.reported, sources, settings, result)
    return result


def _load(target: Target, settings: Settings, result: AuditResult) -> LoadedFile | None:
    data = read_bytes(target.path, settings.max_file_size)
    if isinstance(data, Unread):
        if target.explicit:
            raise UsageError(
                f"{target.display}: cannot audit: {data.detail}",
                hint=_UNREAD_HINTS.get(data.reason, "name a readable pipeline file"),
            )
        logger.warning("%s: not audited: %s", target.display, data.detail)
        result.skipped.add(data.reason, target.display)
        if data.reason in _REPORTED_UNREAD:
            result.unaudited.append((target.display, data.detail))
        return None
    return load_text(target.display, decode_pipeline(target.display, data))


# Reasons a discovered pipeline file was not read that are findings, not only counts:
# the file exists and CI runs it. Links and special files are skipped as in `keyless scan`.
_REPORTED_UNREAD = frozenset({"too-large", "unreadable"})
_UNREAD_HINTS = {
    "too-large": "raise the limit with --max-file-size or max-file-size in the keyless config",
    "symlink": "name the file the link points to",
    "symlink-loop": "fix or remove the link",
    "broken-symlink": "fix or remove the link",
    "not-a-file": "name a regular file",
    "unreadable": "check the file's permissions",
}


def _audit_file(
    target: Target,
    loaded: LoadedFile,
    settings: Settings,
    rules: dict[str, AuditRule],
    context: Context,
    sources: dict[str, Source],
    result: AuditResult,
) -> None:
    files = [loaded]
    kind = target.kind
    documents = [d for d in loaded.documents if isinstance(d, Mapping)]
    if kind == "auto":
        kind = _sniff(documents)
    if kind == "gitlab":
        reader = gitlab.DirectoryReader(
            _project_root(target, settings), settings.root, load_text, settings.max_file_size
        )
        pipeline = gitlab.build_pipeline(loaded, reader)
        files = pipeline.files
        for included in files[1:]:
            if included.source.path not in result.scanned_paths:
                result.scanned += 1
                result.scanned_paths.add(included.source.path)
        result.notes.extend(n for n in pipeline.notes if n not in result.notes)
        for rule in rules.values():
            rule.check_pipeline(pipeline, context)
    else:
        for document in documents:
            if kind == "workflow":
                workflow = github.parse_workflow(document)
                for rule in rules.values():
                    rule.check_workflow(workflow, context)
            else:
                action = github.parse_action(document)
                for rule in rules.values():
                    rule.check_action(action, context)
    for file in files:
        sources.setdefault(file.source.path, file.source)
        for problem in file.problems:
            if problem.kind == "invalid-yaml":
                logger.warning("%s:%d: %s", problem.source.path, problem.mark.line, problem.message)
                result.skipped.add("invalid-yaml", problem.source.path)
            if problem.kind in rules:
                report_problem(problem, context)


def _sniff(documents: list[Mapping]) -> str:
    for document in documents:
        if github.is_workflow(document):
            return "workflow"
        if github.is_action(document):
            return "action"
    return "gitlab"


def _project_root(target: Target, settings: Settings) -> Path:
    """Return the folder GitLab resolves `include: local` against: the repository root."""
    from keyless import git

    top = git.toplevel(target.path.resolve())
    return top if top is not None else target.path.resolve().parent


# Rule -> the more specific rule that reports the same problem at the same place; the
# general finding is dropped when the specific one is there.
_SUPERSEDED_BY = {"secret-exposure": "credentials-file-in-workspace"}


def _filter(
    reported: list[Reported], sources: dict[str, Source], settings: Settings, result: AuditResult
) -> list[Finding]:
    kept: list[Finding] = []
    places = {
        (
            item.finding.rule_id,
            item.finding.location.path,
            item.finding.location.line,
            item.finding.location.column,
        )
        for item in reported
    }
    # A node reached through several jobs (a template that many jobs extend) is reported
    # once, under the first job that reached it.
    seen: set[tuple[str, str, int, int]] = set()
    for item in reported:
        finding = item.finding
        location = finding.location
        identity = (finding.rule_id, location.path, location.line, location.column)
        if identity in seen:
            continue
        specific = _SUPERSEDED_BY.get(finding.rule_id)
        if specific is not None and (specific, *identity[1:]) in places:
            continue
        seen.add(identity)
        if settings.config.is_ignored(finding.rule_id, location.path, location.line):
            result.ignored += 1
            continue
        if settings.inline_allow and _allowed(item, sources):
            result.suppressed += 1
            continue
        kept.append(finding)
    return kept


def _allowed(item: Reported, sources: dict[str, Source]) -> bool:
    rule_ids = {item.finding.rule_id, *item.extra_rule_ids}
    lines = list(item.allow_lines)
    location = item.finding.location
    source = sources.get(location.path)
    if source is not None:
        above = source.line(location.line - 1).strip()
        if above.startswith("#"):
            lines.append((location.path, location.line - 1))
    for path, number in lines:
        text = sources[path].line(number) if path in sources else ""
        if rule_ids & allowed_rules(text):
            return True
    return False
