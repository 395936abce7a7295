"""Baselines: the known findings a team has accepted, stored as hashes only.

A keyless baseline lists (rule id, path, SHA-256 of the secret or the audit key) in a
stable order with a schema version and no line numbers or timestamps, so edits and
merges do not change it. detect-secrets' `.secrets.baseline` files are read too; they
store, per file, the SHA-1 of the value each detect-secrets plugin captured, which for
many plugins is a regex group rather than the whole secret (`ghp` for a GitHub token,
the header for a private key). A finding matches when the SHA-1 of its secret, or of a
value detect-secrets' own plugins capture on the finding's line, is listed for its path.

Version 1 has an optional `kind`, the findings it lists: "secrets" from `keyless scan`
or "audit" from `keyless audit`. Files written before it existed have none, and are
read as before. A baseline of the other kind cannot match any finding, so reading one
logs a warning, and updating one is an error rather than a mix of both kinds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from keyless.errors import ConfigError
from keyless.findings import Finding, escape_undecodable
from keyless.logs import logger

SCHEMA_VERSION = 1


@dataclass
class Baseline:
    """Accepted findings, by keyless identity and by detect-secrets' (path, SHA-1)."""

    entries: set[tuple[str, str, str]] = field(default_factory=set)
    sha1_by_path: set[tuple[str, str]] = field(default_factory=set)
    # "secrets" or "audit"; None for a keyless baseline written before kinds were recorded.
    kind: str | None = None

    # Paths with detect-secrets entries.
    detect_secrets_paths: set[str] = field(default_factory=set)

    def contains(
        self, finding: Finding, line: Callable[[Finding], str | None] | None = None
    ) -> bool:
        """Return whether `finding` was accepted in this baseline.

        `line` returns the text of the finding's line, which detect-secrets entries need.
        """
        path = escape_undecodable(finding.path)
        if (finding.rule_id, path, finding.key) in self.entries:
            return True
        if path not in self.detect_secrets_paths:
            return False
        if finding.secret is not None and (path, finding.secret.sha1()) in self.sha1_by_path:
            return True
        text = line(finding) if line is not None else None
        if text is None:
            return False
        return any(
            (path, digest) in self.sha1_by_path
            for digest in detect_secrets_hashes(path, text, finding.location.line)
        )


_PLUGINS: list[object] = []


def detect_secrets_hashes(path: str, line: str, line_number: int) -> set[str]:
    """Return the SHA-1s detect-secrets' plugins store for the secrets they find on `line`."""
    if not _PLUGINS:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        classes: dict[str, type] = get_mapping_from_secret_type_to_class()
        _PLUGINS.extend(cls() for cls in classes.values())
    digests: set[str] = set()
    for plugin in _PLUGINS:
        try:
            found = plugin.analyze_line(  # type: ignore[attr-defined]
                filename=path, line=line, line_number=line_number
            )
        except Exception as exc:  # a plugin failing must not end the scan
            logger.debug("detect-secrets %s failed on %s: %s", type(plugin).__name__, path, exc)
            continue
        digests.update(secret.secret_hash for secret in found)
    return digests


def load(path: Path, kind: str | None = None) -> Baseline:
    """Read a keyless or detect-secrets baseline; a missing file is an error.

    With `kind`, log a warning when the baseline records findings of another kind.
    """
    baseline = _read(path)
    if kind is not None and baseline.kind is not None and baseline.kind != kind:
        logger.warning(
            "%s: this is a baseline of %s findings, so none of its entries can match "
            "the %s findings of this run. Give `keyless %s` its own baseline file.",
            path,
            baseline.kind,
            kind,
            _COMMANDS.get(kind, kind),
        )
    return baseline


# The command that writes each kind of baseline.
_COMMANDS = {"secrets": "scan", "audit": "audit"}


def _read(path: Path) -> Baseline:
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
    kind = data.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise ConfigError(f"{path}: baseline kind must be a string, not {kind!r}")
    baseline.kind = kind
    return baseline


