"""Submit limits over HTTP: a full queue is 503 and a rate-limited submitter 429, each
with Retry-After, and nothing is created."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jobqueue import JobQueue
from jobqueue.api import ApiSettings, create_app
from jobqueue.errors import ConfigError
from jobqueue.ratelimit import RateLimit
from tests.api.conftest import client_of, make_queue


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


def _rate_limited_app(clock: Any, rate_limit: str, **settings: Any) -> Any:
    return create_app(make_queue(clock), ApiSettings(rate_limit=rate_limit, **settings))


async def test_a_submitter_over_the_rate_limit_gets_429_until_the_window_ends(
    clock: Any,
) -> None:
    async with client_of(_rate_limited_app(clock, "2/minute")) as client:
        for _ in range(2):
            assert (await client.post("/api/jobs", json={"payload": 1})).status_code == 202

        limited = await client.post("/api/jobs", json={"payload": 1})

        assert limited.status_code == 429
        assert limited.json()["error"] == "Rate limit exceeded"
        retry = int(limited.headers["Retry-After"])
        assert 1 <= retry <= 60
        assert limited.headers["RateLimit-Policy"] == '"submits-60s";q=2;w=60'
        assert limited.headers["RateLimit"] == f'"submits-60s";r=0;t={retry}'
        assert await _count(client) == 2

        clock.advance(retry)
        assert (await client.post("/api/jobs", json={"payload": 1})).status_code == 202


async def test_each_api_key_has_its_own_count(clock: Any) -> None:
    app = _rate_limited_app(clock, "1/hour", api_keys=("alice", "bob"), secret="s" * 16)
    async with client_of(app, Authorization="Bearer alice") as alice:
        assert (await alice.post("/api/jobs", json={"payload": 1})).status_code == 202
        assert (await alice.post("/api/jobs", json={"payload": 1})).status_code == 429
        bob = {"Authorization": "Bearer bob"}
        assert (await alice.post("/api/jobs", json={"payload": 1}, headers=bob)).status_code == 202


async def test_without_keys_each_client_address_has_its_own_count(clock: Any) -> None:
    app = _rate_limited_app(clock, "1/hour")
    async with app.router.lifespan_context(app):
        statuses = []
        for address in ("127.0.0.2", "127.0.0.2", "127.0.0.3"):
            transport = httpx.ASGITransport(app=app, client=(address, 4000))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                statuses.append((await client.post("/api/jobs", json={"payload": 1})).status_code)

    assert statuses == [202, 429, 202]


async def test_several_limits_each_count(clock: Any) -> None:
    async with client_of(_rate_limited_app(clock, "3/hour;1/second")) as client:
        assert (await client.post("/api/jobs", json={"payload": 1})).status_code == 202
        fast = await client.post("/api/jobs", json={"payload": 1})
        assert fast.status_code == 429
        assert fast.headers["RateLimit-Policy"] == '"submits-1s";q=1;w=1'


def test_a_malformed_rate_limit_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_RATE_LIMIT", "100/fortnight")
    with pytest.raises(ConfigError, match="100/fortnight"):
        ApiSettings.from_env()
    with pytest.raises(ConfigError, match="at least 1"):
        ApiSettings(rate_limit="0/second")
    monkeypatch.setenv("JOBQUEUE_RATE_LIMIT", "50/second")
    assert ApiSettings.from_env().rate_limits == (RateLimit(50, 1),)
