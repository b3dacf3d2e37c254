"""Operator actions: cancelling jobs in every status, and retrying failed or cancelled ones."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobqueue.errors import InvalidTransition, JobNotFound
from jobqueue.models import JobStatus, Progress
from jobqueue.stores import Store
from jobqueue.stores.base import CANCELLED_ERROR
from tests.stores.conformance.helpers import (
    TTL_SECONDS,
    claim_one,
    claimant,
    current,
    job_in,
    running,
    submit,
)

UNKNOWN_ID = "4b0e6c1e-0000-4000-8000-000000000000"


async def test_cancelling_a_queued_job_ends_it_at_once(store: Store, clock) -> None:
    job = await submit(store, clock)
    clock.advance(2)

    cancelled = await store.request_cancel(job.job_id, clock.now())

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.error == CANCELLED_ERROR
    assert cancelled.version > job.version
    assert cancelled.completed_at == clock.now()
    assert cancelled.expires_at == clock.now() + timedelta(seconds=TTL_SECONDS)
    assert await current(store, clock, job.job_id) == cancelled
    assert await store.claim(claimant("worker-1"), 1, clock.now()) == []


async def test_cancelling_a_running_job_flags_it_once(store: Store, clock) -> None:
    claim = await running(store, clock)

    flagged = await store.request_cancel(claim.job.job_id, clock.now())
    again = await store.request_cancel(claim.job.job_id, clock.now())

    assert flagged.status is JobStatus.PROCESSING
    assert flagged.is_cancel_requested
    assert flagged.version > claim.job.version
    assert again == flagged
    assert await current(store, clock, claim.job.job_id) == flagged
    # The worker keeps its lease until it stops the attempt.
    progressed = await store.record_progress(claim.lease, Progress(1), clock.now())
    assert progressed.is_cancel_requested


@pytest.mark.parametrize("status", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
async def test_cancelling_a_terminal_job_is_refused(store: Store, clock, status: JobStatus) -> None:
    job = (await job_in(store, clock, status)).job

    with pytest.raises(InvalidTransition) as caught:
        await store.request_cancel(job.job_id, clock.now())

    assert caught.value.job == job
    assert await current(store, clock, job.job_id) == job


async def test_cancelling_an_unknown_job_is_not_found(store: Store, clock) -> None:
    with pytest.raises(JobNotFound):
        await store.request_cancel(UNKNOWN_ID, clock.now())


async def test_cancelling_an_expired_job_is_not_found(store: Store, clock) -> None:
    job = (await job_in(store, clock, JobStatus.COMPLETED)).job
    clock.advance(TTL_SECONDS)
    with pytest.raises(JobNotFound):
        await store.request_cancel(job.job_id, clock.now())


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELLED])
async def test_retry_queues_the_job_with_a_fresh_budget(
    store: Store, clock, status: JobStatus
) -> None:
    claim = await running(store, clock)
    await store.record_progress(claim.lease, Progress(3, 4), clock.now())
    if status is JobStatus.FAILED:
        ended = await store.fail(claim.lease, "boom", None, clock.now())
    else:
        await store.request_cancel(claim.job.job_id, clock.now())
        ended = await store.finish_cancelled(claim.lease, clock.now())
    clock.advance(10)

    retried = await store.retry(claim.job.job_id, clock.now())

    assert retried.status is JobStatus.QUEUED
    assert retried.version > ended.version
    assert retried.attempts == 0
    assert retried.run_at == clock.now()
    assert retried.error is None
    assert retried.result is None
    assert retried.progress is None
    assert retried.started_at is retried.completed_at is retried.expires_at is None
    assert not retried.is_cancel_requested
    assert retried.created_at == claim.job.created_at
    again = await claim_one(store, clock)
    assert again.job.job_id == claim.job.job_id
    assert again.job.attempts == 1


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED])
async def test_retry_of_other_statuses_is_refused(store: Store, clock, status: JobStatus) -> None:
    job = (await job_in(store, clock, status)).job
    with pytest.raises(InvalidTransition) as caught:
        await store.retry(job.job_id, clock.now())
    assert caught.value.job == job
    assert await current(store, clock, job.job_id) == job


async def test_retry_of_an_unknown_job_is_not_found(store: Store, clock) -> None:
    with pytest.raises(JobNotFound):
        await store.retry(UNKNOWN_ID, clock.now())
