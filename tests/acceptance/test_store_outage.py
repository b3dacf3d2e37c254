"""A server and a worker process through an outage of their store (a private Redis or a
private PostgreSQL, stopped and started again): meanwhile the server answers 503 with
Retry-After instead of hanging, and the worker stays up; afterwards every job is there,
all complete, and none ran twice because of the outage.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.acceptance.jobs_api import TASK, all_jobs, submit, wait_until_completed
from tests.acceptance.processes import until
from tests.stores.private_servers import PrivateRedis, private_postgres

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    import httpx

    from tests.acceptance.processes import Processes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

JOBS = 20
CONCURRENCY = 10
PAYLOAD = {"sleep": 3}
"""Long enough that the jobs running when the store stops end while it is down."""
WAIT_SECONDS = 60.0
"""How long anything may take to happen (a safety net, not a measurement)."""


@dataclass(frozen=True, slots=True)
class PrivateStore:
    """A store server of the test's own, and how to stop and start it."""

    url: str
    stop: Callable[[], Awaitable[None]]
    start: Callable[[], Awaitable[None]]


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
async def private_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[PrivateStore]:
    """A private Redis (append-only file, so data survives a restart) or PostgreSQL."""
    if request.param == "redis":
        directory = tmp_path / "redis"
        directory.mkdir()
        redis = PrivateRedis(directory)
        await redis.start()
        try:
            yield PrivateStore(redis.url, lambda: asyncio.to_thread(redis.stop), redis.start)
        finally:
            redis.stop()
    else:
        async with private_postgres() as postgres:
            yield PrivateStore(postgres.url, postgres.stop, postgres.start)


@pytest.fixture
def store_url(private_store: PrivateStore) -> str:
    """The processes of these tests run on the private store."""
    return private_store.url


def _assert_unavailable(answer: httpx.Response) -> None:
    """A 503 problem with a Retry-After, as API.md promises while the store is down."""
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert int(answer.headers["retry-after"]) >= 1
    body = answer.json()
    assert body["status"] == 503
    assert body["error"]


async def test_an_outage_loses_no_job_and_runs_none_twice(
    private_store: PrivateStore, processes: Processes, client: httpx.AsyncClient
) -> None:
    service = await processes.serve()
    worker = processes.worker("--concurrency", str(CONCURRENCY))
    url, log = service.base_url, processes.log
    ids = [await submit(client, url, PAYLOAD) for _ in range(JOBS)]
    await until(lambda: len(log.count("start")) >= CONCURRENCY, WAIT_SECONDS)

    await private_store.stop()
    running = set(log.count("start")) - set(log.count("done"))
    assert running, "no job was running when the store stopped"
    submitted = await client.post(f"{url}/api/jobs", json={"task": TASK, "payload": PAYLOAD})
    _assert_unavailable(submitted)
    _assert_unavailable(await client.get(f"{url}/api/jobs/{ids[-1]}"))
    assert (await client.get(f"{url}/healthz")).status_code == 503
    # The jobs that were running end while the store is down: their outcome must wait.
    await until(lambda: running <= set(log.count("done")), WAIT_SECONDS)
    assert worker.poll() is None
    assert service.process.poll() is None

    await private_store.start()
    await wait_until_completed(client, url, JOBS, WAIT_SECONDS)

    jobs = await all_jobs(client, url)
    assert jobs.keys() == set(ids)  # the submit answered 503 created nothing
    assert {job["status"] for job in jobs.values()} == {"completed"}
    assert log.count("start") == dict.fromkeys(ids, 1)
    assert worker.poll() is None
