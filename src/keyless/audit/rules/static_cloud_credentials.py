"""static-cloud-credentials: long-lived cloud keys where an OIDC exchange would do."""

from __future__ import annotations

import re

from keyless.audit.github import CompositeAction, Job, Step, Workflow
from keyless.audit.gitlab import Job as GitLabJob
from keyless.audit.gitlab import Pipeline, variable_value
from keyless.audit.nodes import Mapping, Node, Scalar
from keyless.audit.rules.base import AuditRule, Context, fragment_span
from keyless.audit.rules.common import jobs_of
from keyless.audit.shell import script_lines
from keyless.findings import Confidence, Rule, Severity

RULE = Rule(
    "static-cloud-credentials",
    "Long-lived cloud credentials where OIDC would do",
    Severity.HIGH,
    Confidence.HIGH,
    "The pipeline signs in to AWS, Google Cloud or Azure with a stored key or client "
    "secret. Such keys do not expire, and anyone who reads them (a leaked log, a "
    "compromised step) can use them from anywhere. The CI's OIDC token can be exchanged "
    "for credentials that expire within the hour instead.",
    "Trust the CI's OIDC issuer in the cloud account and exchange the job's ID token for "
    "short-lived credentials; then delete the stored key.",
)

# Environment variables that carry a long-lived cloud secret, by provider.
ENV_PROVIDERS: dict[str, str] = {
    "AWS_SECRET_ACCESS_KEY": "aws",
    "GOOGLE_CREDENTIALS": "gcp",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON": "gcp",
    "GCP_SA_KEY": "gcp",
    "GCP_SERVICE_ACCOUNT_KEY": "gcp",
    "GCLOUD_SERVICE_KEY": "gcp",
    "GOOGLE_CLOUD_KEYFILE_JSON": "gcp",
    "AZURE_CLIENT_SECRET": "azure",
    "ARM_CLIENT_SECRET": "azure",
    "AZURE_CREDENTIALS": "azure",
}

# (action, inputs that hold a long-lived credential, provider)
ACTION_INPUTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "aws-actions/configure-aws-credentials",
        ("aws-secret-access-key", "aws-access-key-id"),
        "aws",
    ),
    ("google-github-actions/auth", ("credentials_json",), "gcp"),
    ("google-github-actions/setup-gcloud", ("service_account_key",), "gcp"),
    ("azure/login", ("creds", "client-secret"), "azure"),
)

# Cloud CLI sign-ins with a stored key or client secret, in any shell script.
_CLI_SIGN_IN = re.compile(
    r"aws\s+configure\s+set\s+aws_secret_access_key"
    r"|gcloud\s+auth\s+activate-service-account\b"
    r"|az\s+login\b[^\n]*--service-principal(?![^\n]*--federated-token)"
)
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")


class StaticCloudCredentials(AuditRule):
    """Find cloud sign-ins with stored keys and show the OIDC form of the same step."""

    rule = RULE

    def check_workflow(self, workflow: Workflow, context: Context) -> None:
        if workflow.env is not None:
            _check_env(workflow.env, "env", None, context)
        for job in workflow.jobs:
            self._check_job(job, context)

    def check_action(self, action: CompositeAction, context: Context) -> None:
        for job in jobs_of(action):
            self._check_job(job, context)

    def _check_job(self, job: Job, context: Context) -> None:
        if job.env is not None:
            _check_env(job.env, f"{job.describe}.env", job, context)
        for step in job.steps:
            reported = _check_action_step(step, context)
            if step.env is not None and not reported:
                _check_env(step.env, f"{step.describe}.env", job, context, step)
            if step.run is not None:
                _check_run(step, step.run, context)

    def check_pipeline(self, pipeline: Pipeline, context: Context) -> None:
        for mapping in pipeline.global_variables:
            _check_gitlab_variables(mapping, "variables", None, context)
        for job in pipeline.jobs:
            if job.variables is not None:
                _check_gitlab_variables(
                    job.variables, f"{job.describe}.variables", job.name, context
                )
            _check_gitlab_scripts(job, context)


def _check_action_step(step: Step, context: Context) -> bool:
    for action, inputs, provider in ACTION_INPUTS:
        if not step.uses_action(action):
            continue
        for name in inputs:
            key = step.input_key(name)
            value = step.input(name)
            if key is None or value is None or not value.value.strip():
                continue
            context.report(
                RULE,
                key,
                key=f"{step.describe}.with.{name}",
                message=f"{action} signs in with a stored {_what(provider)} ({name})",
                remediation=github_tip(provider, step.job, step),
                anchors=(step.node, step.job.anchor),
            )
            return True
    return False


