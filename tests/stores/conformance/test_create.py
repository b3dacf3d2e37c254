"""Creating and reading jobs, and idempotency keys: replay versus conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobqueue.errors import IdempotencyConflict
from jobqueue.models import JobFilter, JobStatus, Webhook
from jobqueue.stores import Store
from tests.stores.conformance.helpers import (
    TTL_SECONDS,
    claimant,
    current,
    new_job,
    running,
    submit,
)


async def test_create_inserts_a_queued_job(store: Store, clock) -> None:
    new = new_job(
        payload={
            "prompt": "a cat",
            "sizes": [1, 2.5],
            "ok": True,
            "none": None,
            "é": "ü 🎨",
            "escapes": 'tab\t nul\0 quote" backslash\\ \\u0000 \u2028',
        },
        priority=7,
        timeout_seconds=12.5,
        owner="alice ü 🎨",
        max_attempts=5,
        ttl_seconds=600.0,
    )
    job, created = await store.create(new, clock.now())

    assert created
    assert job.job_id == new.job_id
    assert job.task == new.task
    assert job.status is JobStatus.QUEUED
    assert job.payload == new.payload
    assert job.version == 1
    assert job.attempts == 0
    assert job.created_at == clock.now()
    assert job.run_at == clock.now()
    assert job.priority == 7
    assert job.timeout_seconds == 12.5
    assert job.owner == "alice ü 🎨"
    assert job.max_attempts == 5
    assert job.ttl_seconds == 600.0
    assert job.progress is None
    assert job.result is None
    assert job.error is None
    assert job.started_at is job.completed_at is job.expires_at is None
    assert job.worker_id is None
    assert job.lease_expires_at is None
    assert not job.is_cancel_requested
    assert await store.get(job.job_id, clock.now()) == job


async def test_a_delay_sets_run_at(store: Store, clock) -> None:
    job = await submit(store, clock, delay_seconds=90.5)
    assert job.run_at == clock.now() + timedelta(seconds=90.5)
    assert job.created_at == clock.now()


async def test_get_of_an_unknown_job_is_none(store: Store, clock) -> None:
    assert await store.get("4b0e6c1e-0000-4000-8000-000000000000", clock.now()) is None


async def test_the_same_key_and_fingerprint_replays_the_job(store: Store, clock) -> None:
    first, created = await store.create(
        new_job(idempotency_key="key-1", fingerprint="f1"), clock.now()
    )
    assert created
    clock.advance(5)
    replay, created = await store.create(
        new_job(idempotency_key="key-1", fingerprint="f1"), clock.now()
    )
    assert not created
    assert replay == first
    page = await store.list_jobs(JobFilter(), 10, None, clock.now())
    assert [job.job_id for job in page.jobs] == [first.job_id]


async def test_a_replay_returns_the_job_as_it_is_now(store: Store, clock) -> None:
    claim = await running(store, clock, idempotency_key="key-1", fingerprint="f1")
    replay, created = await store.create(
        new_job(idempotency_key="key-1", fingerprint="f1"), clock.now()
    )
    assert not created
    assert replay == await current(store, clock, claim.job.job_id)
    assert replay.status is JobStatus.PROCESSING


async def test_a_key_without_fingerprint_replays(store: Store, clock) -> None:
    first = await submit(store, clock, idempotency_key="key-1")
    replay, created = await store.create(new_job(idempotency_key="key-1"), clock.now())
    assert (replay.job_id, created) == (first.job_id, False)


async def test_the_same_key_with_another_fingerprint_conflicts(store: Store, clock) -> None:
    first = await submit(store, clock, idempotency_key="key-1", fingerprint="f1")
    rejected = new_job(idempotency_key="key-1", fingerprint="f2")
    with pytest.raises(IdempotencyConflict):
        await store.create(rejected, clock.now())

    assert await store.get(rejected.job_id, clock.now()) is None
    assert await current(store, clock, first.job_id) == first
    page = await store.list_jobs(JobFilter(), 10, None, clock.now())
    assert [job.job_id for job in page.jobs] == [first.job_id]


async def test_different_keys_create_different_jobs(store: Store, clock) -> None:
    one = await submit(store, clock, idempotency_key="key-1", fingerprint="f")
    two = await submit(store, clock, idempotency_key="key-2", fingerprint="f")
    assert one.job_id != two.job_id


async def test_the_key_of_an_expired_job_is_free_again(store: Store, clock) -> None:
    claim = await running(store, clock, idempotency_key="key-1", fingerprint="f1")
    await store.complete(claim.lease, None, clock.now())
    clock.advance(TTL_SECONDS)

    again, created = await store.create(
        new_job(idempotency_key="key-1", fingerprint="f2"), clock.now()
    )
    assert created
    assert again.job_id != claim.job.job_id

    # Purging the old job leaves the key to the new one.
    assert await store.purge_expired(clock.now()) == 1
    replay, created = await store.create(
        new_job(idempotency_key="key-1", fingerprint="f2"), clock.now()
    )
    assert (replay.job_id, created) == (again.job_id, False)


async def test_a_webhook_is_kept_with_its_job_through_every_transition(store: Store, clock) -> None:
    hook = Webhook("https://receiver.example/hooks?x=1&y=ü", ("started", "completed"))
    job = await submit(store, clock, webhook=hook)
    assert job.webhook == hook
    assert (await store.get(job.job_id, clock.now())).webhook == hook  # type: ignore[union-attr]
    [claim] = await store.claim(claimant(), 1, clock.now())
    assert claim.job.webhook == hook
    done = await store.fail(claim.lease, "boom", None, clock.now())
    assert done.webhook == hook
    page = await store.list_jobs(JobFilter(), 10, None, clock.now())
    assert [listed.webhook for listed in page.jobs] == [hook]
    assert (await submit(store, clock)).webhook is None
