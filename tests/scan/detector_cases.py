"""True- and false-positive tables for the secret detectors, built from fake secrets.

Each true positive is (rule id, text, secret): scanning `text` must report `secret`
under `rule id`. Each false positive is (label, text): scanning `text` must report
nothing at all.
"""

from __future__ import annotations

from tests import fakes

HEX = "0123456789abcdef"


def _aws() -> list[tuple[str, str, str]]:
    key_id, temporary_id = fakes.aws_key_id(), fakes.aws_key_id("ASIA")
    named, quoted, near = fakes.aws_secret_key(), fakes.aws_secret_key(), fakes.aws_secret_key()
    other_prefix = fakes.aws_key_id("ABIA")
    return [
        ("aws-access-key-id", f"aws_access_key_id = {key_id}", key_id),
        ("aws-access-key-id", f"export AWS_ACCESS_KEY_ID={temporary_id}", temporary_id),
        ("aws-access-key-id", f'"id": "{other_prefix}"', other_prefix),
        ("aws-secret-access-key", f"aws_secret_access_key = {named}", named),
        ("aws-secret-access-key", f'AWS_SECRET_ACCESS_KEY: "{quoted}"', quoted),
        # An unnamed 40-character value two lines below an access key ID.
        ("aws-secret-access-key", f"id: {fakes.aws_key_id()}\nregion: eu-west-1\n{near}\n", near),
    ]


def _github() -> list[tuple[str, str, str]]:
    cases = []
    for prefix in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"):
        token = fakes.github_token(prefix)
        cases.append(("github-token", f'GITHUB_TOKEN = "{token}"', token))
    pat = fakes.fine_grained_github_token()
    cases.append(("github-fine-grained-token", f"token: {pat}", pat))
    return cases


def _gitlab() -> list[tuple[str, str, str]]:
    cases = []
    for prefix in ("glpat-", "gldt-", "glrt-", "glft-", "glsoat-"):
        token = fakes.gitlab_token(prefix)
        cases.append(("gitlab-token", f"GITLAB_TOKEN={token}", token))
    routable = fakes.gitlab_token() + ".01." + fakes.random_string(9)
    trigger = fakes.gitlab_trigger_token()
    build = "glcbt-64_" + fakes.random_string(20)
    registration = fakes.gitlab_runner_registration_token()
    cases += [
        ("gitlab-token", f"token {routable}.", routable),
        ("gitlab-token", f"curl -F token={trigger} https://gitlab.invalid", trigger),
        ("gitlab-token", f"CI_JOB_TOKEN: {build}", build),
        ("gitlab-runner-registration-token", f"--registration-token {registration}", registration),
    ]
    return cases


def _slack() -> list[tuple[str, str, str]]:
    cases = []
    for prefix in ("xoxb-", "xoxp-", "xoxa-", "xoxr-"):
        token = fakes.slack_token(prefix)
        cases.append(("slack-token", f"SLACK_TOKEN={token}", token))
    webhook = fakes.slack_webhook()
    cases.append(("slack-webhook", f'url = "{webhook}"', webhook))
    return cases


def _vendors() -> list[tuple[str, str, str]]:
    live, restricted, test = (
        fakes.stripe_key(),
        fakes.stripe_key("rk_live_"),
        fakes.stripe_key("sk_test_"),
    )
    npm, pypi = fakes.npm_token(), fakes.pypi_token()
    cases = [
        ("stripe-key", f"stripe.api_key = '{live}'", live),
        ("stripe-key", f"STRIPE={restricted}", restricted),
        ("stripe-test-key", f"STRIPE_TEST={test}", test),
        ("npm-token", f"//registry.npmjs.org/:_authToken={npm}", npm),
        ("pypi-token", f"password = {pypi}", pypi),
    ]
    for prefix in ("hvs.", "hvb.", "hvr."):
        token = fakes.vault_token(prefix)
        cases.append(("vault-token", f"VAULT_TOKEN={token}", token))
    trailing = fakes.vault_token()
    cases.append(("vault-token", f"The token was {trailing}.", trailing))
    return cases


def _azure() -> list[tuple[str, str, str]]:
    connection = fakes.azure_connection_string()
    account_key = connection.split("AccountKey=")[1].split(";")[0]
    sig_last, sig_first, in_string = (
        fakes.azure_sas_signature(),
        fakes.azure_sas_signature(),
        fakes.azure_sas_signature(),
    )
    blob = "https://fakeaccount.blob.core.windows.net/container/file.txt"
    return [
        ("azure-storage-connection-string", f'conn = "{connection}"', account_key),
        (
            "azure-sas-token",
            f"{blob}?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&sig={sig_last}",
            sig_last,
        ),
        ("azure-sas-token", f"{blob}?sig={sig_first}&se=2030-01-01&sp=r&sv=2021-08-06", sig_first),
        ("azure-sas-token", f'"sas": "sv=2021-08-06&sp=rl&sig={in_string}"', in_string),
    ]