def _check_run(step: Step, run: Scalar, context: Context) -> None:
    """Report cloud CLI sign-ins with a stored key in a `run:` script."""
    for part in script_lines(run):
        match = _CLI_SIGN_IN.search(part.code)
        if match is None:
            continue
        provider = _cli_provider(match.group(0))
        context.report(
            RULE,
            run,
            key=f"{step.describe}.run:{match.group(0)}",
            message=f"`{match.group(0)}` signs in with a stored {_what(provider)}",
            remediation=github_tip(provider, step.job, None),
            at=fragment_span(run, part.offset + match.start(), part.offset + match.end()),
            anchors=(step.node, step.job.anchor),
        )


def _cli_provider(command: str) -> str:
    return {"aws": "aws", "gcl": "gcp"}.get(command[:3], "azure")


def _check_env(
    env: Mapping, place: str, job: Job | None, context: Context, step: Step | None = None
) -> None:
    for key, value in env.entries:
        name = key.value
        provider = ENV_PROVIDERS.get(name.upper())
        if provider is None or not isinstance(value, Scalar) or not value.value.strip():
            continue
        anchors: list[Node] = [step.node] if step is not None else []
        if job is not None:
            anchors.append(job.anchor)
        context.report(
            RULE,
            key,
            key=f"{place}.{name}",
            message=f"{name} passes a stored {_what(provider)} to the job",
            remediation=github_tip(provider, job, None, region=_env_region(env, step, job)),
            anchors=anchors,
        )


def _env_region(env: Mapping, step: Step | None, job: Job | None) -> str | None:
    """Return the AWS region set next to the key (AWS_REGION or AWS_DEFAULT_REGION)."""
    candidates: list[Mapping | None] = [env]
    if step is not None:
        candidates.append(step.env)
    if job is not None:
        candidates.extend((job.env, job.workflow_env))
    for mapping in candidates:
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            value = mapping.scalar(name) if mapping is not None else None
            if value is not None and value.value.strip():
                return value.value.strip()
    return None


def _what(provider: str) -> str:
    return {
        "aws": "AWS access key",
        "gcp": "Google Cloud service account key",
        "azure": "Azure client secret",
    }[provider]


def _job_name(job: Job | None) -> str:
    if job is None:
        return "<every job that uses it>"
    if job.kind == "action":
        return "<the job that calls this action>"
    return job.id


def github_tip(
    provider: str, job: Job | None, step: Step | None, *, region: str | None = None
) -> str:
    """Return the OIDC replacement for a GitHub step or env entry, as YAML to paste."""
    permissions = (
        f"Give job `{_job_name(job)}` an ID token and use it in place of the stored key:\n"
        "  permissions:\n    id-token: write\n    contents: read\n"
    )
    ref = "<full-commit-sha>"
    if step is not None and step.action is not None and step.action.ref:
        ref = step.action.ref
    if provider == "aws":
        region_input = step.input("aws-region") if step is not None else None
        region_text = region_input.value if region_input is not None else region or "<region>"
        return (
            permissions + f"  - uses: aws-actions/configure-aws-credentials@{ref}\n"
            "    with:\n"
            "      role-to-assume: arn:aws:iam::<account-id>:role/<role-name>\n"
            f"      aws-region: {region_text}\n"
            "Remove aws-access-key-id and aws-secret-access-key, let the role trust "
            "token.actions.githubusercontent.com for this repository, and delete the key in IAM."
        )
    if provider == "gcp":
        return (
            permissions + f"  - uses: google-github-actions/auth@{ref}\n"
            "    with:\n"
            "      workload_identity_provider: projects/<project-number>/locations/global/"
            "workloadIdentityPools/<pool>/providers/<provider>\n"
            "      service_account: <name>@<project>.iam.gserviceaccount.com\n"
            "Remove credentials_json (or service_account_key), then delete the key in IAM."
        )
    return (
        permissions + f"  - uses: azure/login@{ref}\n"
        "    with:\n"
        "      client-id: ${{ vars.AZURE_CLIENT_ID }}\n"
        "      tenant-id: ${{ vars.AZURE_TENANT_ID }}\n"
        "      subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}\n"
        "Remove creds (and any client secret), add a federated credential for this "
        "repository to the app registration, then delete the client secret."
    )


