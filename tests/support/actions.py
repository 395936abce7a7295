"""Run a composite GitHub Action's steps locally, the way the runner would.

`ActionRunner` reads action.yml and runs each `run:` step in order with bash, after
substituting the `${{ ... }}` expressions the action uses. Between steps it does
what the runner does with the environment files: a fresh `GITHUB_OUTPUT`,
`GITHUB_ENV` and `GITHUB_PATH` per step, whose contents become
`steps.<id>.outputs`, the environment of later steps and their PATH. It sets the
runner's variables (`GITHUB_ACTIONS`, `GITHUB_WORKSPACE`, `RUNNER_TEMP`,
`RUNNER_TOOL_CACHE`, `GITHUB_ACTION_PATH`, `GITHUB_EVENT_PATH`, ...) and collects
`::add-mask::` commands from stdout and stderr.

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
import time
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
    seconds: float = 0.0


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
class Job:
    """One simulated job: what its steps share (RUNNER_TEMP, GITHUB_ENV, PATH, masks)."""

    folder: Path
    temp: Path
    summary_path: Path
    base_env: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    path_entries: list[str] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)
    steps_run: int = 0


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

    def new_job(self) -> Job:
        """Start a job: its own RUNNER_TEMP, event file, summary and environment files."""
        folder = self.runner_root / f"job-{uuid.uuid4().hex[:8]}"
        temp = folder / "temp"
        temp.mkdir(parents=True)
        event_path = folder / "event.json"
        event_path.write_text(json.dumps(self.event))
        summary_path = folder / "summary.md"
        summary_path.touch()
        base_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(folder)),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(summary_path),
            "RUNNER_TEMP": str(temp),
            "RUNNER_TOOL_CACHE": str(self.tool_cache),
            "RUNNER_OS": "Linux",
            **self.extra_env,
        }
        return Job(folder=folder, temp=temp, summary_path=summary_path, base_env=base_env)

    def run(self, inputs: dict[str, str] | None = None, job: Job | None = None) -> ActionRun:
        """Run the action's steps in `job` (a new one by default), stopping after a failure."""
        job = job or self.new_job()
        context: dict[str, Any] = {
            "inputs": self._inputs(inputs or {}),
            "steps": {},
            "github": {
                "workspace": str(self.workspace),
                "action_path": str(self.action_dir),
                "event_name": self.event_name,
                "event": self.event,
            },
            "runner": {"temp": str(job.temp), "tool_cache": str(self.tool_cache)},
            "env": {},
        }
        results: list[StepResult] = []
        failed = False
        for index, step in enumerate(self.definition["runs"]["steps"]):
            step_id = step.get("id")
            name = step.get("name", f"step {index + 1}")
            context["env"] = {**self.extra_env, **job.env}
            if not self._condition(step.get("if"), context, failed):
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
            if step.get("shell") != "bash":
                raise UnsupportedExpression(f"step {name!r}: only `shell: bash` is simulated")
            step_env = {
                key: self._substitute(str(value), context)
                for key, value in (step.get("env") or {}).items()
            }
            step_env["GITHUB_ACTION_PATH"] = str(self.action_dir)
            workdir = step.get("working-directory")
            result = self._run_script(
                job,
                self._substitute(step["run"], context),
                step_env,
                Path(self._substitute(workdir, context)) if workdir else self.workspace,
                step_id,
                name,
            )
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
            env=dict(job.env),
            path_entries=list(job.path_entries),
            masks=list(job.masks),
            summary=job.summary_path.read_text(),
        )

    def run_step(self, job: Job, script: str, env: dict[str, str] | None = None) -> StepResult:
        """Run a workflow's own `run:` step in `job`, after or between uses of the action."""
        return self._run_script(job, script, env or {}, self.workspace, None, "run")

    def _inputs(self, given: dict[str, str]) -> dict[str, str]:
        declared = self.definition.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise KeyError(f"inputs not declared in action.yml: {sorted(unknown)}")
        values = {name: str(spec.get("default", "")) for name, spec in declared.items()}
        values.update(given)
        return values

    def _run_script(
        self,
        job: Job,
        script: str,
        step_env: dict[str, str],
        cwd: Path,
        step_id: str | None,
        name: str,
    ) -> StepResult:
        job.steps_run += 1
        files = {
            kind: job.folder / f"{kind.lower()}-{job.steps_run}"
            for kind in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")
        }
        for path in files.values():
            path.touch()
        env = dict(job.base_env)
        env.update(job.env)
        if job.path_entries:
            env["PATH"] = os.pathsep.join([*reversed(job.path_entries), job.base_env["PATH"]])
        env.update(step_env)
        env.update({kind: str(path) for kind, path in files.items()})
        script_path = job.folder / f"step-{job.steps_run}.sh"
        script_path.write_text(script)

        started = time.perf_counter()
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_path)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        seconds = time.perf_counter() - started

        job.env.update(parse_env_file(files["GITHUB_ENV"].read_text()))
        for line in files["GITHUB_PATH"].read_text().splitlines():
            if line.strip():
                job.path_entries.append(line.strip())
        # The runner reads workflow commands on stdout and stderr alike (actions/runner,
        # src/Runner.Worker/Handlers/ScriptHandler.cs gives each stream an OutputManager).
        job.masks.extend(self._masks(proc.stdout))
        job.masks.extend(self._masks(proc.stderr))
        return StepResult(
            step_id,
            name,
            ran=True,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            outputs=parse_env_file(files["GITHUB_OUTPUT"].read_text()),
            seconds=seconds,
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
