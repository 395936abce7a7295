"""Google Cloud exchange: STS token exchange and IAM Credentials, with documented wire formats."""

from __future__ import annotations

import json

import pytest
import responses

from keyless.errors import UsageError
from keyless.exchange import gcp
from keyless.exchange.refusal import ExchangeError
from keyless.http import RetryPolicy
from tests import fakes
from tests.support.jwts import identity_token

PROVIDER = "projects/123456789012/locations/global/workloadIdentityPools/ci/providers/github"
ACCOUNT = "deployer@my-project.iam.gserviceaccount.com"
STS = "http://127.0.0.1:9/google-sts"
IAM = "http://127.0.0.1:9/google-iam"
STS_TOKEN_URL = f"{STS}/v1/token"
IAM_URL = f"{IAM}/v1/projects/-/serviceAccounts/{ACCOUNT}:generateAccessToken"


def options(sleeps: list[float] | None = None, **kwargs: object) -> gcp.GcpOptions:
    retry = RetryPolicy(attempts=2)
    sleep = (sleeps if sleeps is not None else []).append
    values: dict[str, object] = {
        "workload_identity_provider": PROVIDER,
        "sts_endpoint": STS,
        "iam_endpoint": IAM,
        "retry": retry,
        "sleep": sleep,
    }
    values.update(kwargs)
    return gcp.GcpOptions(**values)  # type: ignore[arg-type]


def google_token() -> str:
    return "ya29." + fakes.random_string(60)


def sts_ok(access_token: str) -> dict[str, object]:
    return {
        "access_token": access_token,
        "issued_token_type": gcp.ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": 3599,
    }


def test_federated_token_without_impersonation(mocked: responses.RequestsMock) -> None:
    federated = google_token()
    mocked.post(STS_TOKEN_URL, json=sts_ok(federated))
    ci_token = identity_token(gcp.token_audience(PROVIDER))
    creds = gcp.exchange(
        ci_token, options(scopes=("https://www.googleapis.com/auth/devstorage.read_only",))
    )
    assert creds.access_token.reveal() == federated
    assert creds.service_account is None
    sent = json.loads(mocked.calls[0].request.body)
    assert sent == {
        "audience": f"//iam.googleapis.com/{PROVIDER}",
        "grantType": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
        "scope": "https://www.googleapis.com/auth/devstorage.read_only",
        "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt",
        "subjectToken": ci_token.raw.reveal(),
    }
    assert len(mocked.calls) == 1


