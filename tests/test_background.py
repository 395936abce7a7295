"""Background: a call in a thread whose result or exception reaches the caller."""

from __future__ import annotations

import threading

import pytest

from keyless.background import Background


def test_result_is_the_calls_return_value() -> None:
    started = threading.Event()
    proceed = threading.Event()

    def work() -> str:
        started.set()
        proceed.wait(10)
        return threading.current_thread().name

    call = Background(work)
    assert started.wait(10)
    proceed.set()

    assert call.result() != threading.current_thread().name


def test_exception_is_raised_in_the_caller() -> None:
    def work() -> None:
        raise ValueError("broken on purpose")

    call = Background(work)
    call.wait()

    with pytest.raises(ValueError, match="broken on purpose"):
        call.result()
