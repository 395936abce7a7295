"""Run a GitLab CI/CD component's job locally, the way a shell-executor runner would.

`load_component` reads a component file (a `spec:` document, then the jobs), checks
the given inputs against `spec: inputs:` (unknown names, missing required inputs,
`type: boolean` and `options:`), and replaces every `$[[ inputs.NAME ]]` in the
parsed jobs, keys included. Interpolation functions (`| expand_vars` and the like)
are not supported and raise.

`run_job` runs one job: `before_script` and `script` in one bash session with
`set -eo pipefail`, then `after_script` in a new session that runs whatever the
outcome and whose failure does not change the job's result, as GitLab does. The
environment has GitLab's predefined variables for the given commit, the job's
`variables:`, and one variable per `id_tokens:` entry, minted by a callback with
the requested audience.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w\-]+)\s*\]\]")
_ANY_INTERPOLATION = re.compile(r"\$\[\[(.*?)\]\]")


class ComponentError(Exception):
    """The inputs do not fit the component's spec, or it uses unsupported syntax."""


@dataclass
class Component:
    """A component's declared inputs and its jobs after interpolation."""

    spec: dict[str, Any]
    jobs: dict[str, Any]


@dataclass
class JobResult:
    """The outcome of one job."""

    returncode: int
    output: str
    after_returncode: int
    after_output: str
    environment: dict[str, str]


def _input_value(name: str, spec: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    if name in given:
        value = given[name]
    elif "default" in spec:
        value = spec["default"]
    else:
        raise ComponentError(f"input {name!r} is required and was not given")
    kind = spec.get("type", "string")
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ComponentError(f"input {name!r} must be a boolean, not {value!r}")
        return "true" if value else "false"
    if kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ComponentError(f"input {name!r} must be a number, not {value!r}")
        return str(value)
    if not isinstance(value, str):
        raise ComponentError(f"input {name!r} must be a string, not {value!r}")
    options = spec.get("options")
    if options is not None and value not in options:
        raise ComponentError(f"input {name!r} must be one of {options}, not {value!r}")
    return value


def load_component(path: Path, inputs: Mapping[str, Any]) -> Component:
    """Read the component at `path` and interpolate `inputs` into its jobs."""
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    if len(documents) != 2 or "spec" not in (documents[0] or {}):
        raise ComponentError(f"{path}: expected a spec document, then `---`, then the jobs")
    declared: dict[str, Any] = documents[0]["spec"].get("inputs") or {}
    unknown = set(inputs) - set(declared)
    if unknown:
        raise ComponentError(f"unknown inputs: {sorted(unknown)}")
    values = {name: _input_value(name, spec or {}, inputs) for name, spec in declared.items()}

    def interpolate(node: Any) -> Any:
        if isinstance(node, str):
            for match in _ANY_INTERPOLATION.finditer(node):
                if not _INPUT.fullmatch(match.group(0)):
                    raise ComponentError(f"unsupported interpolation {match.group(0)!r}")
            return _INPUT.sub(lambda match: values[match.group(1)], node)
        if isinstance(node, list):
            return [interpolate(item) for item in node]
        if isinstance(node, dict):
            return {interpolate(key): interpolate(value) for key, value in node.items()}
        return node

    return Component(spec=documents[0]["spec"], jobs=interpolate(documents[1]))


def _lines(section: Any) -> list[str]:
    if section is None:
        return []
    if isinstance(section, str):
        return [section]
    return [str(line) for line in section]


def predefined_variables(project_dir: Path, commit: str, **extra: str) -> dict[str, str]:
    """Return GitLab's predefined variables for a push pipeline of `commit`."""
    variables = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_SERVER_URL": "https://gitlab.example.com",
        "CI_SERVER_FQDN": "gitlab.example.com",
        "CI_PROJECT_DIR": str(project_dir),
        "CI_BUILDS_DIR": str(project_dir.parent),
        "CI_PROJECT_PATH": "octo-group/octo-project",
        "CI_PROJECT_ID": "4242",
        "CI_PIPELINE_ID": "1001",
        "CI_PIPELINE_SOURCE": "push",
        "CI_JOB_ID": "5005",
        "CI_COMMIT_SHA": commit,
        "CI_COMMIT_BEFORE_SHA": "0" * 40,
        "CI_COMMIT_REF_NAME": "main",
        "CI_DEFAULT_BRANCH": "main",
    }
    variables.update(extra)
    return variables


def run_job(
    job: Mapping[str, Any],
    project_dir: Path,
    variables: Mapping[str, str],
    *,
    mint_id_token: Callable[[str], str] | None = None,
    extra_script: list[str] | None = None,
    path_prefix: str | None = None,
    timeout: float = 300,
) -> JobResult:
    """Run `job` in `project_dir` with GitLab's `variables` and return what happened."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(project_dir)),
        "LANG": "C.UTF-8",
        "TMPDIR": str(project_dir.parent / "tmp"),
    }
    Path(env["TMPDIR"]).mkdir(exist_ok=True)
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    env.update(variables)
    for name, value in (job.get("variables") or {}).items():
        env[str(name)] = str(value)
    for name, settings in (job.get("id_tokens") or {}).items():
        if mint_id_token is None:
            raise ComponentError(f"job requests the ID token {name} but nothing mints tokens")
        env[str(name)] = mint_id_token(str(settings["aud"]))

    main = [*_lines(job.get("before_script")), *_lines(job.get("script")), *(extra_script or [])]
    first = _bash(main, project_dir, env, timeout)
    after = _bash(_lines(job.get("after_script")), project_dir, env, timeout)
    return JobResult(
        returncode=first.returncode,
        output=first.stdout,
        after_returncode=after.returncode,
        after_output=after.stdout,
        environment=env,
    )


def _bash(
    lines: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
