"""Run a composite GitHub Action's steps locally, the way the runner would.

`ActionRunner` reads action.yml and runs each `run:` step in order with bash, after
substituting the `${{ ... }}` expressions the action uses. Between steps it does
what the runner does with the environment files: a fresh `GITHUB_OUTPUT`,
`GITHUB_ENV` and `GITHUB_PATH` per step, whose contents become
`steps.<id>.outputs`, the environment of later steps and their PATH. It sets the
runner's variables (`GITHUB_ACTIONS`, `GITHUB_WORKSPACE`, `RUNNER_TEMP`,
`RUNNER_TOOL_CACHE`, `GITHUB_ACTION_PATH`, `GITHUB_EVENT_PATH`, ...) and collects
`::add-mask::` commands from stdout.

`uses:` steps (such as actions/cache) are recorded but not run: the tool cache
folder persists between runs of one `ActionRunner`, which is what a cache hit
restores on a real runner.

Only the expression forms this project's action uses are supported: context
lookups (`inputs.x`, `steps.id.outputs.x`, `github.event.a.b`, `github.workspace`,
`runner.temp`, `env.X`), `LOOKUP || LOOKUP` and, in `if:`, `always()` and
`LOOKUP == 'literal'`.
Anything else raises, so a new expression in action.yml fails loudly here instead
of being evaluated wrongly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_COMPARISON = re.compile(r"^([\w.\-]+)\s*(==|!=)\s*'([^']*)'$")
_MASK_PREFIX = "::add-mask::"


class UnsupportedExpression(Exception):
    """action.yml uses an expression the harness does not evaluate."""


@dataclass
class StepResult:
    """One step as the harness ran it (or skipped it)."""

    id: str | None
    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    """The outcome of one run of the action."""

    steps: list[StepResult]
    outputs: dict[str, str]
    env: dict[str, str]
    path_entries: list[str]
    masks: list[str]
    summary: str

    @property
    def returncode(self) -> int:
        """Return the exit code of the first failed step, or 0."""
        for step in self.steps:
            if step.ran and step.returncode != 0:
                return step.returncode
        return 0

    @property
    def stdout(self) -> str:
        return "".join(step.stdout for step in self.steps)

    @property
    def stderr(self) -> str:
        return "".join(step.stderr for step in self.steps)

    def step(self, step_id: str) -> StepResult:
        """Return the step with id `step_id`."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def parse_env_file(text: str) -> dict[str, str]:
    """Parse a GITHUB_ENV or GITHUB_OUTPUT file: `NAME=value` and `NAME<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            collected: list[str] = []
            while index < len(lines) and lines[index] != delimiter:
                collected.append(lines[index])
                index += 1
            if index >= len(lines):
                raise ValueError(f"{name}: heredoc delimiter {delimiter!r} never closed")
            index += 1
            values[name] = "\n".join(collected)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


def unescape_command_data(value: str) -> str:
    """Undo the escaping of a workflow command's message (%25, %0D, %0A)."""
    return value.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


