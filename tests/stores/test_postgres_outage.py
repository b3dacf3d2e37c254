"""The PostgreSQL store through a real outage: a private server of its own is stopped and
started again, as a restart or a failover would.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from jobqueue.errors import StoreUnavailable
from jobqueue.models import Claimant, JobStatus
from jobqueue.stores.postgres import PostgresStore
from tests.stores.conformance.helpers import (
    TASK,
    WAIT_SECONDS,
    Watcher,
    claim_one,
    new_job,
    submit,
)
from tests.stores.private_servers import PrivatePostgres, private_postgres

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from jobqueue.clock import FakeClock

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
async def server() -> AsyncIterator[PrivatePostgres]:
    """A private server, started; stopped and deleted afterwards."""
    async with private_postgres() as private:
        yield private


async def _unavailable(operation: Callable[[], Awaitable[object]]) -> None:
    """*operation* must fail with StoreUnavailable, and soon (a hang fails the wait)."""
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(operation(), WAIT_SECONDS)


async def _answers_again(store: PostgresStore) -> None:
    async with asyncio.timeout(WAIT_SECONDS * 4):
        while True:
            try:
                await store.ping()
            except StoreUnavailable:
                await asyncio.sleep(0.2)
            else:
                return


async def test_the_store_fails_fast_during_an_outage_and_recovers(
    server: PrivatePostgres, clock: FakeClock
) -> None:
    store = PostgresStore(server.url, timeout=1.0)
    await store.open()
    try:
        queued = [await submit(store, clock) for _ in range(3)]
        running = await claim_one(store, clock)
        async with Watcher(store) as watcher:
            await watcher.prime(lambda: submit(store, clock, task="priming"))

            await server.stop()
            await _unavailable(store.ping)
            await _unavailable(lambda: store.get(queued[1].job_id, clock.now()))
            await _unavailable(lambda: store.create(new_job(), clock.now()))
            await _unavailable(
                lambda: store.claim(Claimant("worker-2", frozenset({TASK}), 30.0), 5, clock.now())
            )
            await _unavailable(lambda: store.complete(running.lease, "ok", clock.now()))

            await server.start()
            # Whatever was published meanwhile is gone, and the feed says so.
            await watcher.resynced()
            await _answers_again(store)

            for job in queued[1:]:
                assert await store.get(job.job_id, clock.now()) == job
            done = await store.complete(running.lease, "ok", clock.now())
            assert done.status is JobStatus.COMPLETED
            claims = await store.claim(
                Claimant("worker-2", frozenset({TASK}), 30.0), 5, clock.now()
            )
            assert {claim.job.job_id for claim in claims} == {job.job_id for job in queued[1:]}
            # The change feed reconnected on its own.
            await watcher.prime(lambda: submit(store, clock, task="priming"))
    finally:
        await store.close()
