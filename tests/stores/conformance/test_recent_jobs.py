"""`RecentJobs`, the reads a server answers from memory: never older than what its hub has
announced, on every store, whoever wrote the change (another store instance stands for
another process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest

from jobqueue import JobQueue
from jobqueue.clock import FakeClock
from jobqueue.models import Change, Job, Progress
from jobqueue.recent import RecentJobs
from jobqueue.stores import Store
from jobqueue.waiting import SAFETY_SECONDS
from tests.stores.conformance.helpers import claim_one, submit


@pytest.fixture
async def queue(store: Store, clock: FakeClock) -> AsyncIterator[JobQueue]:
    """A queue on `store` subscribed to every change, as an API server is."""
    queue = JobQueue(store, clock=clock)
    await queue.open()
    await _subscribed(queue)
    yield queue
    await queue.hub.stop()


async def _subscribed(queue: JobQueue) -> None:
    async with asyncio.timeout(5):
        while not queue.hub.is_subscribed:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # the subscription itself is made inside the store's iterator


async def _announced(queue: JobQueue, job_id: str, write: Awaitable[object]) -> None:
    """Make *write* and return once *queue*'s hub has announced it."""
    with queue.hub.watching(job_id) as watch:
        await write
        await watch.changed(timeout=5)


class CountedReads:
    """A `RecentJobs` on the queue's hub whose store reads are counted."""

    def __init__(self, queue: JobQueue) -> None:
        self.reads = 0
        self._queue = queue
        self.recent = RecentJobs(queue.hub, self._read, queue.clock)

    async def _read(self, job_id: str) -> Job | None:
        self.reads += 1
        return await self._queue.get(job_id)


async def test_a_job_read_again_comes_from_memory(queue: JobQueue, clock: FakeClock) -> None:
    job = await submit(queue.store, clock)
    counted = CountedReads(queue)
    first = await counted.recent.get(job.job_id)
    second = await counted.recent.get(job.job_id)

    assert first is not None
    assert first.version == job.version
    assert second == first
    assert counted.reads == 1
    assert len(counted.recent) == 1


async def test_another_processs_change_is_seen_as_soon_as_it_is_announced(
    queue: JobQueue, clock: FakeClock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_sibling()
    job = await submit(other, clock)
    claim = await claim_one(other, clock)
    seen = [await queue.recent.get(job.job_id)]
    for tick in range(1, 6):
        progress = Progress(tick, 5)
        await _announced(
            queue, job.job_id, other.record_progress(claim.lease, progress, clock.now())
        )
        seen.append(await queue.recent.get(job.job_id))

    versions = [each.version for each in seen if each is not None]
    assert versions == sorted(set(versions))  # each read: the newest announced
    assert len(versions) == 6
    assert seen[-1] is not None
    assert seen[-1].progress == Progress(5, 5)


async def test_concurrent_reads_of_one_job_share_one_store_read(
    store: Store, clock: FakeClock
) -> None:
    job = await submit(store, clock)
    reads = 0

    async def read(job_id: str) -> Job | None:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.05)
        return await store.get(job_id, clock.now())

    queue = JobQueue(store, clock=clock)
    recent = RecentJobs(queue.hub, read, clock)
    answers = await asyncio.gather(*(recent.get(job.job_id) for _ in range(50)))
    await queue.hub.stop()

    assert reads == 1
    assert {answer.version for answer in answers if answer is not None} == {job.version}


async def test_a_read_overtaken_by_a_change_is_not_kept(queue: JobQueue, clock: FakeClock) -> None:
    job = await submit(queue.store, clock)
    release = asyncio.Event()

    async def slow_read(job_id: str) -> Job | None:
        read = await queue.store.get(job_id, clock.now())
        await release.wait()
        return read

    recent = RecentJobs(queue.hub, slow_read, clock)
    reading = asyncio.ensure_future(recent.get(job.job_id))
    await asyncio.sleep(0.05)
    queue.hub.dispatch(Change(job.job_id, job.version + 1, job.status))  # a change meanwhile
    release.set()
    await reading

    assert len(recent) == 0


async def test_a_write_through_the_queue_is_read_back(queue: JobQueue, clock: FakeClock) -> None:
    job = await submit(queue.store, clock)
    await queue.recent.get(job.job_id)
    cancelled = await queue.cancel(job.job_id)  # no waiting for the announcement

    read = await queue.recent.get(job.job_id)
    assert read is not None
    assert read.version == cancelled.version


async def test_lost_changes_empty_it_and_age_bounds_it(queue: JobQueue, clock: FakeClock) -> None:
    job = await submit(queue.store, clock)
    counted = CountedReads(queue)
    await counted.recent.get(job.job_id)
    queue.hub.wake_all()  # what the hub does when changes may have been missed
    assert len(counted.recent) == 0

    await counted.recent.get(job.job_id)
    clock.advance(SAFETY_SECONDS)
    await counted.recent.get(job.job_id)
    assert counted.reads == 3


async def test_an_expired_job_is_not_answered_from_memory(
    queue: JobQueue, clock: FakeClock
) -> None:
    job = await submit(queue.store, clock, ttl_seconds=1.0)
    claim = await claim_one(queue.store, clock)
    await _announced(queue, job.job_id, queue.store.complete(claim.lease, None, clock.now()))
    assert await queue.recent.get(job.job_id) is not None
    clock.advance(timedelta(seconds=2).total_seconds())

    assert await queue.recent.get(job.job_id) is None
