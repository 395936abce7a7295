"""The audit rules, one module each, in an explicit registry keyed by rule id."""

from __future__ import annotations

from keyless.audit.rules import (
    credentials_file_in_workspace,
    debug_trace,
    deprecated_ci_job_jwt,
    excessive_permissions,
    hardcoded_secret,
    id_token_misuse,
    overprovisioned_secrets,
    persisted_checkout_credentials,
    publish_with_token,
    script_injection,
    secret_exposure,
    secrets_in_artifacts,
    secrets_inherit,
    static_cloud_credentials,
    template_injection,
    unpinned_action,
    untrusted_code_with_secrets,
    yaml_problems,
)
from keyless.audit.rules.base import AuditRule

# Rule id -> rule. hardcoded-secret and static-cloud-credentials check both GitHub and
# GitLab files; the GitLab-only rules come last.
RULES: dict[str, AuditRule] = {
    "hardcoded-secret": hardcoded_secret.CHECK,
    "static-cloud-credentials": static_cloud_credentials.CHECK,
    "publish-with-token": publish_with_token.CHECK,
    "excessive-permissions": excessive_permissions.CHECK,
    "secrets-inherit": secrets_inherit.CHECK,
    "overprovisioned-secrets": overprovisioned_secrets.CHECK,
    "untrusted-code-with-secrets": untrusted_code_with_secrets.CHECK,
    "template-injection": template_injection.CHECK,
    "secret-exposure": secret_exposure.CHECK,
    "persisted-checkout-credentials": persisted_checkout_credentials.CHECK,
    "unpinned-action": unpinned_action.CHECK,
    "credentials-file-in-workspace": credentials_file_in_workspace.CHECK,
    "deprecated-ci-job-jwt": deprecated_ci_job_jwt.CHECK,
    "id-token-misuse": id_token_misuse.CHECK,
    "debug-trace": debug_trace.CHECK,
    "secrets-in-artifacts": secrets_in_artifacts.CHECK,
    "script-injection": script_injection.CHECK,
    "invalid-yaml": yaml_problems.INVALID_CHECK,
    "duplicate-key": yaml_problems.DUPLICATE_CHECK,
    "file-not-audited": yaml_problems.UNAUDITED_CHECK,
}
