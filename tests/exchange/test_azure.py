"""Azure exchange: Entra ID's token endpoint with the CI token as client assertion."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses

from keyless.errors import UsageError
from keyless.exchange import azure
from keyless.exchange.refusal import ExchangeError
from keyless.http import RetryPolicy
from tests import fakes
from tests.support.jwts import identity_token

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
AUTHORITY = "http://127.0.0.1:9/entra"
TOKEN_URL = f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"


def options(sleeps: list[float] | None = None, **kwargs: object) -> azure.AzureOptions:
    retry = RetryPolicy(attempts=2)
    sleep = (sleeps if sleeps is not None else []).append
    values: dict[str, object] = {
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "retry": retry,
        "sleep": sleep,
    }
    values.update(kwargs)
    return azure.AzureOptions(**values)  # type: ignore[arg-type]


def entra_error(code: int, text: str, error: str = "invalid_client") -> dict[str, object]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: 0a1b2c3d-0000-0000-0000-"
        "000000000000\r\nCorrelation ID: 1a2b3c4d-0000-0000-0000-000000000000\r\n"
        "Timestamp: 2026-12-04 17:00:00Z",
        "error_codes": [code],
        "timestamp": "2026-12-04 17:00:00Z",
        "trace_id": "0a1b2c3d-0000-0000-0000-000000000000",
        "correlation_id": "1a2b3c4d-0000-0000-0000-000000000000",
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


@pytest.fixture(autouse=True)
def local_authority(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", AUTHORITY)


def test_client_assertion_request(mocked: responses.RequestsMock) -> None:
    access = "eyJ0eXAi." + fakes.random_string(80)
    mocked.post(
        TOKEN_URL,
        json={
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
        },
    )
    token = identity_token(azure.AUDIENCE)
    creds = azure.exchange(token, options(scope="https://vault.azure.net/.default"))
    assert creds.access_token.reveal() == access
    sent = parse_qs(mocked.calls[0].request.body)
    assert sent == {
        "client_id": [CLIENT],
        "scope": ["https://vault.azure.net/.default"],
        "grant_type": ["client_credentials"],
        "client_assertion_type": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
        "client_assertion": [token.raw.reveal()],
    }


def test_authority_host_defaults() -> None:
    assert azure.authority_host(options(authority_host="login.microsoftonline.us")) == (
        "https://login.microsoftonline.us"
    )
    assert azure.token_url(options()) == TOKEN_URL


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"tenant_id": "not a tenant"}, "neither a GUID nor a domain"),
        ({"client_id": "my-app"}, "is not a GUID"),
        ({"scope": " "}, "--scope is empty"),
    ],
)
def test_invalid_options_rejected(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        azure.validate_options(options(**changes))
    assert fragment in caught.value.message


def refused(
    mocked: responses.RequestsMock, payload: dict[str, object], status: int = 400, **claims: object
) -> ExchangeError:
    mocked.post(TOKEN_URL, status=status, json=payload)
    with pytest.raises(ExchangeError) as caught:
        azure.exchange(identity_token(azure.AUDIENCE, **claims), options())
    assert len(mocked.calls) == 1, "a rejected assertion must not be retried"
    assert "Trace ID" not in caught.value.message
    return caught.value


def test_70021_no_matching_credential(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            70021,
            "No matching federated identity record found for presented assertion. Assertion "
            "Issuer: 'https://token.actions.githubusercontent.com'. Assertion Subject: "
            "'repo:octo-org/octo-repo:ref:refs/heads/main'. Assertion Audience: "
            "'api://AzureADTokenExchange'.",
        ),
    )
    assert "found no federated credential" in error.message
    assert "iss: https://token.actions.githubusercontent.com" in error.message
    assert "sub: repo:octo-org/octo-repo:ref:refs/heads/main" in error.message
    assert "aud: api://AzureADTokenExchange" in error.message


def test_700211_issuer(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            700211,
            "No matching federated identity record found for presented assertion issuer "
            "'https://token.actions.githubusercontent.com'.",
        ),
    )
    assert "found no federated credential with the token's issuer" in error.message
    assert "https://token.actions.githubusercontent.com exactly" in (error.hint or "")


def test_700212_audience(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            700212,
            "No matching federated identity record found for presented assertion audience "
            "'https://github.com/octo-org'.",
        ),
        aud="https://github.com/octo-org",
    )
    assert "lists the token's audience" in error.message
    assert "aud: https://github.com/octo-org" in error.message
    assert "--audience api://AzureADTokenExchange" in (error.hint or "")


def test_700213_subject(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            700213,
            "No matching federated identity record found for presented assertion subject "
            "'repo:octo-org/octo-repo:pull_request'.",
        ),
        sub="repo:octo-org/octo-repo:pull_request",
    )
    assert "found no federated credential with the token's subject" in error.message
    assert "subject is repo:octo-org/octo-repo:pull_request" in (error.hint or "")


def test_7002138_subject_case(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            7002138,
            "No matching federated identity record found for presented assertion subject "
            "'repo:Octo-Org/octo-repo:environment:Production'. The subject matches with "
            "case-insensitive comparison, but not with case-sensitive comparison.",
        ),
        sub="repo:Octo-Org/octo-repo:environment:Production",
    )
    assert "only when case is ignored" in error.message
    assert "repo:Octo-Org/octo-repo:environment:Production with exactly this case" in (
        error.hint or ""
    )


def test_700024_time_window(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            700024,
            "Client assertion is not within its valid time range. Current time: "
            "2026-12-04T17:00:00.0000000Z, assertion valid from 2026-12-04T16:00:00.0000000Z, "
            "expiry time of assertion 2026-12-04T16:05:00.0000000Z.",
        ),
        exp=1796403900,
    )
    assert "outside its valid time window" in error.message
    assert "exp: 1796403900" in error.message
    assert "now: " in error.message


def test_700016_application_not_found(mocked: responses.RequestsMock) -> None:
    error = refused(
        mocked,
        entra_error(
            700016,
            f"Application with identifier '{CLIENT}' was not found in the directory "
            "'Contoso'. This can happen if the application has not been installed by the "
            "administrator of the tenant.",
            error="unauthorized_client",
        ),
    )
    assert f"application {CLIENT} was not found in tenant {TENANT}" in error.message
    assert "--client-id" in (error.hint or "")


def test_unknown_code_shows_reason(mocked: responses.RequestsMock) -> None:
    error = refused(mocked, entra_error(90002, "Tenant 'x' not found.", error="invalid_request"))
    assert "AADSTS90002: Tenant 'x' not found." in error.message


def test_throttling_retried(mocked: responses.RequestsMock) -> None:
    mocked.post(TOKEN_URL, status=429, json={"error": "temporarily_unavailable"})
    mocked.post(
        TOKEN_URL, json={"token_type": "Bearer", "expires_in": 60, "access_token": "a" * 40}
    )
    sleeps: list[float] = []
    azure.exchange(identity_token(azure.AUDIENCE), options(sleeps=sleeps))
    assert len(mocked.calls) == 2
    assert len(sleeps) == 1
