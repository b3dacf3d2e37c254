"""Queue positions: how many ready jobs of the same task a claim takes before a job."""

from __future__ import annotations

import random

from jobqueue.models import JobStatus
from jobqueue.stores import Store
from tests.stores.conformance.helpers import claim_one, job_in, submit

LIMIT = 10_000


async def test_positions_are_the_claim_order(store: Store, clock) -> None:
    chooser = random.Random(7)
    jobs = []
    for n in range(24):
        # Ties on purpose: equal priorities, equal run times, equal creation times.
        delay = chooser.choice([0, 0, 1, 2])
        jobs.append(
            await submit(store, clock, priority=chooser.choice([0, 0, 5, -1]), delay_seconds=delay)
        )
        if n % 3 == 0:
            clock.advance(1)
    clock.advance(5)  # every delayed job is due
    now = clock.now()

    positions = {job.job_id: await store.queue_position(job.job_id, now, LIMIT) for job in jobs}
    claimed = [(await claim_one(store, clock)).job.job_id for _ in jobs]

    assert [positions[job_id] for job_id in claimed] == list(range(len(jobs)))


async def test_a_claim_moves_every_job_behind_it_up(store: Store, clock) -> None:
    first, second, third = [await submit(store, clock) for _ in range(3)]
    await claim_one(store, clock)

    assert await store.queue_position(first.job_id, clock.now(), LIMIT) is None
    assert await store.queue_position(second.job_id, clock.now(), LIMIT) == 0
    assert await store.queue_position(third.job_id, clock.now(), LIMIT) == 1


async def test_only_ready_jobs_of_the_same_task_count(store: Store, clock) -> None:
    await submit(store, clock, task="other", priority=9)
    await submit(store, clock, priority=9, delay_seconds=60)  # not due: not ahead
    due_later = await submit(store, clock, delay_seconds=60)
    job = await submit(store, clock)

    assert await store.queue_position(job.job_id, clock.now(), LIMIT) == 0
    assert await store.queue_position(due_later.job_id, clock.now(), LIMIT) is None
    clock.advance(61)  # both delayed jobs are due: the urgent one first, then by run time
    assert await store.queue_position(job.job_id, clock.now(), LIMIT) == 1
    assert await store.queue_position(due_later.job_id, clock.now(), LIMIT) == 2


async def test_a_job_not_waiting_has_no_position(store: Store, clock) -> None:
    for status in (JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.CANCELLED):
        claim = await job_in(store, clock, status)
        assert await store.queue_position(claim.job.job_id, clock.now(), LIMIT) is None
    assert await store.queue_position("no-such-job", clock.now(), LIMIT) is None


async def test_beyond_the_limit_the_position_is_not_counted(store: Store, clock) -> None:
    ahead = [await submit(store, clock, priority=n % 2) for n in range(4)]
    job = await submit(store, clock)

    assert await store.queue_position(job.job_id, clock.now(), 4) == 4
    assert await store.queue_position(job.job_id, clock.now(), 3) is None
    assert await store.queue_position(ahead[0].job_id, clock.now(), 3) == 2
