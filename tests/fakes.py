"""Obviously fake secrets, generated at test time in the real formats."""

from __future__ import annotations

import random
import string
import zlib

from keyless.scan.detectors.checksums import base62

# A fixed seed makes every run plant the same values.
_rng = random.Random(20261204)
ALNUM = string.ascii_letters + string.digits


def random_string(length: int, alphabet: str = ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(length))


def with_crc32(prefix: str, random_part: str) -> str:
    return prefix + random_part + base62(zlib.crc32(random_part.encode()), 6)


def github_token(prefix: str = "ghp_") -> str:
    return with_crc32(prefix, random_string(30))


def aws_key_id(prefix: str = "AKIA") -> str:
    return prefix + random_string(16, string.ascii_uppercase + "234567")


def aws_secret_key() -> str:
    return random_string(38, ALNUM + "/+") + "a1"


B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"


def npm_token() -> str:
    return with_crc32("npm_", random_string(30))


def fine_grained_github_token() -> str:
    return f"github_pat_{random_string(22)}_{random_string(59)}"


def gitlab_token(prefix: str = "glpat-") -> str:
    return prefix + random_string(20, URLSAFE.replace("-", ""))


def gitlab_trigger_token() -> str:
    return "glptt-" + random_string(40, "0123456789abcdef")


def gitlab_runner_registration_token() -> str:
    return "GR1348941" + random_string(20, URLSAFE.replace("-", ""))


def slack_token(prefix: str = "xoxb-") -> str:
    digits = "0123456789"
    return f"{prefix}{random_string(12, digits)}-{random_string(13, digits)}-{random_string(24)}"


def slack_webhook() -> str:
    upper = string.ascii_uppercase + string.digits
    return (
        f"https://hooks.slack.com/services/T{random_string(8, upper)}/"
        f"B{random_string(8, upper)}/{random_string(24)}"
    )


def stripe_key(prefix: str = "sk_live_") -> str:
    return prefix + random_string(24)


def pypi_token() -> str:
    return "pypi-AgEIcHlwaS5vcmc" + random_string(60, URLSAFE)


def vault_token(prefix: str = "hvs.") -> str:
    return prefix + random_string(24, URLSAFE)


def jwt() -> str:
    import base64
    import json

    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": random_string(10), "iat": 1700000000})
    return f"{header}.{payload}.{random_string(43, URLSAFE)}"


def pem_body(lines: int = 8) -> list[str]:
    return [random_string(64, B64) for _ in range(lines)]


def pem_private_key(kind: str = "RSA ") -> str:
    body = "\n".join(pem_body())
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----\n"


def gcp_service_account_json() -> str:
    import json

    key = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(pem_body()) + "\n-----END PRIVATE KEY-----\n"
    document = {
        "type": "service_account",
        "project_id": "fake-project",
        "private_key_id": random_string(40, "0123456789abcdef"),
        "private_key": key,
        "client_email": "fake@fake-project.iam.gserviceaccount.com",
    }
    return json.dumps(document, indent=2) + "\n"


def azure_account_key() -> str:
    return random_string(86, B64) + "=="


def azure_connection_string() -> str:
    return (
        "DefaultEndpointsProtocol=https;AccountName=fakeaccount;"
        f"AccountKey={azure_account_key()};EndpointSuffix=core.windows.net"
    )


def azure_sas_signature() -> str:
    return random_string(43, B64).replace("+", "%2B").replace("/", "%2F") + "%3D"


def password() -> str:
    return random_string(20, ALNUM + "!#%^*")
