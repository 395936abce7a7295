"""Typed configuration from `.keyless.toml` or `[tool.keyless]` in pyproject.toml.

Configuration is data only: globs, rule ids and regular expressions. Nothing in it
makes keyless import or run code, so a scanned repository's config is safe to read.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keyless.errors import ConfigError
from keyless.findings import Severity
from keyless.logs import logger

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

CONFIG_FILE = ".keyless.toml"
PYPROJECT = "pyproject.toml"
DEFAULT_MAX_FILE_SIZE = 2 * 1024 * 1024

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
}


@dataclass(frozen=True)
class CustomDetector:
    """A regular-expression detector defined in configuration."""

    id: str
    title: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    severity: Severity
    secret_group: int


@dataclass(frozen=True)
class Ignore:
    """A configured suppression: a rule at a path, optionally at one line."""

    rule: str
    path: str
    line: int | None = None


@dataclass
class Config:
    """Settings for every command; the defaults are what keyless does with no file."""

    source: Path | None = None
    exclude: list[str] = field(default_factory=list)
    disable: set[str] = field(default_factory=set)
    allowlist: list[re.Pattern[str]] = field(default_factory=list)
    allowlist_lines: list[re.Pattern[str]] = field(default_factory=list)
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    detectors: list[CustomDetector] = field(default_factory=list)
    ignore: list[Ignore] = field(default_factory=list)

    def is_allowlisted(self, value: str, line: str) -> bool:
        """Return whether a found value, or the line it is on, matches an allowlist pattern."""
        return self.is_allowlisted_value(value) or self.is_allowlisted_line(line)

    def is_allowlisted_value(self, value: str) -> bool:
        """Return whether a found value matches an allowlist pattern."""
        return any(p.search(value) for p in self.allowlist)

    def is_allowlisted_line(self, line: str) -> bool:
        """Return whether a line matches a line allowlist pattern."""
        return any(p.search(line) for p in self.allowlist_lines)

    def is_ignored(self, rule_id: str, path: str, line: int) -> bool:
        """Return whether an `ignore` entry covers this rule at this place."""
        from fnmatch import fnmatchcase

        for entry in self.ignore:
            if entry.rule not in (rule_id, "*"):
                continue
            if not fnmatchcase(path, entry.path):
                continue
            if entry.line is None or entry.line == line:
                return True
        return False


def discover(root: Path) -> Path | None:
    """Return the config file that applies to `root`: `.keyless.toml`, else pyproject.toml."""
    candidate = root / CONFIG_FILE
    if candidate.is_file():
        return candidate
    pyproject = root / PYPROJECT
    if pyproject.is_file():
        try:
            data = _read_toml(pyproject)
        except ConfigError:
            # A broken pyproject.toml that has no keyless section is not our problem
            # to report, unless it names keyless.
            if "[tool.keyless" in pyproject.read_text(errors="replace"):
                raise
            return None
        if "keyless" in data.get("tool", {}):
            return pyproject
    return None


def load(path: Path | None) -> Config:
    """Read and validate the config at `path`; `None` gives the defaults."""
    if path is None:
        return Config()
    data = _read_toml(path)
    if path.name == PYPROJECT:
        data = data.get("tool", {}).get("keyless", {})
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [tool.keyless] must be a table")
    return _parse(data, path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
            return data
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML: {exc}", hint="fix the file or pass --config with another"
        ) from exc


_KNOWN_KEYS = {
    "exclude",
    "disable",
    "allowlist",
    "allowlist-lines",
    "max-file-size",
    "detectors",
    "ignore",
}


def _parse(data: dict[str, Any], path: Path) -> Config:
    for key in sorted(set(data) - _KNOWN_KEYS):
        logger.warning(
            "%s: unknown config key %r ignored; known keys: %s",
            path,
            key,
            ", ".join(sorted(_KNOWN_KEYS)),
        )
    return Config(
        source=path,
        exclude=_strings(data, "exclude", path),
        disable=set(_strings(data, "disable", path)),
        allowlist=[_regex(p, path, "allowlist") for p in _strings(data, "allowlist", path)],
        allowlist_lines=[
            _regex(p, path, "allowlist-lines") for p in _strings(data, "allowlist-lines", path)
        ],
        max_file_size=parse_size(
            data.get("max-file-size", DEFAULT_MAX_FILE_SIZE), f"{path}: max-file-size"
        ),
        detectors=[_detector(item, path) for item in _tables(data, "detectors", path)],
        ignore=[_ignore(item, path) for item in _tables(data, "ignore", path)],
    )


def parse_size(value: object, what: str) -> int:
    """Parse a byte size: an integer or a string such as `512 KiB` or `2MB`."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", value)
        if match and match.group(2).lower() in _SIZE_UNITS and int(match.group(1)) > 0:
            return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    raise ConfigError(f"{what}: invalid size {value!r}; use bytes or a value like '2 MiB'")


