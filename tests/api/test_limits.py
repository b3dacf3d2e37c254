"""Submit limits over HTTP: a full queue is 503 and a rate-limited submitter 429, each
with Retry-After, and nothing is created."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jobqueue import JobQueue
from jobqueue.api import create_app
from jobqueue.errors import ConfigError
from tests.api.conftest import client_of


def _capped_queue(clock: Any) -> JobQueue:
    queue = JobQueue("memory://", clock=clock, max_queued=3)

    @queue.task(default=True, max_queued=2)
    async def render(payload: Any) -> Any:
        return payload

    @queue.task
    async def other(payload: Any) -> Any:
        return payload

    return queue


async def _count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/api/jobs")).json()["jobs"])


async def test_a_full_queue_answers_503_with_retry_after_and_creates_nothing(
    clock: Any,
) -> None:
    async with client_of(create_app(_capped_queue(clock))) as client:
        for _ in range(2):
            assert (await client.post("/api/jobs", json={"payload": 1})).status_code == 202

        full = await client.post("/api/jobs", json={"payload": 1})

        assert full.status_code == 503
        assert full.headers["Retry-After"] == "5"
        assert full.headers["content-type"] == "application/problem+json"
        assert full.json()["error"] == "Queue full"
        assert await _count(client) == 2
        # The task's cap is reached, the queue's not yet: another task still gets in...
        ok = await client.post("/api/jobs", json={"payload": 1, "task": "other"})
        assert ok.status_code == 202
        # ...until the queue's own cap (3, every task) is.
        refused = await client.post("/api/jobs", json={"payload": 1, "task": "other"})
        assert refused.status_code == 503
        assert await _count(client) == 3


async def test_an_idempotent_replay_is_answered_when_the_queue_is_full(clock: Any) -> None:
    async with client_of(create_app(_capped_queue(clock))) as client:
        key = {"Idempotency-Key": "once"}
        first = await client.post("/api/jobs", json={"payload": 1}, headers=key)
        await client.post("/api/jobs", json={"payload": 2})

        again = await client.post("/api/jobs", json={"payload": 1}, headers=key)

        assert again.status_code == 200
        assert again.json()["jobId"] == first.json()["jobId"]


def test_the_queue_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_MAX_QUEUED", "7")
    assert JobQueue("memory://").defaults.max_queued == 7
    assert JobQueue("memory://", max_queued=2).defaults.max_queued == 2
    for bad in ("0", "-1", "many", "2.5"):
        monkeypatch.setenv("JOBQUEUE_MAX_QUEUED", bad)
        with pytest.raises(ConfigError, match="JOBQUEUE_MAX_QUEUED"):
            JobQueue("memory://")
