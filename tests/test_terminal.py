"""safe_line: untrusted text shown on one line that no terminal or CI runner acts on."""

from __future__ import annotations

import pytest

from keyless.terminal import safe_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repo:octo-org/app:ref:refs/heads/main", "repo:octo-org/app:ref:refs/heads/main"),
        ("Deploy\n::error title=INJ::x", "Deploy\\n::error title=INJ::x"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
        ("\x1b[0Ksection_start:1:x", "\\x1b[0Ksection_start:1:x"),
        ("nul\x00del\x7fcsi\x9b", "nul\\x00del\\x7fcsi\\x9b"),
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("admin\u202e\u2066", "admin\\u202e\\u2066"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("::error::x", "\\x3a:error::x"),
        ("  ::warning::x", "  \\x3a:warning::x"),
        ("\u3000::notice::x", "\u3000\\x3a:notice::x"),
        (":", "\\x3a"),
        ("a::b", "a::b"),
        ("x ##[error]y", "x #\\x23[error]y"),
        ("###[group]", "##\\x23[group]"),
        ("##VSO[task.setvariable]", "#\\x23VSO[task.setvariable]"),
        ("## heading [x]", "## heading [x]"),
        ("caf\u00e9 \u2713", "caf\u00e9 \u2713"),
    ],
)
def test_safe_line(text: str, expected: str) -> None:
    assert safe_line(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Deploy\n::error title=INJ::x",
        "\r::add-mask::x",
        "x\n  ::set-output name=a::b\n##[error]c\x1b]0;title\x07",
        "\v::debug::x\f::x\x85::x",
    ],
)
def test_safe_line_leaves_no_command(text: str) -> None:
    """Whatever it is given, the result is one line with no workflow command."""
    line = "  name  " + safe_line(text)
    assert line.splitlines() == [line]
    assert not line.strip().startswith("::")
    assert "##[" not in line
    assert all(char.isprintable() or char == " " for char in line)
