"""A worker whose store cannot be reached when an attempt ends: it keeps the outcome and writes
it once the store answers again, rather than leaving the finished job to run a second time.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from jobqueue import JobQueue, JobStatus
from jobqueue.errors import StoreUnavailable
from jobqueue.stores.memory import MemoryStore

from .conftest import running

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from jobqueue.errors import LeaseLost
    from jobqueue.models import Job, JSONValue, Lease


class UnreachableOnComplete(MemoryStore):
    """The reference store, except that its first *failures* completion writes (`complete`
    or `complete_many`) fail as a store that cannot be reached does.
    """

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.refused = 0

    def _refuse(self) -> None:
        if self.refused < self.failures:
            self.refused += 1
            raise StoreUnavailable

    async def complete(self, lease: Lease, result: JSONValue, now: datetime) -> Job:
        self._refuse()
        return await super().complete(lease, result, now)

    async def complete_many(
        self, completions: Sequence[tuple[Lease, JSONValue]], now: datetime
    ) -> list[LeaseLost | None]:
        self._refuse()
        return await super().complete_many(completions, now)


async def test_an_outcome_is_written_once_the_store_answers_again() -> None:
    store = UnreachableOnComplete(failures=2)
    runs: list[int] = []
    queue = JobQueue(store)

    @queue.task
    async def double(payload: int) -> int:
        runs.append(payload)
        return payload * 2

    async with queue, running(queue, lease_seconds=30):
        job = await queue.submit("double", 21)
        done = await queue.wait(job.job_id, timeout=10)

    assert store.refused == 2
    assert done.status is JobStatus.COMPLETED
    assert done.result == 42
    assert done.attempts == 1
    assert runs == [21]


async def test_shutdown_stops_retrying_once_the_grace_period_is_over() -> None:
    store = UnreachableOnComplete(failures=10**9)
    queue = JobQueue(store)

    @queue.task
    async def quick(payload: int) -> int:
        return payload

    async with queue:
        # `running` fails the test if the worker does not stop.
        async with running(queue, lease_seconds=30, shutdown_grace_seconds=0.2):
            job = await queue.submit("quick", 1)
            async with asyncio.timeout(10):
                while store.refused == 0:
                    await asyncio.sleep(0.01)
        left = await queue.get(job.job_id)

    # Not lost: it stays leased, and runs again once the lease expires.
    assert left is not None
    assert left.status is JobStatus.PROCESSING


class UnreachableAtFirst(MemoryStore):
    """The reference store, except that it cannot be opened the first *failures* times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def open(self) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable
        await super().open()


async def test_a_worker_started_during_an_outage_waits_for_the_store() -> None:
    store = UnreachableAtFirst(failures=2)
    queue = JobQueue(store)

    @queue.task
    async def echo(payload: int) -> int:
        return payload

    async with running(queue):
        async with asyncio.timeout(10):
            while store.failures:  # the worker retries with backoff meanwhile
                await asyncio.sleep(0.01)
        job = await queue.submit("echo", 7)
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED
    assert done.result == 7
    await queue.close()