def test_impersonation_uses_federated_token(mocked: responses.RequestsMock) -> None:
    federated, final = google_token(), google_token()
    mocked.post(STS_TOKEN_URL, json=sts_ok(federated))
    mocked.post(IAM_URL, json={"accessToken": final, "expireTime": "2031-01-01T00:00:00Z"})
    creds = gcp.exchange(
        identity_token(gcp.token_audience(PROVIDER)),
        options(
            service_account=ACCOUNT,
            lifetime=600,
            delegates=("hop@my-project.iam.gserviceaccount.com",),
        ),
    )
    assert creds.access_token.reveal() == final
    assert creds.service_account == ACCOUNT
    assert creds.expiration.year == 2031
    assert json.loads(mocked.calls[0].request.body)["scope"] == gcp.CLOUD_PLATFORM_SCOPE
    iam_request = mocked.calls[1].request
    assert iam_request.headers["Authorization"] == f"Bearer {federated}"
    assert json.loads(iam_request.body) == {
        "scope": [gcp.CLOUD_PLATFORM_SCOPE],
        "lifetime": "600s",
        "delegates": ["projects/-/serviceAccounts/hop@my-project.iam.gserviceaccount.com"],
    }


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (
            "projects/my-project/locations/global/workloadIdentityPools/ci/providers/github",
            "project number",
        ),
        (
            "projects/123456789012/locations/global/workloadIdentityPools/ci",
            "names a workload identity pool",
        ),
        (
            "projects/123456789012/locations/global/workloadIdentityPools/ci/",
            "names a workload identity pool",
        ),
        ("github", "not a provider resource name"),
        (
            "projects/123456789012/locations/europe-west1/workloadIdentityPools/ci/providers/gh",
            "location global",
        ),
    ],
)
def test_provider_shape_validated(value: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        gcp.parse_provider(value)
    assert fragment in caught.value.message


def test_provider_accepts_full_resource_forms() -> None:
    assert gcp.parse_provider(f"//iam.googleapis.com/{PROVIDER}") == PROVIDER
    assert gcp.parse_provider(f"https://iam.googleapis.com/{PROVIDER}") == PROVIDER
    assert gcp.token_audience(PROVIDER) == f"https://iam.googleapis.com/{PROVIDER}"


def test_project_id_hint_names_gcloud_command() -> None:
    with pytest.raises(UsageError) as caught:
        gcp.parse_provider("projects/my-proj/locations/global/workloadIdentityPools/p/providers/q")
    assert "gcloud projects describe my-proj" in (caught.value.hint or "")


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"service_account": "deployer"}, "not a service account email"),
        ({"lifetime": 0}, "out of range"),
        ({"lifetime": 43201}, "out of range"),
        ({"scopes": ()}, "--scopes is empty"),
        ({"iam_endpoint": "iam.example"}, "not an http(s) URL"),
    ],
)
def test_invalid_options_rejected(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        gcp.validate_options(options(**changes))
    assert fragment in caught.value.message


# --- pool admission (Google STS) ---------------------------------------------------------------


def sts_refusal(
    mocked: responses.RequestsMock, status: int, payload: dict[str, object]
) -> ExchangeError:
    mocked.post(STS_TOKEN_URL, status=status, json=payload)
    with pytest.raises(ExchangeError) as caught:
        gcp.exchange(identity_token(gcp.token_audience(PROVIDER)), options(service_account=ACCOUNT))
    assert len(mocked.calls) == 1
    return caught.value


def test_attribute_condition_rejected(mocked: responses.RequestsMock) -> None:
    error = sts_refusal(
        mocked,
        400,
        {
            "error": "unauthorized_client",
            "error_description": "The given credential is rejected by the attribute condition.",
        },
    )
    assert error.message.startswith("Google STS (workload identity pool admission)")
    assert "attribute condition" in error.message
    assert "sub: repo:octo-org/octo-repo:ref:refs/heads/main" in error.message


def test_audience_rejected(mocked: responses.RequestsMock) -> None:
    error = sts_refusal(
        mocked,
        400,
        {
            "error": "invalid_grant",
            "error_description": "The audience in ID Token [https://github.com/octo-org] does "
            "not match the expected audience.",
        },
    )
    assert "pool admission" in error.message
    assert f"expected aud: https://iam.googleapis.com/{PROVIDER}" in error.message
    assert "--audience" in (error.hint or "")


def test_issuer_rejected(mocked: responses.RequestsMock) -> None:
    error = sts_refusal(
        mocked,
        400,
        {
            "error": "invalid_grant",
            "error_description": "The issuer in ID Token "
            "https://token.actions.githubusercontent.com does not match the expected ones: "
            "https://gitlab.com.",
        },
    )
    assert "rejected the token's issuer" in error.message
    assert "iss: https://token.actions.githubusercontent.com" in error.message


def test_missing_provider(mocked: responses.RequestsMock) -> None:
    error = sts_refusal(
        mocked,
        400,
        {
            "error": "invalid_target",
            "error_description": 'The target service indicated by the "audience" parameters is '
            "invalid. This might either be because the pool or provider is disabled or deleted "
            "or because it doesn't exist.",
        },
    )
    assert "does not exist or is disabled" in error.message


def test_sts_unavailable_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(STS_TOKEN_URL, status=503, json={"error": "temporarily_unavailable"})
    mocked.post(STS_TOKEN_URL, json=sts_ok(google_token()))
    sleeps: list[float] = []
    gcp.exchange(identity_token(gcp.token_audience(PROVIDER)), options(sleeps=sleeps))
    assert len(mocked.calls) == 2
    assert len(sleeps) == 1


# --- impersonation (IAM Credentials) ----------------------------------------------------------


def iam_refusal(
    mocked: responses.RequestsMock, status: int, payload: dict[str, object]
) -> ExchangeError:
    mocked.post(STS_TOKEN_URL, json=sts_ok(google_token()))
    mocked.post(IAM_URL, status=status, json=payload)
    with pytest.raises(ExchangeError) as caught:
        gcp.exchange(identity_token(gcp.token_audience(PROVIDER)), options(service_account=ACCOUNT))
    assert len(mocked.calls) == 2
    return caught.value


def test_impersonation_denied(mocked: responses.RequestsMock) -> None:
    payload = {
        "error": {
            "code": 403,
            "message": "Permission 'iam.serviceAccounts.getAccessToken' denied on resource "
            "(or it may not exist).",
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "IAM_PERMISSION_DENIED",
                    "domain": "iam.googleapis.com",
                    "metadata": {"permission": "iam.serviceAccounts.getAccessToken"},
                }
            ],
        }
    }
    error = iam_refusal(mocked, 403, payload)
    assert error.message.startswith("Google IAM Credentials (service account impersonation)")
    assert "the pool admitted the token" in error.message
    assert "sub: repo:octo-org/octo-repo:ref:refs/heads/main" in error.message
    principal = (
        "principal://iam.googleapis.com/projects/123456789012/locations/global/"
        "workloadIdentityPools/ci/subject/repo:octo-org/octo-repo:ref:refs/heads/main"
    )
    assert principal in (error.hint or "")
    assert "roles/iam.workloadIdentityUser" in (error.hint or "")


def test_impersonation_lifetime_rejected(mocked: responses.RequestsMock) -> None:
    payload = {
        "error": {
            "code": 400,
            "message": "The lifetime must be between 1 and 3600 seconds.",
            "status": "INVALID_ARGUMENT",
        }
    }
    error = iam_refusal(mocked, 400, payload)
    assert "--lifetime 3600 was rejected" in error.message
    assert "allowServiceAccountCredentialLifetimeExtension" in (error.hint or "")


def test_service_account_not_found(mocked: responses.RequestsMock) -> None:
    payload = {
        "error": {"code": 404, "message": "Not found; Gaia id not found", "status": "NOT_FOUND"}
    }
    error = iam_refusal(mocked, 404, payload)
    assert f"service account {ACCOUNT} was not found" in error.message


def test_gcp_errors_never_contain_tokens(mocked: responses.RequestsMock) -> None:
    federated = google_token()
    ci_token = identity_token(gcp.token_audience(PROVIDER))
    mocked.post(STS_TOKEN_URL, json=sts_ok(federated))
    mocked.post(IAM_URL, status=403, json={"error": {"code": 403, "status": "PERMISSION_DENIED"}})
    with pytest.raises(ExchangeError) as caught:
        gcp.exchange(ci_token, options(service_account=ACCOUNT))
    text = caught.value.diagnostics()
    assert federated not in text
    assert ci_token.raw.reveal() not in text
