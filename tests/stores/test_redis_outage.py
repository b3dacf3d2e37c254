"""The Redis store through outages of a private server (stopped, or frozen): calls fail with
`StoreUnavailable` instead of hanging, and once the server is back the store works again
with every job kept.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import pytest

from jobqueue.errors import StoreUnavailable
from jobqueue.models import Claimant, JobFilter, JobStatus
from jobqueue.stores.redis import RedisStore
from jobqueue.stores.redis import _client as redis_client
from tests.stores.conformance.helpers import LEASE_SECONDS, TASK, WAIT_SECONDS, Watcher, submit
from tests.stores.private_servers import PrivateRedis

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from jobqueue.clock import FakeClock

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    private = PrivateRedis(tmp_path)
    await private.start()
    try:
        yield private
    finally:
        private.stop()


async def test_an_outage_fails_fast_and_the_store_recovers_every_job(
    server: PrivateRedis, clock: FakeClock
) -> None:
    store, other = RedisStore(server.url), RedisStore(server.url)
    await store.open()
    await other.open()
    try:
        jobs = [await submit(store, clock, payload={"n": n}) for n in range(5)]
        [claim] = await store.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, clock.now())
        async with Watcher(store) as watcher:
            await watcher.prime(lambda: submit(other, clock))

            server.stop()
            calls: list[Callable[[], Awaitable[object]]] = [
                store.ping,
                lambda: store.get(jobs[0].job_id, clock.now()),
                lambda: submit(store, clock),
                lambda: store.claim(
                    Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, clock.now()
                ),
                lambda: store.complete(claim.lease, "done", clock.now()),
                lambda: store.list_jobs(JobFilter(), 10, None, clock.now()),
                lambda: store.stats(clock.now()),
            ]
            # A safety net, not a measurement: each call must fail rather than hang.
            async with asyncio.timeout(WAIT_SECONDS * 2):
                for call in calls:
                    with pytest.raises(StoreUnavailable):
                        await call()

            await server.start()
            # Whatever was published meanwhile is gone, and the feed says so.
            await watcher.resynced()
            for job in jobs[1:]:
                assert await store.get(job.job_id, clock.now()) == job
            done = await store.complete(claim.lease, "done", clock.now())
            assert done.status is JobStatus.COMPLETED
            assert (await store.stats(clock.now())).tasks[TASK][JobStatus.COMPLETED] == 1
            # The change subscription found its way back by itself.
            await watcher.prime(lambda: submit(other, clock))
    finally:
        await store.close()
        await other.close()


async def test_a_frozen_server_times_calls_out_and_the_store_carries_on_after(
    server: PrivateRedis, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_client, "_CALL_TIMEOUT_SECONDS", 0.2)
    store = RedisStore(server.url)
    await store.open()
    try:
        job = await submit(store, clock)
        server.signal(signal.SIGSTOP)
        try:
            # Reads only: a write sent now would still run once the server thaws.
            for call in (
                store.ping,
                lambda: store.get(job.job_id, clock.now()),
                lambda: store.stats(clock.now()),
            ):
                with pytest.raises(StoreUnavailable):
                    await call()
        finally:
            server.signal(signal.SIGCONT)
        assert await store.get(job.job_id, clock.now()) == job
        [claim] = await store.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, clock.now())
        assert claim.job.job_id == job.job_id
    finally:
        await store.close()
