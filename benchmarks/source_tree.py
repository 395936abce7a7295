"""Generate a reproducible source tree with planted secrets, for scanner benchmarks.

The tree mixes Python, JavaScript, YAML, JSON, INI and Markdown files built from
templates of ordinary code: identifiers, URLs, hashes, UUIDs, base64 blobs,
references such as `${{ secrets.X }}` and placeholders. Secrets of many types are
planted at known lines and listed in a manifest, so recall can be measured.
Every value comes from one seeded `random.Random`, so a seed gives the same tree.
"""

from __future__ import annotations

import base64
import json
import random
import string
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
WORDS = [
    "account",
    "user",
    "order",
    "item",
    "cache",
    "client",
    "server",
    "request",
    "response",
    "handler",
    "config",
    "value",
    "index",
    "record",
    "buffer",
    "stream",
    "queue",
    "worker",
    "job",
    "task",
    "event",
    "message",
    "payload",
    "result",
    "error",
    "status",
    "count",
    "total",
    "limit",
    "offset",
    "page",
    "size",
    "name",
    "path",
    "file",
    "folder",
    "route",
    "model",
    "view",
    "service",
    "session",
    "context",
    "logger",
    "metric",
    "report",
    "schema",
    "table",
    "column",
    "field",
    "key",
    "token",
]


@dataclass(frozen=True)
class Planted:
    """A secret written into the tree: where its first character is, and its type."""

    path: str
    line: int
    kind: str


