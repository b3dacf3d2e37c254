"""Attempts run in threads outlive what they belong to without harm."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jobqueue.worker.execution import _in_thread


def test_a_thread_that_ends_after_its_loop_closed_raises_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", errors.append)

    def lingering() -> str:
        time.sleep(0.2)
        return "too late"

    async def abandon() -> None:
        abandoned = _in_thread(lingering, [], {})
        assert not abandoned.done()  # and nobody awaits it

    asyncio.run(abandon())
    [thread] = [t for t in threading.enumerate() if t.name == "jobqueue-lingering"]
    thread.join(5)
    assert not thread.is_alive()
    assert errors == []
