"""Maintenance: reaping expired leases and purging expired jobs."""

from __future__ import annotations

from datetime import timedelta

from jobqueue.models import JobFilter, JobStatus
from jobqueue.stores import Store
from jobqueue.stores.base import CANCELLED_ERROR, LOST_WORKER_ERROR
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    TTL_SECONDS,
    claim_one,
    current,
    job_in,
    new_job,
    running,
    submit,
)


async def test_a_live_lease_is_not_reaped(store: Store, clock) -> None:
    claim = await running(store, clock)
    clock.advance(LEASE_SECONDS - 0.001)
    assert await store.reap_expired_leases(clock.now()) == []
    assert await current(store, clock, claim.job.job_id) == claim.job


async def test_an_expired_lease_with_attempts_left_is_queued_again(store: Store, clock) -> None:
    claim = await running(store, clock, max_attempts=2)
    clock.advance(LEASE_SECONDS)

    [reaped] = await store.reap_expired_leases(clock.now())

    assert reaped.job_id == claim.job.job_id
    assert reaped.status is JobStatus.QUEUED
    assert reaped.error == LOST_WORKER_ERROR
    assert reaped.run_at == clock.now()
    assert reaped.attempts == 1
    assert reaped.version > claim.job.version
    assert reaped.worker_id is None
    assert reaped.lease_expires_at is reaped.expires_at is None
    assert await current(store, clock, reaped.job_id) == reaped
    assert (await claim_one(store, clock)).job.attempts == 2


async def test_an_expired_lease_without_attempts_left_fails(store: Store, clock) -> None:
    claim = await running(store, clock, max_attempts=1)
    clock.advance(LEASE_SECONDS + 5)

    [reaped] = await store.reap_expired_leases(clock.now())

    assert reaped.status is JobStatus.FAILED
    assert reaped.error == LOST_WORKER_ERROR
    assert reaped.attempts == 1
    assert reaped.completed_at == clock.now()
    assert reaped.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)
    assert reaped.version > claim.job.version
    assert await current(store, clock, reaped.job_id) == reaped


async def test_an_expired_lease_of_a_cancelled_job_ends_it(store: Store, clock) -> None:
    claim = await running(store, clock)
    await store.request_cancel(claim.job.job_id, clock.now())
    clock.advance(LEASE_SECONDS)

    [reaped] = await store.reap_expired_leases(clock.now())

    assert reaped.status is JobStatus.CANCELLED
    assert reaped.error == CANCELLED_ERROR
    assert reaped.completed_at == clock.now()
    assert reaped.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)


async def test_reaping_respects_the_limit(store: Store, clock) -> None:
    claims = [await running(store, clock) for _ in range(5)]
    clock.advance(LEASE_SECONDS)

    first = await store.reap_expired_leases(clock.now(), limit=3)
    second = await store.reap_expired_leases(clock.now(), limit=3)

    assert len(first) == 3
    assert len(second) == 2
    reaped = {job.job_id for job in first + second}
    assert reaped == {claim.job.job_id for claim in claims}
    assert await store.reap_expired_leases(clock.now()) == []


async def test_purge_deletes_expired_jobs(store: Store, clock) -> None:
    done = (await job_in(store, clock, JobStatus.COMPLETED)).job
    failed = (await job_in(store, clock, JobStatus.FAILED, ttl_seconds=10.0)).job
    running_job = (await job_in(store, clock, JobStatus.PROCESSING)).job
    queued = await submit(store, clock)

    clock.advance(10)
    assert await store.purge_expired(clock.now()) == 1
    assert await store.get(failed.job_id, clock.now()) is None
    assert await store.get(done.job_id, clock.now()) is not None

    clock.advance(TTL_SECONDS)
    assert await store.purge_expired(clock.now()) == 1
    assert await store.purge_expired(clock.now()) == 0
    page = await store.list_jobs(JobFilter(), 10, None, clock.now())
    assert {job.job_id for job in page.jobs} == {queued.job_id, running_job.job_id}


async def test_purge_respects_the_limit(store: Store, clock) -> None:
    for _ in range(5):
        await job_in(store, clock, JobStatus.CANCELLED)
    clock.advance(TTL_SECONDS)

    assert await store.purge_expired(clock.now(), limit=2) == 2
    assert await store.purge_expired(clock.now(), limit=2) == 2
    assert await store.purge_expired(clock.now(), limit=2) == 1
    assert await store.purge_expired(clock.now(), limit=2) == 0


async def test_purge_frees_the_idempotency_key(store: Store, clock) -> None:
    old = await job_in(store, clock, JobStatus.COMPLETED, idempotency_key="k", fingerprint="f")
    clock.advance(TTL_SECONDS)
    assert await store.purge_expired(clock.now()) == 1

    job, created = await store.create(new_job(idempotency_key="k", fingerprint="g"), clock.now())

    assert created
    assert job.job_id != old.job.job_id


async def test_a_retried_job_no_longer_expires(store: Store, clock) -> None:
    failed = (await job_in(store, clock, JobStatus.FAILED)).job
    await store.retry(failed.job_id, clock.now())
    clock.advance(TTL_SECONDS)

    assert await store.purge_expired(clock.now()) == 0
    assert (await current(store, clock, failed.job_id)).status is JobStatus.QUEUED
