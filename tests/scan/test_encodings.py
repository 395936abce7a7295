"""Decoding: each supported encoding gives lines and columns of the decoded text."""

from __future__ import annotations

import codecs

import pytest

from keyless.scan.text import decode
from tests import fakes
from tests.conftest import GitRepo
from tests.scan.support import located, scan_json

TOKEN = fakes.github_token()
# Line 3, column 9 once decoded: the BOM is not a character and CRLF ends a line.
TEXT = f"first\nsecond é\n  tok = {TOKEN}\n"

ENCODINGS = {
    "utf-8": TEXT.encode("utf-8"),
    "utf-8 bom": codecs.BOM_UTF8 + TEXT.encode("utf-8"),
    "utf-8 crlf": TEXT.replace("\n", "\r\n").encode("utf-8"),
    "utf-8 bom crlf": codecs.BOM_UTF8 + TEXT.replace("\n", "\r\n").encode("utf-8"),
    "utf-16 le bom": codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
    "utf-16 be bom": codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
    "utf-16 le bom crlf": codecs.BOM_UTF16_LE + TEXT.replace("\n", "\r\n").encode("utf-16-le"),
    "utf-8 lone cr": TEXT.replace("\n", "\r").encode("utf-8"),
    "utf-16 le bom lone cr": codecs.BOM_UTF16_LE + TEXT.replace("\n", "\r").encode("utf-16-le"),
    "utf-32 le bom": codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_encoding_line_and_column(
    name: str, repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("file.txt", ENCODINGS[name])
    monkeypatch.chdir(repo.path)
    result, document = scan_json(capsys)
    assert result.code == 1
    assert located(document) == [("github-token", "file.txt", 3, 9)]
    assert document["skipped"] == {}


def test_binary_is_skipped_and_counted(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.write("image.bin", b"\x89PNG\r\n\x1a\n\x00\x00" + TOKEN.encode())
    repo.write("ok.txt", "nothing\n")
    monkeypatch.chdir(repo.path)
    result, document = scan_json(capsys)
    assert result.code == 0
    assert document["findings"] == []
    assert document["skipped"] == {"binary": 1}
    assert document["scanned"] == 1


def test_utf16_without_bom_is_binary() -> None:
    assert decode(TEXT.encode("utf-16-le")) is None


def test_invalid_utf8_is_scanned_lossy() -> None:
    decoded = decode(b"caf\xe9 \xff\n" + TOKEN.encode())
    assert decoded is not None
    assert decoded.lossy
    assert decoded.text.endswith(TOKEN)
    assert decoded.text.splitlines()[0] == "caf\ufffd \ufffd"
