"""Checksums embedded in token formats; a valid one makes a match near-certain."""

from __future__ import annotations

import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, width: int) -> str:
    """Encode `number` in base 62, left-padded with '0' to `width` characters."""
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = BASE62[remainder] + digits
    return digits.rjust(width, "0")


def crc32_base62_valid(body: str) -> bool:
    """Check a body whose last 6 characters are the base-62 CRC32 of the rest.

    GitHub's classic tokens (ghp_, gho_, ghu_, ghs_, ghr_) and npm's `npm_` tokens
    append this to 30 random characters, as GitHub described when it introduced
    the formats in 2021.
    """
    if len(body) <= 6:
        return False
    payload, checksum = body[:-6], body[-6:]
    return base62(zlib.crc32(payload.encode("ascii", "replace")), 6) == checksum
