"""Baselines: the known findings a team has accepted, stored as hashes only.

A keyless baseline lists (rule id, path, SHA-256 of the secret or the audit key) in a
stable order with a schema version and no line numbers or timestamps, so edits and
merges do not change it. detect-secrets' `.secrets.baseline` files are read too; they
store a SHA-1 of each secret per file, which is matched whatever the rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from keyless.errors import ConfigError
from keyless.findings import Finding

SCHEMA_VERSION = 1


@dataclass
class Baseline:
    """Accepted findings, by keyless identity and by detect-secrets' (path, SHA-1)."""

    entries: set[tuple[str, str, str]] = field(default_factory=set)
    sha1_by_path: set[tuple[str, str]] = field(default_factory=set)

    def contains(self, finding: Finding) -> bool:
        """Return whether `finding` was accepted in this baseline."""
        if (finding.rule_id, finding.path, finding.key) in self.entries:
            return True
        if finding.secret is not None and self.sha1_by_path:
            return (finding.path, finding.secret.sha1()) in self.sha1_by_path
        return False


def load(path: Path) -> Baseline:
    """Read a keyless or detect-secrets baseline; a missing file is an error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: baseline not found", hint="create it with --update-baseline"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: baseline is not valid JSON (line {exc.lineno}): {exc.msg}",
            hint="restore it from version control or recreate it with --update-baseline",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: baseline must be a JSON object")
    if "results" in data and "plugins_used" in data:
        return _from_detect_secrets(data, path)
    return _from_keyless(data, path)


def _from_keyless(data: dict[str, object], path: Path) -> Baseline:
    version = data.get("version")
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: unsupported baseline version {version!r}; "
            f"this keyless reads version {SCHEMA_VERSION}",
            hint="upgrade keyless, or recreate the baseline with --update-baseline",
        )
    entries = data.get("findings")
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: baseline has no findings list")
    baseline = Baseline()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("rule_id", "path", "hash")
        ):
            raise ConfigError(
                f"{path}: baseline entry {index} needs rule_id, path and hash strings"
            )
        baseline.entries.add((entry["rule_id"], entry["path"], entry["hash"]))
    return baseline


def _from_detect_secrets(data: dict[str, object], path: Path) -> Baseline:
    results = data["results"]
    if not isinstance(results, dict):
        raise ConfigError(f"{path}: detect-secrets baseline has no results object")
    baseline = Baseline()
    for filename, secrets in results.items():
        if not isinstance(secrets, list):
            raise ConfigError(f"{path}: results for {filename!r} must be a list")
        for secret in secrets:
            if isinstance(secret, dict) and isinstance(secret.get("hashed_secret"), str):
                baseline.sha1_by_path.add((filename, secret["hashed_secret"]))
    return baseline


def write(path: Path, findings: Iterable[Finding], *, keep_paths_outside: set[str] | None) -> int:
    """Write the baseline for `findings` and return how many entries it holds.

    With `keep_paths_outside`, entries of an existing keyless baseline whose paths are
    not in that set are kept, so a scan of a few files does not forget the others.
    """
    entries = {(f.rule_id, f.path, f.key) for f in findings}
    if keep_paths_outside is not None and path.exists():
        previous = load(path)
        entries |= {e for e in previous.entries if e[1] not in keep_paths_outside}
    document = {
        "version": SCHEMA_VERSION,
        "generator": "keyless",
        "findings": [
            {"rule_id": rule_id, "path": file_path, "hash": key}
            for rule_id, file_path, key in sorted(entries, key=lambda e: (e[1], e[0], e[2]))
        ],
    }
    try:
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline: {exc.strerror}") from exc
    return len(entries)
