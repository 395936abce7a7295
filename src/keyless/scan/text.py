"""Decode file contents to text the way editors do, or recognise them as binary."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Bytes inspected for a NUL when deciding whether a file is binary, as git does.
_BINARY_PROBE = 8000


@dataclass(frozen=True)
class Decoded:
    """Decoded text; `lossy` is True when invalid bytes were replaced with U+FFFD."""

    text: str
    encoding: str
    lossy: bool = False


def decode(data: bytes) -> Decoded | None:
    """Decode `data` as `_decode` does, with each lone CR (old Mac line end) made an LF.

    A CR and an LF are one character each, so offsets and columns stay those of the
    file, and lines are numbered as editors number them.
    """
    decoded = _decode(data)
    if decoded is None or "\r" not in decoded.text:
        return decoded
    text = _LONE_CR.sub("\n", decoded.text)
    return Decoded(text, decoded.encoding, decoded.lossy)


_LONE_CR = re.compile(r"\r(?!\n)")


def _decode(data: bytes) -> Decoded | None:
    """Decode `data` as UTF-8 (with or without BOM) or BOM-marked UTF-16/32; None if binary.

    Invalid UTF-8 is decoded with replacement characters rather than dropped, so the
    ASCII secrets in a file with a few bad bytes are still found.
    """
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        # NOTE: a Latin-1 file that happens to start with bytes FF FE is decoded as
        # UTF-16 and its text is lost; checking the decoded text for sense would catch it.
        if data.startswith(bom):
            try:
                return Decoded(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                return Decoded(data.decode(encoding, "replace"), encoding, lossy=True)
    if b"\0" in data[:_BINARY_PROBE]:
        return None
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        return Decoded(data.decode("utf-8", "replace"), "utf-8", lossy=True)
