"""Long lines: the work per text stays linear in its length, and findings stay exact."""

from __future__ import annotations

from typing import Any, SupportsIndex

from keyless.config import Config
from keyless.scan.detectors.registry import all_detectors
from keyless.scan.engine import Engine
from tests import fakes

HEADER = "-----BEGIN PRIVATE KEY-----"


class CountingText(str):
    """A str that adds up the characters its searches and slices go over."""

    work = 0

    def _span(self, start: SupportsIndex | None, end: SupportsIndex | None) -> None:
        low = 0 if start is None else int(start)
        high = len(self) if end is None else int(end)
        CountingText.work += max(0, high - low)

    def find(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        found = str.find(self, sub, start, end)
        # A search that succeeds stops where it found `sub`.
        self._span(start, end if found < 0 else found + len(sub))
        return found

    def rfind(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        found = str.rfind(self, sub, start, end)
        self._span(start if found < 0 else found, end)
        return found

    def count(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        self._span(start, end)
        return str.count(self, sub, start, end)

    def __getitem__(self, key: Any) -> str:  # type: ignore[override]
        if isinstance(key, slice):
            self._span(key.start, key.stop)
        return str.__getitem__(self, key)


def work_for(text: str) -> int:
    CountingText.work = 0
    Engine(all_detectors(Config()), Config()).scan("long.txt", CountingText(text))
    return CountingText.work


def scan(text: str) -> list[tuple[str, int, int]]:
    result = Engine(all_detectors(Config()), Config()).scan("long.txt", text)
    return [(f.rule_id, f.location.line, f.location.column) for f in result.findings]


def test_headers_on_one_line_cost_linear_work() -> None:
    # Searches and slices over the text: a bounded multiple of its length, where
    # re-reading the rest of the line for each header was quadratic.
    text = HEADER * 2000
    assert work_for(text) < 20 * len(text)


def test_many_tokens_on_one_line_cost_linear_work() -> None:
    text = " ".join(fakes.github_token() for _ in range(2000))
    assert work_for(text) < 20 * len(text)


def test_many_urls_on_one_line_cost_linear_work() -> None:
    text = " ".join(f"https://user:{fakes.password()}@host{i}.test/" for i in range(1000))
    assert work_for(text) < 20 * len(text)


def test_private_key_body_of_headers_only() -> None:
    assert scan(HEADER * 50) == []
    assert scan("\n".join([HEADER] * 50)) == []


def test_private_key_header_without_end_then_key() -> None:
    body = fakes.pem_body()
    text = f"{HEADER}\n{HEADER}\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
    assert scan(text) == [("private-key", 2, 1)]


def test_overlapping_findings_after_many_others_are_reported_once() -> None:
    # Two detectors see the first token; the other detector's many matches come between.
    tokens = [fakes.github_token() for _ in range(100)]
    found = scan("token = " + " ".join(tokens))
    assert len(found) == len(set(found)) == len(tokens)