def _strings(data: dict[str, Any], key: str, path: Path) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of strings")
    return value


def _tables(data: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{path}: {key} must be an array of tables ([[{key}]])")
    return value


def _regex(pattern: str, path: Path, key: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{path}: {key}: invalid regular expression {pattern!r}: {exc}") from exc


def _detector(item: dict[str, Any], path: Path) -> CustomDetector:
    where = f"{path}: detectors"
    unknown = set(item) - {"id", "title", "regex", "keywords", "severity", "secret-group"}
    if unknown:
        logger.warning("%s: unknown keys %s ignored", where, ", ".join(sorted(unknown)))
    if not isinstance(item.get("id"), str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", item["id"]):
        raise ConfigError(f"{where}: each detector needs an id of lowercase letters, digits, '-'")
    if not isinstance(item.get("regex"), str):
        raise ConfigError(f"{where}: detector {item['id']!r} needs a regex string")
    if not item["regex"]:
        raise ConfigError(
            f"{where}: detector {item['id']!r} has an empty regex, which matches everywhere",
            hint="give the regex that matches the secret",
        )
    regex = _regex(item["regex"], path, f"detectors.{item['id']}.regex")
    from keyless.regex_check import nested_repeat

    nested = nested_repeat(item["regex"])
    if nested is not None:
        raise ConfigError(
            f"{where}: detector {item['id']!r} regex {item['regex']!r} can take exponential "
            f"time on some lines: it has {nested}",
            hint="match each character one way, for example `a+` instead of `(a+)+`, "
            "or make a part of the repeated group required",
        )
    keywords = item.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise ConfigError(f"{where}: {item['id']}.keywords must be a list of non-empty strings")
    try:
        severity = Severity(item.get("severity", "high"))
    except ValueError as exc:
        raise ConfigError(
            f"{where}: {item['id']}.severity must be one of {', '.join(s.value for s in Severity)}"
        ) from exc
    group = item.get("secret-group", 1 if regex.groups else 0)
    if isinstance(group, str) and group in regex.groupindex:
        group = regex.groupindex[group]
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group <= regex.groups:
        raise ConfigError(
            f"{where}: {item['id']}.secret-group {group!r} is not a group of the regex",
            hint=f"use a group number from 0 to {regex.groups} or a (?P<name>...) group's name",
        )
    return CustomDetector(
        id=item["id"],
        title=str(item.get("title", item["id"])),
        regex=regex,
        keywords=tuple(k.lower() for k in keywords),
        severity=severity,
        secret_group=group,
    )


def _ignore(item: dict[str, Any], path: Path) -> Ignore:
    unknown = set(item) - {"rule", "path", "line"}
    if unknown:
        logger.warning(
            "%s: ignore: unknown keys %s ignored; known keys: line, path, rule",
            path,
            ", ".join(sorted(unknown)),
        )
    rule, glob, line = item.get("rule"), item.get("path"), item.get("line")
    if not isinstance(rule, str) or not isinstance(glob, str):
        raise ConfigError(f"{path}: each [[ignore]] entry needs rule and path strings")
    if line is not None and (not isinstance(line, int) or line < 1):
        raise ConfigError(f"{path}: ignore line must be a positive integer")
    return Ignore(rule=rule, path=glob, line=line)
