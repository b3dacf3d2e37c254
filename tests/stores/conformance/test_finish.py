"""The worker's writes (progress, heartbeats, the ends of an attempt), all fenced by the lease."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobqueue.errors import LeaseLost
from jobqueue.models import JobStatus, Lease, Progress
from jobqueue.stores import Store
from jobqueue.stores.base import CANCELLED_ERROR
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    TTL_SECONDS,
    claim_one,
    claimant,
    current,
    running,
)


async def test_progress_is_stored_and_bumps_the_version(store: Store, clock) -> None:
    claim = await running(store, clock)
    clock.advance(1)

    first = await store.record_progress(claim.lease, Progress(1, 10, "warming up"), clock.now())
    second = await store.record_progress(claim.lease, Progress(2.5), clock.now())

    assert first.progress == Progress(1, 10, "warming up")
    assert claim.job.version < first.version < second.version
    assert second.progress == Progress(2.5, None, None)
    assert second.status is JobStatus.PROCESSING
    assert await current(store, clock, claim.job.job_id) == second


async def test_complete_stores_the_result_and_the_expiry(store: Store, clock) -> None:
    claim = await running(store, clock)
    clock.advance(4)

    done = await store.complete(claim.lease, {"url": "/x.png", "sizes": [1, 2]}, clock.now())

    assert done.status is JobStatus.COMPLETED
    assert done.result == {"url": "/x.png", "sizes": [1, 2]}
    assert done.version > claim.job.version
    assert done.completed_at == clock.now()
    assert done.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)
    assert done.attempts == 1
    assert done.worker_id is None
    assert done.lease_expires_at is None
    assert await current(store, clock, done.job_id) == done


async def test_fail_without_retry_is_final(store: Store, clock) -> None:
    claim = await running(store, clock)
    clock.advance(2)

    failed = await store.fail(claim.lease, "ValueError: nope", None, clock.now())

    assert failed.status is JobStatus.FAILED
    assert failed.error == "ValueError: nope"
    assert failed.version > claim.job.version
    assert failed.completed_at == clock.now()
    assert failed.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)
    assert failed.lease_expires_at is None
    assert await store.claim(claimant("worker-1"), 1, clock.now()) == []


async def test_fail_with_retry_at_queues_the_job_again(store: Store, clock) -> None:
    claim = await running(store, clock)
    retry_at = clock.now() + timedelta(seconds=30)

    queued = await store.fail(claim.lease, "TimeoutError", retry_at, clock.now())

    assert queued.status is JobStatus.QUEUED
    assert queued.run_at == retry_at
    assert queued.error == "TimeoutError"
    assert queued.attempts == 1
    assert queued.version > claim.job.version
    assert queued.completed_at is None
    assert queued.expires_at is None
    assert queued.worker_id is None
    assert queued.lease_expires_at is None

    clock.advance(29)
    assert await store.claim(claimant("worker-1"), 1, clock.now()) == []
    clock.advance(1)
    again = await claim_one(store, clock)
    assert again.job.attempts == 2
    assert again.lease.token != claim.lease.token


async def test_finish_cancelled_ends_a_running_job(store: Store, clock) -> None:
    claim = await running(store, clock)
    await store.request_cancel(claim.job.job_id, clock.now())
    clock.advance(1)

    cancelled = await store.finish_cancelled(claim.lease, clock.now())

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.error == CANCELLED_ERROR
    assert cancelled.completed_at == clock.now()
    assert cancelled.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)
    assert cancelled.lease_expires_at is None


async def test_release_hands_the_job_back_without_counting_the_attempt(store: Store, clock) -> None:
    claim = await running(store, clock)
    clock.advance(5)

    released = await store.release(claim.lease, clock.now())

    assert released.status is JobStatus.QUEUED
    assert released.attempts == 0
    assert released.run_at == clock.now()
    assert released.version > claim.job.version
    assert released.worker_id is None
    assert released.lease_expires_at is None
    with pytest.raises(LeaseLost):
        await store.record_progress(claim.lease, Progress(1), clock.now())
    assert (await claim_one(store, clock)).job.attempts == 1


async def test_a_heartbeat_extends_the_lease_without_a_new_version(store: Store, clock) -> None:
    claim = await running(store, clock)
    clock.advance(LEASE_SECONDS - 1)

    result = await store.heartbeat("worker-1", [claim.lease], LEASE_SECONDS, clock.now())

    assert result.lost == result.cancel_requested == frozenset()
    job = await current(store, clock, claim.job.job_id)
    assert job.lease_expires_at == clock.now() + timedelta(seconds=LEASE_SECONDS)
    assert job.version == claim.job.version

    clock.advance(LEASE_SECONDS - 1)  # past the first lease, within the renewed one
    assert await store.reap_expired_leases(clock.now()) == []
    assert (await current(store, clock, claim.job.job_id)).status is JobStatus.PROCESSING


async def test_a_heartbeat_reports_lost_leases_and_cancel_requests(store: Store, clock) -> None:
    kept = await running(store, clock)
    cancelling = await running(store, clock)
    finished = await running(store, clock)
    await store.request_cancel(cancelling.job.job_id, clock.now())
    await store.complete(finished.lease, None, clock.now())
    forged = Lease(kept.job.job_id, "not-the-token")
    unknown = Lease("4b0e6c1e-0000-4000-8000-000000000000", "token")

    result = await store.heartbeat(
        "worker-1",
        [kept.lease, cancelling.lease, finished.lease, forged, unknown],
        LEASE_SECONDS,
        clock.now(),
    )

    assert result.cancel_requested == {cancelling.job.job_id}
    assert result.lost == {finished.job.job_id, kept.job.job_id, unknown.job_id}


async def test_a_heartbeat_with_no_leases_reports_nothing(store: Store, clock) -> None:
    result = await store.heartbeat("worker-1", [], LEASE_SECONDS, clock.now())
    assert result.lost == result.cancel_requested == frozenset()


async def test_a_reaped_lease_can_no_longer_write(store: Store, clock) -> None:
    stale = await running(store, clock)
    clock.advance(LEASE_SECONDS)
    [reaped] = await store.reap_expired_leases(clock.now())
    assert reaped.status is JobStatus.QUEUED

    for write in (
        store.record_progress(stale.lease, Progress(1), clock.now()),
        store.complete(stale.lease, "late", clock.now()),
        store.fail(stale.lease, "late", None, clock.now()),
        store.fail(stale.lease, "late", clock.now(), clock.now()),
        store.finish_cancelled(stale.lease, clock.now()),
        store.release(stale.lease, clock.now()),
    ):
        with pytest.raises(LeaseLost) as caught:
            await write
        assert caught.value.job_id == stale.job.job_id
    assert await current(store, clock, stale.job.job_id) == reaped

    # The next claim holds the job; the stale lease still cannot touch it.
    fresh = await claim_one(store, clock)
    assert fresh.job.job_id == stale.job.job_id
    assert fresh.job.attempts == 2
    with pytest.raises(LeaseLost):
        await store.complete(stale.lease, "late", clock.now())
    done = await store.complete(fresh.lease, "on time", clock.now())
    assert done.result == "on time"


async def test_a_forged_token_cannot_write(store: Store, clock) -> None:
    claim = await running(store, clock)
    with pytest.raises(LeaseLost):
        await store.complete(Lease(claim.job.job_id, "forged"), None, clock.now())
    with pytest.raises(LeaseLost):
        await store.complete(Lease("4b0e6c1e-0000-4000-8000-000000000000", "x"), None, clock.now())
    assert await current(store, clock, claim.job.job_id) == claim.job


async def test_complete_many_finishes_each_and_reports_lost_leases(store: Store, clock) -> None:
    first = await running(store, clock)
    second = await running(store, clock)
    third = await running(store, clock)
    stale = Lease(second.job.job_id, "not-the-token")
    clock.advance(2)

    outcomes = await store.complete_many(
        [(first.lease, {"n": 1}), (stale, "ignored"), (third.lease, None)], clock.now()
    )

    done_first, lost, done_third = outcomes
    assert done_first is None
    assert done_third is None
    assert isinstance(lost, LeaseLost)
    assert lost.job_id == second.job.job_id
    first_now = await current(store, clock, first.job.job_id)
    third_now = await current(store, clock, third.job.job_id)
    assert (first_now.status, first_now.result) == (JobStatus.COMPLETED, {"n": 1})
    assert (third_now.status, third_now.result) == (JobStatus.COMPLETED, None)
    assert first_now.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)
    assert first_now.version == first.job.version + 1
    assert (await current(store, clock, second.job.job_id)).status is JobStatus.PROCESSING


async def test_complete_many_of_nothing_is_nothing(store: Store, clock) -> None:
    assert await store.complete_many([], clock.now()) == []
