"""Report JSON text: the same values as json.dumps, items below the depth on one line."""

from __future__ import annotations

import json

from keyless.report import json_text


def test_round_trips_nested_values() -> None:
    document = {
        "version": 1,
        "findings": [{"path": "a\nb.env", "line": 2, "tags": ["x", "ü"]}, {"path": "c"}],
        "skipped": {},
        "notes": [],
    }

    text = json_text.dumps(document)

    assert json.loads(text) == document
    assert text.endswith("}\n")
    assert "ü" in text


def test_items_below_depth_take_one_line_each() -> None:
    document = {"kind": "secrets", "findings": [{"a": 1, "b": [1, 2]}, {"a": 2}]}

    lines = json_text.dumps(document).splitlines()

    assert lines == [
        "{",
        '  "kind": "secrets",',
        '  "findings": [',
        '    {"a": 1, "b": [1, 2]},',
        '    {"a": 2}',
        "  ]",
        "}",
    ]


def test_depth_one_item_per_line() -> None:
    lines = json_text.dumps([{"a": {"b": 1}}, 3], depth=1).splitlines()

    assert lines == ["[", '  {"a": {"b": 1}},', "  3", "]"]