class Generator:
    """Build file contents line by line from a seeded random source."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, length: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def word(self) -> str:
        return self.rng.choice(WORDS)

    def name(self) -> str:
        return "_".join(self.word() for _ in range(self.rng.randint(1, 3)))

    def camel(self) -> str:
        first, *rest = (self.word() for _ in range(self.rng.randint(2, 3)))
        return first + "".join(w.capitalize() for w in rest)

    # Ordinary lines, none of which is a secret.
    def noise_line(self) -> str:
        choices: list[Callable[[], str]] = [
            lambda: f"    {self.name()} = {self.name()}({self.name()}, {self.rng.randint(0, 999)})",
            lambda: f"def {self.name()}({self.name()}, {self.name()}=None):",
            lambda: f"    return {self.camel()}.{self.name()}()",
            lambda: f"# {' '.join(self.word() for _ in range(self.rng.randint(4, 12)))}",
            lambda: f'    "{self.name()}": "{self.word()}-{self.rng.randint(1, 99)}",',
            lambda: f"const {self.camel()} = require('./{self.word()}/{self.word()}');",
            lambda: (
                f"  {self.word()}_url: https://{self.word()}.internal/{self.word()}/{self.word()}"
            ),
            lambda: f'    "integrity": "sha512-{self.text(86, B64)}==",',
            lambda: f"    commit = '{self.text(40, HEX)}'",
            lambda: f"    request_id = '{self.uuid()}'",
            lambda: f"    {self.word()}_token = os.environ['{self.word().upper()}_TOKEN']",
            lambda: "      GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
            lambda: f"    password = ${{{self.word().upper()}_PASSWORD}}",
            lambda: f'    api_key = "<your-{self.word()}-key>"',
            lambda: f"    icon = '{base64.b64encode(self.rng.randbytes(45)).decode()}'",
            lambda: f"    {self.name()}_key = {self.camel()}Key",
            lambda: f"    if {self.name()} > {self.rng.randint(0, 9)}: {self.name()} += 1",
            lambda: "",
        ]
        return self.rng.choice(choices)()

    def uuid(self) -> str:
        raw = self.text(32, HEX)
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    # Secrets: (kind, lines); the secret starts on the first line.
    def secret(self) -> tuple[str, list[str]]:
        kind = self.rng.choice(list(self._secret_makers()))
        return kind, self._secret_makers()[kind]()

    def _secret_makers(self) -> dict[str, Callable[[], list[str]]]:
        return {
            "aws-access-key-id": lambda: [
                f"aws_access_key_id = AKIA{self.text(16, string.ascii_uppercase + '234567')}"
            ],
            "aws-secret-access-key": lambda: [f"aws_secret_access_key = {self.text(40, B64)}"],
            "github-token": lambda: [f"GITHUB_TOKEN = '{self.crc32_token('ghp_')}'"],
            "gitlab-token": lambda: [f"  GITLAB_TOKEN: glpat-{self.text(20)}"],
            "slack-token": lambda: [
                f"SLACK_BOT = 'xoxb-{self.text(12, string.digits)}-"
                f"{self.text(13, string.digits)}-{self.text(24)}'"
            ],
            "slack-webhook": lambda: [
                f"webhook: https://hooks.slack.com/services/T{self.text(8, string.ascii_uppercase)}"
                f"/B{self.text(8, string.ascii_uppercase)}/{self.text(24)}"
            ],
            "stripe-key": lambda: [f"stripe.api_key = 'sk_live_{self.text(24)}'"],
            "npm-token": lambda: [f"//registry.npmjs.org/:_authToken={self.crc32_token('npm_')}"],
            "pypi-token": lambda: [f"password = pypi-AgEIcHlwaS5vcmc{self.text(70, ALNUM + '-_')}"],
            "jwt": lambda: [f"    headers = {{'Authorization': 'Bearer {self.jwt()}'}}"],
            "private-key": self.private_key,
            "url-credentials": lambda: [
                f"DATABASE_URL = 'postgres://app:{self.text(16)}@db.internal:5432/app'"
            ],
            "password-assignment": lambda: [f'    db_password = "{self.text(18, ALNUM + "!#%")}"'],
            "azure-storage-connection-string": lambda: [
                "conn = 'DefaultEndpointsProtocol=https;AccountName=acct;"
                f"AccountKey={self.text(86, B64)}==;EndpointSuffix=core.windows.net'"
            ],
            "vault-token": lambda: [f"export VAULT_TOKEN=hvs.{self.text(24)}"],
        }

    def crc32_token(self, prefix: str) -> str:
        body = self.text(30)
        checksum, digits = zlib.crc32(body.encode()), ""
        while checksum:
            checksum, remainder = divmod(checksum, 62)
            digits = BASE62[remainder] + digits
        return prefix + body + digits.rjust(6, "0")

    def jwt(self) -> str:
        def part(data: dict[str, object]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        header = part({"alg": "HS256", "typ": "JWT"})
        payload = part(
            {"sub": self.text(12), "iat": self.rng.randint(1_600_000_000, 1_800_000_000)}
        )
        return f"{header}.{payload}.{self.text(43, ALNUM + '-_')}"

    def private_key(self) -> list[str]:
        body = [self.text(64, B64) for _ in range(12)]
        return ["-----BEGIN RSA PRIVATE KEY-----", *body, "-----END RSA PRIVATE KEY-----"]


SUFFIXES = (".py", ".js", ".yml", ".json", ".ini", ".md")


def generate(root: Path, size_bytes: int, seed: int, secret_every: int = 40_000) -> list[Planted]:
    """Write a tree of about `size_bytes` under `root`; return the planted secrets.

    One secret is planted per `secret_every` bytes on average, at a random line.
    """
    generator = Generator(seed)
    planted: list[Planted] = []
    written, index = 0, 0
    while written < size_bytes:
        folder = f"pkg{index % 23:02d}/{generator.word()}"
        path = f"{folder}/{generator.name()}_{index}{generator.rng.choice(SUFFIXES)}"
        lines: list[str] = []
        target = generator.rng.randint(4_000, 30_000)
        length = 0
        while length < target:
            if generator.rng.random() < 60 / secret_every:
                kind, secret_lines = generator.secret()
                planted.append(Planted(path, len(lines) + 1, kind))
                lines.extend(secret_lines)
            else:
                lines.append(generator.noise_line())
            length += len(lines[-1]) + 1
        content = "\n".join(lines) + "\n"
        file_path = root / path
        file_path.parent.mkdir(parents=True, exist_ok=True)
        file_path.write_text(content, encoding="utf-8")
        written += len(content.encode())
        index += 1
    return planted