@dataclass
class ActionRunner:
    """Runs the composite action in `action_dir` with a simulated runner environment."""

    action_dir: Path
    workspace: Path
    runner_root: Path
    event_name: str = "push"
    event: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    timeout: float = 600

    def __post_init__(self) -> None:
        self.definition = yaml.safe_load((self.action_dir / "action.yml").read_text())
        self.tool_cache = self.runner_root / "tool-cache"
        self.tool_cache.mkdir(parents=True, exist_ok=True)

    def run(self, inputs: dict[str, str] | None = None) -> ActionRun:
        """Run every step once, stopping after a failed step as the runner does."""
        job = self.runner_root / f"job-{uuid.uuid4().hex[:8]}"
        temp = job / "temp"
        temp.mkdir(parents=True)
        event_path = job / "event.json"
        event_path.write_text(json.dumps(self.event))
        summary_path = job / "summary.md"
        summary_path.touch()

        context = {
            "inputs": self._inputs(inputs or {}),
            "steps": {},
            "github": {
                "workspace": str(self.workspace),
                "action_path": str(self.action_dir),
                "event_name": self.event_name,
                "event": self.event,
            },
            "runner": {"temp": str(temp), "tool_cache": str(self.tool_cache)},
            "env": {},
        }
        base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(job)),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_ACTION_PATH": str(self.action_dir),
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(summary_path),
            "RUNNER_TEMP": str(temp),
            "RUNNER_TOOL_CACHE": str(self.tool_cache),
            "RUNNER_OS": "Linux",
            **self.extra_env,
        }
        job_env: dict[str, str] = {}
        path_entries: list[str] = []
        masks: list[str] = []
        results: list[StepResult] = []
        failed = False

        for index, step in enumerate(self.definition["runs"]["steps"]):
            step_id = step.get("id")
            name = step.get("name", f"step {index + 1}")
            condition = step.get("if")
            context["env"] = {**self.extra_env, **job_env}
            if not self._condition(condition, context, failed):
                results.append(StepResult(step_id, name, ran=False, uses=step.get("uses")))
                continue
            if "uses" in step:
                with_values = {
                    key: self._substitute(str(value), context)
                    for key, value in (step.get("with") or {}).items()
                }
                results.append(
                    StepResult(step_id, name, ran=False, uses=step["uses"], with_=with_values)
                )
                continue
            result = self._run_step(
                step, step_id, name, context, base_env, job_env, path_entries, job, index
            )
            masks.extend(self._masks(result.stdout))
            results.append(result)
            if step_id:
                context["steps"][step_id] = {"outputs": result.outputs}
            if result.returncode != 0:
                failed = True

        outputs = {
            name: self._substitute(str(spec.get("value", "")), context)
            for name, spec in (self.definition.get("outputs") or {}).items()
        }
        return ActionRun(
            steps=results,
            outputs=outputs,
            env=job_env,
            path_entries=path_entries,
            masks=masks,
            summary=summary_path.read_text(),
        )

    def _inputs(self, given: dict[str, str]) -> dict[str, str]:
        declared = self.definition.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise KeyError(f"inputs not declared in action.yml: {sorted(unknown)}")
        values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
        values.update(given)
        return values

    def _run_step(
        self,
        step: dict[str, Any],
        step_id: str | None,
        name: str,
        context: dict[str, Any],
        base_env: dict[str, str],
        job_env: dict[str, str],
        path_entries: list[str],
        job: Path,
        index: int,
    ) -> StepResult:
        if step.get("shell") != "bash":
            raise UnsupportedExpression(f"step {name!r}: only `shell: bash` is simulated")
        files = {
            kind: job / f"{kind.lower()}-{index}"
            for kind in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")
        }
        for path in files.values():
            path.touch()
        env = dict(base_env)
        env.update(job_env)
        if path_entries:
            env["PATH"] = os.pathsep.join([*reversed(path_entries), base_env["PATH"]])
        for key, value in (step.get("env") or {}).items():
            env[key] = self._substitute(str(value), context)
        env.update({kind: str(path) for kind, path in files.items()})
        script = job / f"step-{index}.sh"
        script.write_text(self._substitute(step["run"], context))
        workdir = step.get("working-directory")
        cwd = Path(self._substitute(workdir, context)) if workdir else self.workspace

        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )

        job_env.update(parse_env_file(files["GITHUB_ENV"].read_text()))
        for line in files["GITHUB_PATH"].read_text().splitlines():
            if line.strip():
                path_entries.append(line.strip())
        return StepResult(
            step_id,
            name,
            ran=True,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            outputs=parse_env_file(files["GITHUB_OUTPUT"].read_text()),
        )

    def _masks(self, stdout: str) -> list[str]:
        return [
            unescape_command_data(line[len(_MASK_PREFIX) :])
            for line in stdout.splitlines()
            if line.startswith(_MASK_PREFIX)
        ]

    def _condition(self, condition: object, context: dict[str, Any], failed: bool) -> bool:
        if condition is None:
            return not failed
        text = str(condition).strip()
        match = _EXPRESSION.fullmatch(text)
        if match:
            text = match.group(1)
        if text == "always()":
            return True
        comparison = _COMPARISON.match(text)
        if comparison is None:
            raise UnsupportedExpression(f"if: {condition!r}")
        left = self._lookup(comparison.group(1), context)
        equal = left == comparison.group(3)
        return (equal if comparison.group(2) == "==" else not equal) and not failed

    def _substitute(self, text: str, context: dict[str, Any]) -> str:
        return _EXPRESSION.sub(lambda match: self._evaluate(match.group(1), context), text)

    def _evaluate(self, expression: str, context: dict[str, Any]) -> str:
        """Evaluate `a || b || ...`: the first lookup that is not empty, as in Actions."""
        value = ""
        for part in expression.split("||"):
            value = self._lookup(part.strip(), context)
            if value:
                return value
        return value

    def _lookup(self, expression: str, context: dict[str, Any]) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w\-]*(\.[\w\-]+)*", expression):
            raise UnsupportedExpression(expression)
        value: Any = context
        for part in expression.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            else:
                return ""
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)
