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
