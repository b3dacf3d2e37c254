"""Change notifications: every change reaches `Store.changes`, also from other store instances."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from jobqueue.models import Change, JobStatus, Progress
from jobqueue.stores import Store
from tests.conftest import StoreMaker
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    Watcher,
    claim_one,
    submit,
)


async def test_a_created_job_is_announced(store: Store, clock) -> None:
    async with Watcher(store) as watcher:
        job = await submit(store, clock)
        assert await watcher.change_of(job) == Change(job.job_id, job.version, JobStatus.QUEUED)


async def test_each_step_of_a_job_is_announced(store: Store, clock) -> None:
    async with Watcher(store) as watcher:
        job = await submit(store, clock)
        claim = await claim_one(store, clock)
        progressed = await store.record_progress(claim.lease, Progress(1, 2), clock.now())
        done = await store.complete(claim.lease, "ok", clock.now())

        seen = [await watcher.change_of(step) for step in (job, claim.job, progressed, done)]

    assert seen == [
        Change(job.job_id, job.version, JobStatus.QUEUED),
        Change(job.job_id, claim.job.version, JobStatus.PROCESSING),
        Change(job.job_id, progressed.version, JobStatus.PROCESSING),
        Change(job.job_id, done.version, JobStatus.COMPLETED),
    ]


async def test_operator_and_maintenance_changes_are_announced(store: Store, clock) -> None:
    async with Watcher(store) as watcher:
        queued = await submit(store, clock)
        cancelled = await store.request_cancel(queued.job_id, clock.now())
        assert (await watcher.change_of(cancelled)).status is JobStatus.CANCELLED

        retried = await store.retry(queued.job_id, clock.now())
        assert (await watcher.change_of(retried)).status is JobStatus.QUEUED

        await claim_one(store, clock)
        clock.advance(LEASE_SECONDS)
        [reaped] = await store.reap_expired_leases(clock.now())
        assert await watcher.change_of(reaped) == Change(
            reaped.job_id, reaped.version, JobStatus.QUEUED
        )


async def test_the_iterator_ends_when_the_store_closes(store_maker: StoreMaker, clock) -> None:
    own = store_maker()
    await own.open()
    is_closed = False
    try:
        async with Watcher(own) as watcher:
            await submit(own, clock)
            await own.close()
            is_closed = True
            await watcher.wait_ended()
    finally:
        if not is_closed:
            await own.close()


async def test_changes_made_by_another_store_arrive(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_sibling()
    async with Watcher(store) as watcher:
        await watcher.prime(lambda: submit(other, clock, task="priming"))

        job = await submit(other, clock)
        assert (await watcher.change_of(job)).status is JobStatus.QUEUED
        claim = await claim_one(other, clock, task=job.task)
        progressed = await other.record_progress(claim.lease, Progress(5), clock.now())
        assert await watcher.change_of(progressed) == Change(
            job.job_id, progressed.version, JobStatus.PROCESSING
        )


async def test_several_iterators_each_get_every_change(store: Store, clock) -> None:
    async with Watcher(store) as first, Watcher(store) as second:
        job = await submit(store, clock)
        changes = await asyncio.gather(first.change_of(job), second.change_of(job))
    assert changes[0] == changes[1] == Change(job.job_id, job.version, JobStatus.QUEUED)


async def test_worker_changes_announce_work_and_cancel_requests(store: Store, clock) -> None:
    async with Watcher(store, worker_changes=True) as watcher:
        job = await submit(store, clock)
        assert await watcher.change_of(job) == Change(job.job_id, job.version, JobStatus.QUEUED)
        await claim_one(store, clock)
        requested = await store.request_cancel(job.job_id, clock.now())
        assert await watcher.change_of(requested) == Change(
            job.job_id, requested.version, JobStatus.PROCESSING
        )


async def test_worker_changes_from_another_store_arrive(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_sibling()
    async with Watcher(store, worker_changes=True) as watcher:
        await watcher.prime(lambda: submit(other, clock, task="priming"))
        job = await submit(other, clock)
        assert (await watcher.change_of(job)).status is JobStatus.QUEUED
        await claim_one(other, clock, task=job.task)
        requested = await other.request_cancel(job.job_id, clock.now())
        assert (await watcher.change_of(requested)).status is JobStatus.PROCESSING