def _keys() -> list[tuple[str, str, str]]:
    cases = []
    for kind in ("RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED ", "DSA "):
        body = fakes.pem_body()
        pem = f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(body)
        pem += f"\n-----END {kind}PRIVATE KEY-----\n"
        cases.append(("private-key", f"# key\n{pem}", "".join(body)))
    body = fakes.pem_body()
    one_line = "-----BEGIN RSA PRIVATE KEY-----\\n" + "\\n".join(body)
    one_line += "\\n-----END RSA PRIVATE KEY-----\\n"
    cases.append(("private-key", f'{{"tls": {{"key": "{one_line}"}}}}', "".join(body)))
    crlf_body = fakes.pem_body()
    crlf = "-----BEGIN PRIVATE KEY-----\r\n" + "\r\n".join(crlf_body)
    crlf += "\r\n-----END PRIVATE KEY-----"
    cases.append(("private-key", crlf, "".join(crlf_body)))
    service_account = fakes.gcp_service_account_json()
    sa_body = service_account.split("-----BEGIN PRIVATE KEY-----\\n")[1].split("\\n-----END")[0]
    cases.append(("gcp-service-account-key", service_account, sa_body.replace("\\n", "")))
    return cases


def _structured() -> list[tuple[str, str, str]]:
    token = fakes.jwt()
    password, encoded = fakes.password(), fakes.random_string(12) + "%40" + fakes.random_string(6)
    whole_encoded = fakes.random_string(16)
    assigned, bare, yaml_value = fakes.password(), fakes.random_string(24), fakes.random_string(30)
    return [
        ("jwt", f"Authorization: Bearer {token}", token),
        ("url-credentials", f"DB=postgres://admin:{password}@db.internal:5432/app", password),
        ("url-credentials", f"redis://cache-user:{encoded}@cache.internal:6379/0", encoded),
        (
            "url-credentials",
            f"next=https%3A%2F%2Fdeploy%3A{whole_encoded}%40git.internal%2Frepo",
            whole_encoded,
        ),
        ("generic-secret-assignment", f'password = "{assigned}"', assigned),
        ("generic-secret-assignment", f"export DB_PASSWORD={bare}9", bare + "9"),
        ("generic-secret-assignment", f"  client_secret: {yaml_value}1", yaml_value + "1"),
        ("generic-secret-assignment", f'{{"apiKey": "{assigned}"}}', assigned),
    ]


def _plugins() -> list[tuple[str, str, str]]:
    openai = "sk-" + fakes.random_string(20) + "T3BlbkFJ" + fakes.random_string(20)
    sendgrid = "SG." + fakes.random_string(22) + "." + fakes.random_string(43)
    cloudant = fakes.random_string(24, "abcdefghijklmnopqrstuvwxyz")
    lower = "abcdefghijklmnopqrstuvwxyz0123456789"
    iam, hmac = fakes.random_string(44, fakes.URLSAFE), fakes.random_string(48, HEX)
    softlayer, mailchimp = fakes.random_string(64, lower), fakes.random_string(32, lower) + "-us12"
    square, artifactory = "sq0csp-" + fakes.random_string(43), "AKC" + fakes.random_string(60)
    return [
        ("cloudant-credentials", f'cloudant_password = "{cloudant}"', cloudant),
        ("ibm-cloud-iam-key", f'ibm_cloud_iam_key = "{iam}"', iam),
        ("ibm-cos-hmac-key", f"cos_hmac_secret_access_key = {hmac}", hmac),
        ("softlayer-key", f'softlayer_api_key = "{softlayer}"', softlayer),
        ("mailchimp-key", f"MAILCHIMP = {mailchimp}", mailchimp),
        ("square-oauth-secret", f"SQUARE_SECRET={square}", square),
        ("artifactory-token", f'"artifactory": "{artifactory}"', artifactory),
        ("openai-key", f"OPENAI_API_KEY={openai}", openai),
        ("sendgrid-key", f"sendgrid: {sendgrid}", sendgrid),
    ]


TRUE_POSITIVES: list[tuple[str, str, str]] = [
    *_aws(),
    *_github(),
    *_gitlab(),
    *_slack(),
    *_vendors(),
    *_azure(),
    *_keys(),
    *_structured(),
    *_plugins(),
]

_sha = fakes.random_string(40, HEX)
_integrity = "sha512-" + fakes.random_string(86, fakes.B64) + "=="