def gitlab_tip(provider: str, job_name: str | None) -> str:
    """Return the `id_tokens:` form that replaces a stored cloud key in a GitLab job.

    `job_name` is None for global `variables:`, which every job gets.
    """
    if job_name is None:
        who = "each job that uses the key"
    elif job_name.startswith("."):
        who = f"template `{job_name}` (the jobs that extend it inherit the token)"
    else:
        who = f"job `{job_name}`"
    if provider == "aws":
        return (
            f"Give {who} an ID token and exchange it for a role session:\n"
            "  id_tokens:\n    AWS_ID_TOKEN:\n      aud: sts.amazonaws.com\n"
            "  script:\n"
            "    - >\n      export $(printf 'AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s "
            "AWS_SESSION_TOKEN=%s'\n      $(aws sts assume-role-with-web-identity --role-arn "
            '"$ROLE_ARN"\n      --role-session-name "gitlab-$CI_JOB_ID" --web-identity-token '
            '"$AWS_ID_TOKEN"\n      --query Credentials.[AccessKeyId,SecretAccessKey,'
            "SessionToken] --output text))\n"
            "(or `keyless aws`). Then delete the access key in IAM."
        )
    if provider == "gcp":
        return (
            f"Give {who} an ID token and use Workload Identity Federation:\n"
            "  id_tokens:\n    GCP_ID_TOKEN:\n      aud: https://iam.googleapis.com/projects/"
            "<project-number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>\n"
            "  script:\n"
            '    - echo "$GCP_ID_TOKEN" > .ci_job_jwt_file\n'
            "    - gcloud iam workload-identity-pools create-cred-config <provider-resource> "
            "--service-account=<sa-email> --credential-source-file=.ci_job_jwt_file "
            "--output-file=.gcp_temp_cred.json\n"
            "    - gcloud auth login --cred-file=.gcp_temp_cred.json\n"
            "(or `keyless gcp`). Then delete the service account key."
        )
    return (
        f"Give {who} an ID token and sign in with a federated credential:\n"
        "  id_tokens:\n    AZURE_ID_TOKEN:\n      aud: api://AzureADTokenExchange\n"
        "  script:\n"
        '    - az login --service-principal -u "$AZURE_CLIENT_ID" -t "$AZURE_TENANT_ID" '
        '--federated-token "$AZURE_ID_TOKEN"\n'
        "(or `keyless azure`). Then delete the client secret."
    )


def _check_gitlab_variables(
    mapping: Mapping, place: str, job_name: str | None, context: Context
) -> None:
    for key, node in mapping.entries:
        name = key.value
        provider = ENV_PROVIDERS.get(name.upper())
        value = variable_value(node)
        if provider is None or not isinstance(value, Scalar) or not value.value.strip():
            continue
        context.report(
            RULE,
            key,
            key=f"{place}.{name}",
            message=f"{name} passes a stored {_what(provider)} to the job",
            remediation=gitlab_tip(provider, job_name),
        )


def _check_gitlab_scripts(job: GitLabJob, context: Context) -> None:
    lines = list(job.scripts())
    assigned = {
        match.group(1)
        for _, line in lines
        for part in script_lines(line)
        if (match := _ASSIGNMENT.match(part.text)) is not None
    }
    for keyword, line in lines:
        for part in script_lines(line):
            provider, start, end = _gitlab_use(part.code, assigned)
            if provider is None:
                continue
            offset = part.offset + start
            used = part.code[start:end]
            if _CLI_SIGN_IN.match(used):
                what = f"signs in with a stored {_what(provider)} (`{used}`)"
            else:
                what = f"reads a stored {_what(provider)} (`{used}`)"
            context.report(
                RULE,
                line,
                key=f"{job.describe}.{keyword}:{part.code.strip()}",
                message=f"job {job.name} {what}",
                remediation=gitlab_tip(provider, job.name),
                at=fragment_span(line, offset, part.offset + end),
                anchors=(job.key,),
                confidence=Confidence.MEDIUM,
            )


def _gitlab_use(code: str, assigned: set[str]) -> tuple[str | None, int, int]:
    match = _CLI_SIGN_IN.search(code)
    if match is not None:
        return _cli_provider(match.group(0)), match.start(), match.end()
    if _ASSIGNMENT.match(code):
        return None, 0, 0
    for name, provider in ENV_PROVIDERS.items():
        if name in assigned:
            continue
        found = re.search(r"\$\{?" + name + r"\b", code)
        if found is not None:
            return provider, found.start(), found.end()
    return None, 0, 0


CHECK = StaticCloudCredentials()
