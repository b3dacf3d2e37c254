"""Claims under a task's terms: costs against the claim's slots, the room per task, and
the running jobs counted in every worker, per task and per concurrency key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from jobqueue.models import Claimant, JobFilter, JobStatus, TaskTerms
from jobqueue.stores import Store
from tests.stores.conformance.helpers import LEASE_SECONDS, TASK, submit


def claimant_with(terms: TaskTerms, worker_id: str = "worker-1", **more: TaskTerms) -> Claimant:
    """A claimant of `TASK` (and the tasks named in *more*) under these terms."""
    every = {TASK: terms, **more}
    return Claimant(worker_id, frozenset(every), LEASE_SECONDS, every)


async def _claimed(store: Store, clock, claimant: Claimant, slots: int) -> list[str]:
    return [claim.job.job_id for claim in await store.claim(claimant, slots, clock.now())]


async def _keys(store: Store, clock, keys: list[str | None]) -> list[str]:
    return [(await submit(store, clock, concurrency_key=key)).job_id for key in keys]


async def test_a_job_takes_its_tasks_cost_in_slots(store: Store, clock) -> None:
    jobs = [(await submit(store, clock)).job_id for _ in range(3)]

    assert await _claimed(store, clock, claimant_with(TaskTerms(cost=2)), 5) == jobs[:2]


async def test_the_claim_ends_at_the_first_job_that_does_not_fit(store: Store, clock) -> None:
    big = await submit(store, clock, task="big")
    small = await submit(store, clock)
    claimant = claimant_with(TaskTerms(), big=TaskTerms(cost=3))

    assert await _claimed(store, clock, claimant, 2) == []
    assert await _claimed(store, clock, claimant, 4) == [big.job_id, small.job_id]


async def test_most_bounds_what_one_claim_takes_of_a_task(store: Store, clock) -> None:
    jobs = [(await submit(store, clock)).job_id for _ in range(3)]

    assert await _claimed(store, clock, claimant_with(TaskTerms(most=1)), 5) == jobs[:1]


async def test_global_concurrency_counts_every_workers_running_jobs(store: Store, clock) -> None:
    jobs = [(await submit(store, clock)).job_id for _ in range(4)]
    terms = TaskTerms(global_concurrency=2)

    first = await store.claim(claimant_with(terms), 5, clock.now())
    assert [claim.job.job_id for claim in first] == jobs[:2]
    assert await _claimed(store, clock, claimant_with(terms, "worker-2"), 5) == []

    await store.complete(first[0].lease, None, clock.now())
    assert await _claimed(store, clock, claimant_with(terms, "worker-2"), 5) == jobs[2:3]


async def test_a_key_at_its_limit_is_passed_over_and_the_rest_still_claimed(
    store: Store, clock
) -> None:
    a1, a2, b1, free, a3 = await _keys(store, clock, ["a", "a", "b", None, "a"])
    terms = TaskTerms(key_concurrency=1)

    first = await store.claim(claimant_with(terms), 5, clock.now())
    assert [claim.job.job_id for claim in first] == [a1, b1, free]
    assert await _claimed(store, clock, claimant_with(terms, "worker-2"), 5) == []

    await store.fail(first[0].lease, "boom", None, clock.now())
    assert await _claimed(store, clock, claimant_with(terms, "worker-2"), 5) == [a2]
    jobs = await store.list_jobs(
        JobFilter(statuses=frozenset({JobStatus.QUEUED})), 10, None, clock.now()
    )
    assert [job.job_id for job in jobs.jobs] == [a3]


async def test_a_long_run_of_one_saturated_key_does_not_hold_back_the_jobs_behind_it(
    store: Store, clock
) -> None:
    keyed = await _keys(store, clock, ["a"] * 30)
    behind = await _keys(store, clock, [None, "b"])

    claimed = await _claimed(store, clock, claimant_with(TaskTerms(key_concurrency=1)), 3)

    assert claimed == [keyed[0], *behind]


async def test_a_lost_lease_gives_its_key_slot_back(store: Store, clock) -> None:
    (job,) = await _keys(store, clock, ["a"])
    (other,) = await _keys(store, clock, ["a"])
    terms = TaskTerms(key_concurrency=1)
    assert await _claimed(store, clock, claimant_with(terms), 5) == [job]

    clock.advance(LEASE_SECONDS + 1)
    await store.reap_expired_leases(clock.now())

    assert set(await _claimed(store, clock, claimant_with(terms, "worker-2"), 1)) <= {job, other}


async def _race_under_limits(stores: list[Store], clock) -> None:
    await _keys(stores[0], clock, ["a", "b", "c", None] * 6)
    terms = TaskTerms(global_concurrency=5, key_concurrency=2)

    claims = await asyncio.gather(
        *(
            stores[i % len(stores)].claim(claimant_with(terms, f"worker-{i}"), 3, clock.now())
            for i in range(9)
        )
    )

    running = [claim.job for batch in claims for claim in batch]
    assert len(running) == 5
    for key in "abc":
        assert sum(job.concurrency_key == key for job in running) <= 2


async def test_racing_claimers_never_exceed_the_limits(store: Store, clock) -> None:
    await _race_under_limits([store], clock)


async def test_racing_claimers_on_several_stores_never_exceed_the_limits(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    await _race_under_limits([store, await open_sibling(), await open_sibling()], clock)
