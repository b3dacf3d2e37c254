"""Claims: what becomes of a claimed job, which jobs are ready, in which order, how many."""

from __future__ import annotations

from datetime import timedelta

from jobqueue.models import JobStatus
from jobqueue.stores import Store
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    TASK,
    claim_one,
    claimant,
    current,
    submit,
)


async def test_a_claim_starts_an_attempt_under_a_lease(store: Store, clock) -> None:
    job = await submit(store, clock)
    clock.advance(3)

    [claim] = await store.claim(claimant("worker-1"), 10, clock.now())

    claimed = claim.job
    assert claimed.job_id == job.job_id
    assert claimed.status is JobStatus.PROCESSING
    assert claimed.version > job.version
    assert claimed.attempts == 1
    assert claimed.started_at == clock.now()
    assert claimed.worker_id == "worker-1"
    assert claimed.lease_expires_at == clock.now() + timedelta(seconds=LEASE_SECONDS)
    assert claim.lease.job_id == job.job_id
    assert claim.lease.token
    assert await current(store, clock, job.job_id) == claimed


async def test_a_claimed_job_is_not_claimed_again(store: Store, clock) -> None:
    await submit(store, clock)
    await claim_one(store, clock)
    assert await store.claim(claimant("worker-2"), 10, clock.now()) == []


async def test_an_empty_store_has_nothing_to_claim(store: Store, clock) -> None:
    assert await store.claim(claimant("worker-1"), 10, clock.now()) == []


async def test_higher_priority_goes_first(store: Store, clock) -> None:
    ids: dict[int, list[str]] = {}
    for priority in (0, 5, -3, 10, 5):
        ids.setdefault(priority, []).append((await submit(store, clock, priority=priority)).job_id)
        clock.advance(1)

    order = [(await claim_one(store, clock)).job.job_id for _ in range(5)]

    assert order == [*ids[10], *ids[5], *ids[0], *ids[-3]]


async def test_among_equal_priorities_the_oldest_run_at_goes_first(store: Store, clock) -> None:
    delayed = await submit(store, clock, delay_seconds=10)  # created first, runs later
    clock.advance(1)
    soon = await submit(store, clock)
    clock.advance(20)

    order = [(await claim_one(store, clock)).job.job_id for _ in range(2)]

    assert order == [soon.job_id, delayed.job_id]


async def test_among_equal_run_at_the_oldest_created_goes_first(store: Store, clock) -> None:
    older = await submit(store, clock, delay_seconds=5)
    clock.advance(5)
    newer = await submit(store, clock)  # same run_at as older
    assert newer.run_at == older.run_at

    order = [(await claim_one(store, clock)).job.job_id for _ in range(2)]

    assert order == [older.job_id, newer.job_id]


async def test_a_batch_claims_up_to_the_limit_best_first(store: Store, clock) -> None:
    jobs = []
    for priority in range(5):
        jobs.append(await submit(store, clock, priority=priority))
        clock.advance(1)

    first = await store.claim(claimant("worker-1"), 3, clock.now())
    second = await store.claim(claimant("worker-1"), 3, clock.now())

    assert [c.job.job_id for c in first] == [j.job_id for j in reversed(jobs[2:])]
    assert [c.job.job_id for c in second] == [j.job_id for j in reversed(jobs[:2])]
    assert len({c.lease.token for c in first + second}) == 5


async def test_a_delayed_job_waits_for_its_run_at(store: Store, clock) -> None:
    job = await submit(store, clock, delay_seconds=60)

    clock.advance(59.999)
    assert await store.claim(claimant("worker-1"), 1, clock.now()) == []

    clock.advance(0.001)
    assert (await claim_one(store, clock)).job.job_id == job.job_id


async def test_a_delayed_job_does_not_hold_back_ready_ones(store: Store, clock) -> None:
    await submit(store, clock, priority=10, delay_seconds=60)
    ready = await submit(store, clock, priority=0)

    claims = await store.claim(claimant("worker-1"), 5, clock.now())

    assert [c.job.job_id for c in claims] == [ready.job_id]


async def test_only_the_given_tasks_are_claimed(store: Store, clock) -> None:
    a = await submit(store, clock, task="a", priority=1)
    b = await submit(store, clock, task="b", priority=2)
    c = await submit(store, clock, task="c", priority=3)

    assert await store.claim(claimant("worker-1", []), 5, clock.now()) == []
    assert await store.claim(claimant("worker-1", ["zzz"]), 5, clock.now()) == []
    claims = await store.claim(claimant("worker-1", ["a", "b"]), 5, clock.now())

    assert [claim.job.job_id for claim in claims] == [b.job_id, a.job_id]
    assert (await current(store, clock, c.job_id)).status is JobStatus.QUEUED


async def test_next_run_at_is_the_earliest_queued_run_at(store: Store, clock) -> None:
    assert await store.next_run_at([TASK], clock.now()) is None

    later = await submit(store, clock, delay_seconds=50)
    sooner = await submit(store, clock, delay_seconds=20)
    await submit(store, clock, task="other", delay_seconds=5)

    assert await store.next_run_at([TASK], clock.now()) == sooner.run_at
    assert await store.next_run_at(["nothing"], clock.now()) is None

    clock.advance(20)
    await claim_one(store, clock)
    assert await store.next_run_at([TASK], clock.now()) == later.run_at
