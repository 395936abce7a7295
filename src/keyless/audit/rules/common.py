"""Helpers the GitHub rules share: jobs of a file, secret-bearing env, checkout steps."""

from __future__ import annotations

from collections.abc import Iterator

from keyless.audit.github import CompositeAction, Job, Step, Workflow, references_secrets
from keyless.audit.nodes import Scalar, walk_scalars


def jobs_of(target: Workflow | CompositeAction) -> Iterator[Job]:
    """Yield the jobs of a workflow, or the composite action's steps as one job."""
    if isinstance(target, Workflow):
        yield from target.jobs
    elif target.job is not None:
        yield target.job


def secret_env(step: Step) -> dict[str, Scalar]:
    """Return the env variables visible to the step whose values read `secrets`."""
    return {
        name: value
        for name, value in step.effective_env().items()
        if references_secrets(value.value)
    }


def step_uses_secrets(step: Step) -> bool:
    """Return whether the step reads a secret in its inputs, script or env."""
    if secret_env(step):
        return True
    return any(references_secrets(scalar.value) for scalar in walk_scalars(step.node))


def job_uses_secrets(job: Job) -> bool:
    """Return whether any step, the job env or the job's reusable call reads secrets."""
    if job.kind == "workflow":
        for key in ("env", "secrets", "container", "services", "with"):
            node = job.node.get(key)
            if node is not None and any(references_secrets(s.value) for s in walk_scalars(node)):
                return True
        if job.node.text("secrets") == "inherit":
            return True
    if job.workflow_env is not None and any(
        references_secrets(s.value) for s in walk_scalars(job.workflow_env)
    ):
        return True
    return any(step_uses_secrets(step) for step in job.steps)


def checkout_steps(job: Job) -> Iterator[Step]:
    """Yield the job's `actions/checkout` steps."""
    for step in job.steps:
        if step.uses_action("actions/checkout"):
            yield step