def _from_detect_secrets(data: dict[str, object], path: Path) -> Baseline:
    results = data["results"]
    if not isinstance(results, dict):
        raise ConfigError(f"{path}: detect-secrets baseline has no results object")
    baseline = Baseline(kind="secrets")
    for filename, secrets in results.items():
        if not isinstance(secrets, list):
            raise ConfigError(f"{path}: results for {filename!r} must be a list")
        for secret in secrets:
            if isinstance(secret, dict) and isinstance(secret.get("hashed_secret"), str):
                baseline.sha1_by_path.add((filename, secret["hashed_secret"]))
                baseline.detect_secrets_paths.add(filename)
    return baseline


def drop_known(
    path: Path,
    findings: list[Finding],
    *,
    kind: str,
    line: Callable[[Finding], str | None] | None = None,
    variants: Callable[[Finding], list[Finding]] | None = None,
) -> tuple[list[Finding], int]:
    """Return the findings the baseline at `path` does not accept, and how many it did.

    `line` gives a finding's line for detect-secrets entries. `variants` gives the
    copies of a finding to look up, such as a history finding once per path it was
    seen at. The finding is accepted when any copy is.
    """
    accepted = load(path, kind=kind)
    kept = []
    for finding in findings:
        candidates = variants(finding) if variants is not None else [finding]
        if not any(accepted.contains(candidate, line) for candidate in candidates):
            kept.append(finding)
    return kept, len(findings) - len(kept)


def write(
    path: Path,
    findings: Iterable[Finding],
    *,
    keep_paths_outside: set[str] | None,
    kind: str | None = None,
    partial: bool = False,
    active_rules: set[str] | None = None,
    exists: Callable[[str], bool] | None = None,
) -> int:
    """Write the baseline for `findings` and return how many entries it holds.

    With `keep_paths_outside`, entries of an existing keyless baseline whose paths are
    not in that set are kept, so a scan of a few files does not forget the others.
    `kind` ("secrets" or "audit") is recorded in the file. Raises ConfigError when the
    existing baseline records another kind, instead of mixing the two, and when a
    `partial` scan would replace a detect-secrets baseline that lists files it did not
    scan: those entries cannot be turned into keyless ones without scanning the files.

    With `active_rules`, entries of other rules (disabled in this run) are kept even
    for scanned paths. With `exists`, kept entries whose file is gone are dropped.
    """
    entries = {(f.rule_id, escape_undecodable(f.path), f.key) for f in findings}
    if path.exists() and (keep_paths_outside is not None or kind is not None):
        previous = _read(path)
        if kind is not None and previous.kind is not None and previous.kind != kind:
            raise ConfigError(
                f"{path}: is a baseline of {previous.kind} findings, so keyless does not "
                f"replace it with {kind} findings",
                hint=f"give `keyless {_COMMANDS.get(kind, kind)}` its own baseline file",
            )
        if keep_paths_outside is not None:
            keep = {escape_undecodable(p) for p in keep_paths_outside}
            entries |= {
                e
                for e in previous.entries
                if (e[1] not in keep or (active_rules and e[0] not in active_rules))
                and (exists is None or exists(e[1]))
            }
            unscanned = sorted(previous.detect_secrets_paths - keep)
            if partial and unscanned:
                shown = ", ".join(unscanned[:5]) + (", ..." if len(unscanned) > 5 else "")
                raise ConfigError(
                    f"{path}: is a detect-secrets baseline that lists {len(unscanned)} "
                    f"file(s) this scan did not read ({shown}), and updating it would "
                    "drop their accepted secrets",
                    hint="run --update-baseline on a scan of the whole repository, or "
                    "write to a new file with --baseline NEW.json --update-baseline",
                )
    document: dict[str, object] = {
        "version": SCHEMA_VERSION,
        "generator": "keyless",
    }
    if kind is not None:
        document["kind"] = kind
    document |= {
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
