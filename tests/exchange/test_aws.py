"""AWS STS exchange: moto's server for success and chaining, STS error XML doubles."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import responses

from keyless import http
from keyless.errors import UsageError
from keyless.exchange import aws, sigv4
from keyless.exchange.refusal import ExchangeError
from keyless.http import RetryPolicy
from keyless.secret import Secret
from tests import fakes
from tests.support.jwts import identity_token
from tests.support.moto import moto_server

ROLE = "arn:aws:iam::123456789012:role/deploy"
CHAIN_ROLE = "arn:aws:iam::210987654321:role/target"
STS = "http://127.0.0.1:9/sts"


def options(
    endpoint: str = STS, sleeps: list[float] | None = None, **kwargs: object
) -> aws.AwsOptions:
    retry = RetryPolicy(attempts=3, base_delay=0.5)
    sleep = (sleeps if sleeps is not None else []).append
    values: dict[str, object] = {
        "role_arn": ROLE,
        "sts_endpoint": endpoint,
        "retry": retry,
        "sleep": sleep,
    }
    values.update(kwargs)
    return aws.AwsOptions(**values)  # type: ignore[arg-type]


def sts_error(code: str, message: str, kind: str = "Sender") -> str:
    return (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
        f"  <Error>\n    <Type>{kind}</Type>\n    <Code>{code}</Code>\n"
        f"    <Message>{message}</Message>\n  </Error>\n"
        "  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n</ErrorResponse>\n"
    )


def sts_success(action: str, key_id: str, secret: str, session: str) -> str:
    return (
        f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<{action}Result><Credentials><AccessKeyId>{key_id}</AccessKeyId>"
        f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{session}</SessionToken>"
        "<Expiration>2031-01-01T00:00:00Z</Expiration></Credentials>"
        f"<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deploy/s</Arn>"
        "<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>"
        f"</{action}Result></{action}Response>"
    )


# --- moto's server -------------------------------------------------------------------------


def test_web_identity_against_moto(moto_sts: str) -> None:
    token = identity_token(aws.DEFAULT_AUDIENCE)
    creds = aws.exchange(token, options(moto_sts, session_name="keyless-test", duration=900))
    assert creds.access_key_id.reveal().startswith("ASIA")
    assert len(creds.secret_access_key) >= 40
    assert creds.session_token
    assert creds.assumed_role_arn == "arn:aws:sts::123456789012:assumed-role/deploy/keyless-test"
    assert creds.expiration > datetime.now(timezone.utc)


def test_role_chaining_against_moto(moto_sts: str) -> None:
    token = identity_token(aws.DEFAULT_AUDIENCE)
    creds = aws.exchange(
        token,
        options(moto_sts, session_name="chained", chain_role_arn=CHAIN_ROLE, region="eu-west-1"),
    )
    assert creds.assumed_role_arn == "arn:aws:sts::210987654321:assumed-role/target/chained"
    assert creds.region == "eu-west-1"


def test_chained_request_is_signed_with_first_credentials(mocked: responses.RequestsMock) -> None:
    token = identity_token(aws.DEFAULT_AUDIENCE)
    first_body = sts_success(
        "AssumeRoleWithWebIdentity", "ASIAFIRSTKEY000001", "first/secret+key", "first-session"
    )
    mocked.post(STS, body=first_body)
    mocked.post(
        STS, body=sts_success("AssumeRole", "ASIASECONDKEY00002", "second", "second-session")
    )
    creds = aws.exchange(token, options(chain_role_arn=CHAIN_ROLE))
    chained = mocked.calls[1].request
    assert chained.headers["X-Amz-Security-Token"] == "first-session"
    assert chained.headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=ASIAFIRSTKEY000001/"
    )
    assert "/us-east-1/sts/aws4_request" in chained.headers["Authorization"]
    assert "WebIdentityToken" not in (chained.body or b"").decode()
    assert creds.access_key_id.reveal() == "ASIASECONDKEY00002"


# --- SigV4 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("with_session_token", [True, False])
def test_sigv4_matches_botocore(with_session_token: bool) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key_id = fakes.aws_key_id("ASIA")
    secret = fakes.aws_secret_key()
    session = fakes.random_string(120) if with_session_token else None
    url = "https://sts.eu-central-1.amazonaws.com/"
    body = b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx"
    now = datetime(2026, 12, 4, 17, 5, 9, tzinfo=timezone.utc)
    ours = sigv4.sign_form_post(
        url,
        body,
        access_key_id=Secret(key_id),
        secret_access_key=Secret(secret),
        session_token=Secret(session) if session else None,
        region="eu-central-1",
        service="sts",
        now=now,
    )
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": ours["Content-Type"]}
    )
    request.context["timestamp"] = "20261204T170509Z"
    signer = SigV4Auth(Credentials(key_id, secret, session), "sts", "eu-central-1")
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    assert ours["Authorization"].endswith(f"Signature={expected}")
    assert ours["X-Amz-Date"] == "20261204T170509Z"
    assert ("X-Amz-Security-Token" in ours) is with_session_token


# --- requests and options -------------------------------------------------------------------


def test_request_carries_session_parameters(mocked: responses.RequestsMock) -> None:
    mocked.post(
        STS, body=sts_success("AssumeRoleWithWebIdentity", "ASIAKEY", "secret-value", "tok")
    )
    token = identity_token(aws.DEFAULT_AUDIENCE)
    policy = '{"Version": "2012-10-17", "Statement": []}'
    arns = ("arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/p")
    aws.exchange(token, options(duration=3600, policy=policy, policy_arns=arns, session_name="s-1"))
    sent = parse_qs(mocked.calls[0].request.body)
    assert sent["Action"] == ["AssumeRoleWithWebIdentity"]
    assert sent["Version"] == ["2011-06-15"]
    assert sent["RoleArn"] == [ROLE]
    assert sent["RoleSessionName"] == ["s-1"]
    assert sent["WebIdentityToken"] == [token.raw.reveal()]
    assert sent["DurationSeconds"] == ["3600"]
    assert sent["Policy"] == [policy]
    assert sent["PolicyArns.member.1.arn"] == [arns[0]]
    assert sent["PolicyArns.member.2.arn"] == [arns[1]]
    assert "Authorization" not in mocked.calls[0].request.headers


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"role_arn": "deploy"}, "is not an IAM role ARN"),
        ({"chain_role_arn": "arn:aws:iam::12:role/x"}, "is not an IAM role ARN"),
        ({"duration": 899}, "out of range"),
        ({"duration": 43201}, "out of range"),
        ({"duration": 7200, "chain_role_arn": CHAIN_ROLE}, "too long for role chaining"),
        ({"policy": "{not json"}, "not valid JSON"),
        ({"policy": "[]"}, "must be a JSON object"),
        ({"policy_arns": tuple(f"arn:aws:iam::aws:policy/p{i}" for i in range(11))}, "at most 10"),
        ({"region": "Frankfurt"}, "not an AWS region"),
        ({"sts_endpoint": "sts.example"}, "not an http(s) URL"),
    ],
)
def test_invalid_options_rejected_before_request(changes: dict[str, object], fragment: str) -> None:
    with responses.RequestsMock() as mock:
        with pytest.raises(UsageError) as caught:
            aws.exchange(identity_token(aws.DEFAULT_AUDIENCE), options(**changes))
        assert len(mock.calls) == 0
    assert fragment in caught.value.message


def test_session_name_cleaned_and_truncated() -> None:
    name = aws.default_session_name(
        {"GITHUB_REPOSITORY": "octo-org/" + "r" * 80, "GITHUB_RUN_ID": "99"}
    )
    assert name.startswith("keyless-octo-org-rrr")
    assert len(name) == 64
    assert aws.clean_session_name("a b/c:d=e@f") == "a-b-c-d=e@f"
    assert aws.clean_session_name("é") == "keyless"
    assert aws.default_session_name({"CI_PROJECT_PATH": "g/p", "CI_JOB_ID": "7"}) == "keyless-g-p-7"
    assert aws.default_session_name({}) == "keyless"


def test_endpoint_follows_region() -> None:
    assert aws.endpoint_for(None, None) == "https://sts.amazonaws.com"
    assert aws.endpoint_for("eu-west-1", None) == "https://sts.eu-west-1.amazonaws.com"
    assert aws.endpoint_for("cn-north-1", None) == "https://sts.cn-north-1.amazonaws.com.cn"
    assert aws.endpoint_for("eu-west-1", "http://127.0.0.1:1") == "http://127.0.0.1:1"


# --- explained errors -------------------------------------------------------------------------


def refused(
    mocked: responses.RequestsMock, status: int, body: str, **token_claims: object
) -> ExchangeError:
    mocked.post(STS, status=status, body=body, content_type="text/xml")
    token = identity_token(aws.DEFAULT_AUDIENCE, **token_claims)
    with pytest.raises(ExchangeError) as caught:
        aws.exchange(token, options())
    assert len(mocked.calls) == 1, "a rejected token must not be retried"
    return caught.value


def test_invalid_identity_token_audience(mocked: responses.RequestsMock) -> None:
    error = refused(mocked, 400, sts_error("InvalidIdentityToken", "Incorrect token audience"))
    assert "rejected the token's audience" in error.message
    assert "aud: sts.amazonaws.com" in error.message
    assert "client IDs" in (error.hint or "")


def test_invalid_identity_token_no_provider(mocked: responses.RequestsMock) -> None:
    body = sts_error(
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://token.actions.githubusercontent.com",
    )
    error = refused(mocked, 400, body)
    assert "no IAM OIDC identity provider" in error.message
    assert "iss: https://token.actions.githubusercontent.com" in error.message
    assert "create an IAM OIDC identity provider with URL https://token.actions" in (
        error.hint or ""
    )
    assert "GitHub Enterprise Server" in (error.hint or "")


def test_invalid_identity_token_enterprise_server(mocked: responses.RequestsMock) -> None:
    issuer = "https://ghes.example.com/_services/token"
    body = sts_error(
        "InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {issuer}"
    )
    error = refused(mocked, 400, body, iss=issuer)
    assert f"whose issuer is {issuer}" in (error.hint or "")
    assert "/.well-known/openid-configuration" in (error.hint or "")


def test_invalid_identity_token_gitlab_has_no_github_hint(mocked: responses.RequestsMock) -> None:
    body = sts_error(
        "InvalidIdentityToken",
        "No OpenIDConnect provider found in your account for https://gitlab.com",
    )
    error = refused(
        mocked,
        400,
        body,
        iss="https://gitlab.com",
        repository=None,
        run_id=None,
        sub="project_path:g/p:ref_type:branch:ref:main",
    )
    assert "GitHub" not in (error.hint or "")


def test_access_denied_shows_trust_policy_keys(mocked: responses.RequestsMock) -> None:
    body = sts_error("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    error = refused(mocked, 403, body, sub="repo:octo-org/octo-repo:environment:Prod")
    assert f"denied sts:AssumeRoleWithWebIdentity on {ROLE}" in error.message
    assert "sub: repo:octo-org/octo-repo:environment:Prod" in error.message
    assert '"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"' in error.message
    assert (
        '"token.actions.githubusercontent.com:sub": "repo:octo-org/octo-repo:environment:Prod"'
        in error.message
    )
    assert (
        '"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"'
        in error.message
    )


def test_expired_token(mocked: responses.RequestsMock) -> None:
    body = sts_error(
        "ExpiredTokenException",
        "Token expired: current date/time 1796400000 must be before the expiration "
        "date/time1796399000",
    )
    error = refused(mocked, 400, body, exp=1796399000)
    assert "rejected the token as expired" in error.message
    assert "exp: 1796399000" in error.message
    assert "right before the exchange" in (error.hint or "")


def test_region_disabled(mocked: responses.RequestsMock) -> None:
    body = sts_error(
        "RegionDisabledException",
        "STS is not activated in this region for account:123456789012. Your account "
        "administrator can activate STS in this region using the IAM Console.",
    )
    error = refused(mocked, 403, body)
    assert "not activated" in error.message
    assert "--region" in (error.hint or "")


def test_other_errors_fail_fast(mocked: responses.RequestsMock) -> None:
    body = sts_error(
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )
    error = refused(mocked, 400, body)
    assert "ValidationError" in error.message
    assert "lower --duration" in (error.hint or "")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            sts_error(
                "IDPCommunicationError",
                "Couldn't retrieve verification key from your identity provider, please "
                "reference AssumeRoleWithWebIdentity documentation for requirements",
            ),
        ),
        (400, sts_error("Throttling", "Rate exceeded")),
        (500, sts_error("InternalFailure", "An internal error occurred", "Receiver")),
        (503, "Service Unavailable"),
    ],
)
def test_transient_errors_retried(mocked: responses.RequestsMock, status: int, body: str) -> None:
    mocked.post(STS, status=status, body=body)
    mocked.post(
        STS, body=sts_success("AssumeRoleWithWebIdentity", "ASIAKEY", "secret-value", "tok")
    )
    sleeps: list[float] = []
    creds = aws.exchange(identity_token(aws.DEFAULT_AUDIENCE), options(sleeps=sleeps))
    assert creds.access_key_id.reveal() == "ASIAKEY"
    assert len(mocked.calls) == 2
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= 0.5


def test_transient_errors_give_up(mocked: responses.RequestsMock) -> None:
    mocked.post(
        STS,
        status=400,
        body=sts_error("IDPCommunicationError", "Couldn't retrieve verification key"),
    )
    sleeps: list[float] = []
    with pytest.raises(ExchangeError) as caught:
        aws.exchange(identity_token(aws.DEFAULT_AUDIENCE), options(sleeps=sleeps))
    assert len(mocked.calls) == 3
    assert len(sleeps) == 2
    assert sleeps[1] <= 1.0
    assert "gave up after 3 attempts" in caught.value.message
    assert "reachable from the internet" in (caught.value.hint or "")


def test_chain_access_denied(mocked: responses.RequestsMock) -> None:
    mocked.post(
        STS, body=sts_success("AssumeRoleWithWebIdentity", "ASIAKEY", "secret-value", "tok")
    )
    mocked.post(
        STS,
        status=403,
        body=sts_error("AccessDenied", "User is not authorized to perform: sts:AssumeRole"),
    )
    with pytest.raises(ExchangeError) as caught:
        aws.exchange(identity_token(aws.DEFAULT_AUDIENCE), options(chain_role_arn=CHAIN_ROLE))
    assert f"denied sts:AssumeRole on {CHAIN_ROLE}" in caught.value.message
    assert len(mocked.calls) == 2


def test_errors_never_contain_the_token(mocked: responses.RequestsMock) -> None:
    token = identity_token(aws.DEFAULT_AUDIENCE)
    mocked.post(STS, status=403, body=sts_error("AccessDenied", "Not authorized"))
    with pytest.raises(ExchangeError) as caught:
        aws.exchange(token, options())
    assert token.raw.reveal() not in caught.value.diagnostics()


def test_chained_signature_verified_by_moto(tmp_path: Path) -> None:
    import boto3

    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:*"}],
        }
    )
    allow_chain = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        }
    )
    # moto checks signatures and IAM policies from its fourth request on. Requests 1
    # and 2 create the first role and request 3 is the unsigned web identity exchange.
    with moto_server(tmp_path / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as url:
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key=fakes.aws_secret_key(),
        )
        iam.create_role(RoleName="deploy", AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName="deploy", PolicyName="chain", PolicyDocument=allow_chain)
        session = http.session()
        token = identity_token(aws.DEFAULT_AUDIENCE)
        first = aws.assume_role_with_web_identity(session, token, options(url, session_name="s1"))
        forged = aws.AwsCredentials(
            access_key_id=first.access_key_id,
            secret_access_key=Secret(fakes.aws_secret_key()),
            session_token=first.session_token,
            expiration=first.expiration,
            assumed_role_arn=first.assumed_role_arn,
            region=None,
        )
        with pytest.raises(ExchangeError) as caught:
            aws.assume_role(session, forged, CHAIN_ROLE, options(url))
        chained = aws.assume_role(session, first, CHAIN_ROLE, options(url, session_name="s2"))
    assert "SignatureDoesNotMatch" in caught.value.message
    assert chained.assumed_role_arn == "arn:aws:sts::210987654321:assumed-role/target/s2"


def test_expired_token_shows_measured_skew(mocked: responses.RequestsMock) -> None:
    mocked.post(
        STS,
        status=400,
        body=sts_error("ExpiredTokenException", "Token expired: current date/time 2 must be 1"),
    )
    token = identity_token(aws.DEFAULT_AUDIENCE)
    token.clock_skew = 412.4
    token.clock_skew_source = "pipelines.actions.githubusercontent.com"
    with pytest.raises(ExchangeError) as caught:
        aws.exchange(token, options())
    assert "now: " in caught.value.message
    assert (
        "this machine's clock runs +412 s ahead of pipelines.actions.githubusercontent.com's"
        in caught.value.message
    )