FALSE_POSITIVES: list[tuple[str, str]] = [
    # References to secrets held elsewhere.
    ("actions expression", "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"),
    ("actions expression quoted", 'password: "${{ secrets.DB_PASSWORD }}"'),
    ("shell variable", "password = $DB_PASSWORD"),
    ("braced variable", 'api_key = "${API_KEY}"'),
    ("braced default", "secret_key=${SECRET_KEY:-}"),
    ("windows variable", "set TOKEN=%MY_TOKEN%"),
    ("environment lookup", 'token = os.environ["GITHUB_TOKEN"]'),
    ("process env", "const apiKey = process.env.API_KEY;"),
    ("template", 'password: "{{ .Values.db.password }}"'),
    ("function call", "password = get_password(user)"),
    ("attribute", "password=self.password_value"),
    ("type annotation", "password: str"),
    ("settings attribute", "secret_key = settings.SECRET_KEY"),
    # Placeholders.
    ("angle placeholder", 'api_key = "<your-token>"'),
    ("bracket placeholder", "token: [YOUR_TOKEN]"),
    ("changeme", 'password: "changeme"'),
    ("change_me", "DB_PASSWORD=change_me_please"),
    ("xxxx", 'token = "xxxxxxxxxxxxxxxxxxxx"'),
    ("xxxx github", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
    ("all same", 'secret = "aaaaaaaaaaaaaaaaaaaa"'),
    ("all same stars", 'password = "********************"'),
    ("your key", "api_key: your-api-key-here"),
    ("aws documentation id", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
    (
        "aws documentation secret",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    ("slack placeholder", "SLACK_TOKEN=xoxb-your-token-here"),
    ("pem placeholder", "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----\n"),
    ("pem header in code", 'if line.startswith("-----BEGIN PRIVATE KEY-----"):'),
    ("jwt placeholder", "Authorization: Bearer eyJxxxxxxxxxx.eyJxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxx"),
    # Identifiers and hashes.
    ("uuid", 'api_key = "123e4567-e89b-12d3-a456-426614174000"'),
    ("uuid upper", "TOKEN=123E4567-E89B-12D3-A456-426614174000"),
    ("git sha", f'token = "{_sha}"'),
    ("git sha bare", f"commit_token: {_sha}"),
    ("sha256 hex", f'secret_hash = "{fakes.random_string(64, HEX)}"'),
    ("npm integrity", f'"integrity": "{_integrity}",'),
    ("integrity under token name", f'"js-tokens": "{_integrity}"'),
    ("yarn resolved", f'resolved "https://registry.yarnpkg.com/x/-/x-1.0.0.tgz#{_sha}"'),
    ("camelCase", 'password = "getPasswordFromVault"'),
    ("PascalCase", "token: RefreshTokenProvider"),
    ("dotted path", 'secret = "app.config.secret_key"'),
    ("npm config identifier", "npm_config_registry=https://registry.npmjs.org/"),
    ("aws user id is not a key", "arn:aws:iam::123456789012:user/AIDAJQABLZS4A3QDU576Q"),
    # URLs without a password.
    ("url variable", "https://user:${PASSWORD}@host.internal/"),
    ("url port", "https://host.internal:8080@mirror"),
    ("url actions expression", "https://x:${{ secrets.GITHUB_TOKEN }}@github.com/o/r"),
    ("url trivial", "postgres://user:password@localhost/db"),
    ("url documentation host", "https://alice:s3cr3tP4ss@example.com/path"),
    ("ssh remote", "git@github.com:owner/repo.git"),
    # Short or low-entropy values.
    ("short", 'password = "hunter2"'),
    ("word with digit", "password=hunter2hunter2"),
    ("path", 'private_key = "/etc/ssl/private/key.pem"'),
    ("url value", 'token_url = "https://auth.internal/oauth/token"'),
    ("comparison", 'if token == "":'),
]

FALSE_POSITIVES += [
    ("url windows variable", "https://deploy:%DEPLOY_PASSWORD%@git.internal/repo"),
    ("url percent-encoded variable", "https://deploy:%24%7BTOKEN%7D@git.internal/repo"),
]
_percent_password = "%25" + fakes.password()
TRUE_POSITIVES += [
    ("url-credentials", f"https://deploy:{_percent_password}@git.internal/r", _percent_password),
]
FALSE_POSITIVES += [
    ("type annotation with digits", "private_key: Ed25519PrivateKey | Ed448PrivateKey"),
    ("camelCase with digits", 'secret = "base64UrlDecode2Bytes"'),
]
FALSE_POSITIVES += [
    ("readable slug", '"token": "account-59",'),
    ("readable name", "secret_name: deploy-bot-credentials"),
]
_letters = fakes.random_string(18, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
TRUE_POSITIVES += [
    ("generic-secret-assignment", f'db_password = "{_letters}"', _letters),
]
FALSE_POSITIVES += [
    ("constant name", "token = DEFAULT_TOKEN_NAME"),
    ("lowercase word", 'secret = "thisisnotarealsecret"'),
]
FALSE_POSITIVES += [
    ("f-string in url", "url = f'postgres://app:{self.password}@db.internal:5432/app'"),
    ("format field", 'TOKEN: "{other_token}"'),
    ("format call", "token = '{token_value}'.format(token_value=token)"),
    ("variable path", 'export AWS_WEB_IDENTITY_TOKEN_FILE="$CI_BUILDS_DIR/aws-web-identity-token"'),
]
FALSE_POSITIVES += [
    ("format field with call", """GITHUB_TOKEN = '{self.crc32_token('ghp_')}'"""),
    ("urn", 'TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"'),
]
FALSE_POSITIVES += [
    ("url fixed oauth password", "url = f'https://{token}:x-oauth-basic@github.com/o/r.git'"),
]
_oauth_user = fakes.github_token()
TRUE_POSITIVES += [
    ("github-token", f"https://{_oauth_user}:x-oauth-basic@github.com/o/r.git", _oauth_user),
]


def _credentials() -> list[tuple[str, str, str]]:
    import base64
    import json

    password, other, basic_password = fakes.password(), fakes.password(), fakes.password()
    basic = base64.b64encode(f"deploy:{basic_password}".encode()).decode()
    bearer = fakes.random_string(40)
    auth = base64.b64encode(f"bot:{fakes.password()}".encode()).decode()
    docker_config = base64.b64encode(
        json.dumps({"auths": {"registry.test": {"auth": auth}}}).encode()
    ).decode()
    encoded_key = base64.b64encode(fakes.gcp_service_account_json().encode()).decode()
    maven = f"<server><id>repo</id><username>ci</username><password>{password}</password>"
    return [
        ("maven-password", maven + "</server>", password),
        ("basic-auth-header", f"Authorization: Basic {basic}", basic),
        ("basic-auth-header", f'curl -H "Authorization: Basic {basic}" https://x.test', basic),
        ("bearer-token", f'headers = {{"Authorization": "Bearer {bearer}"}}', bearer),
        ("command-line-password", f"curl -sSf -u admin:{other} https://x.test/api", other),
        ("command-line-password", f"docker login -u ci -p {password} registry.test", password),
        ("command-line-password", f"docker login --password={other} r.test", other),
        ("docker-registry-auth", json.dumps({"auths": {"r.test": {"auth": auth}}}), auth),
        ("docker-registry-auth", f"  .dockerconfigjson: {docker_config}", docker_config),
        ("gcp-service-account-key", f"GOOGLE_CREDENTIALS={encoded_key}", encoded_key),
    ]


TRUE_POSITIVES += _credentials()
FALSE_POSITIVES += [
    ("maven property", "<password>${env.MAVEN_PASSWORD}</password>"),
    ("basic auth variable", 'curl -H "Authorization: Basic $CREDENTIALS" https://x.test'),
    ("basic auth not a pair", "Authorization: Basic aGVsbG93b3JsZA=="),
    ("bearer variable", 'curl -H "Authorization: Bearer ${TOKEN}" https://x.test'),
    ("bearer word", "Authorization: Bearer authentication-is-required-here"),
    ("curl user only", "curl -u admin https://x.test"),
    ("curl user variable", 'curl -u "admin:$PASSWORD" https://x.test'),
    ("docker password stdin", "echo $PW | docker login -u ci --password-stdin r.test"),
    ("docker password variable", "docker login -u ci -p $CI_REGISTRY_PASSWORD r.test"),
    ("docker auth placeholder", '{"auths": {"r.test": {"auth": "<base64>"}}}'),
]


def _other_json_key() -> list[tuple[str, str, str]]:
    import json

    body = fakes.pem_body()
    key = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
    document = json.dumps({"type": "tls", "private_key": key, "cert": "x"}, indent=2)
    return [("private-key", document, "".join(body))]


TRUE_POSITIVES += _other_json_key()

_crypt = "./" + fakes.ALNUM
FALSE_POSITIVES += [
    ("bcrypt hash", f'password_hash = "$2b$12${fakes.random_string(53, _crypt)}"'),
    ("bcrypt hash in json", f'  "password": "$2y$10${fakes.random_string(53, _crypt)}"'),
    (
        "argon2 hash",
        f"PASSWORD = '$argon2id$v=19$m=65536,t=3,p=4${fakes.random_string(22, fakes.B64)}"
        f"${fakes.random_string(43, fakes.B64)}'",
    ),
    ("sha512-crypt hash", f"password: $6$saltsalt${fakes.random_string(86, _crypt)}"),
]
