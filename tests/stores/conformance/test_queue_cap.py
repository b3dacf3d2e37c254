"""A queue cap refuses the job that would exceed it, inside the create, even under a race."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from jobqueue.errors import QueueFull
from jobqueue.models import JobFilter, JobStatus, QueueCap
from jobqueue.stores import Store
from tests.stores.conformance.helpers import claim_one, new_job, submit


async def _queued(store: Store, clock, task: str | None = None) -> int:
    tasks = frozenset({task}) if task else frozenset()
    where = JobFilter(statuses=frozenset({JobStatus.QUEUED}), tasks=tasks)
    return len((await store.list_jobs(where, 1000, None, clock.now())).jobs)


async def test_a_task_cap_counts_only_that_tasks_queued_jobs(store: Store, clock) -> None:
    cap = QueueCap(of_task=2)
    await submit(store, clock, queue_cap=cap)
    await submit(store, clock, queue_cap=cap)
    await submit(store, clock, task="other", queue_cap=QueueCap(of_task=1))

    with pytest.raises(QueueFull):
        await store.create(new_job(queue_cap=cap), clock.now())

    assert await _queued(store, clock, "work") == 2
    await submit(store, clock)  # a job without a cap is not refused


async def test_a_global_cap_counts_every_tasks_queued_jobs(store: Store, clock) -> None:
    cap = QueueCap(in_all=2)
    await submit(store, clock, task="a")
    await submit(store, clock, task="b")

    with pytest.raises(QueueFull):
        await store.create(new_job(task="c", queue_cap=cap), clock.now())
    assert await _queued(store, clock) == 2


async def test_a_claimed_job_frees_its_place(store: Store, clock) -> None:
    cap = QueueCap(of_task=1)
    await submit(store, clock, queue_cap=cap)
    with pytest.raises(QueueFull):
        await store.create(new_job(queue_cap=cap), clock.now())

    await claim_one(store, clock)

    await submit(store, clock, queue_cap=cap)


async def test_a_replay_is_answered_when_the_queue_is_full(store: Store, clock) -> None:
    cap = QueueCap(of_task=1)
    first = await submit(store, clock, idempotency_key="k", fingerprint="f", queue_cap=cap)

    job, created = await store.create(
        new_job(idempotency_key="k", fingerprint="f", queue_cap=cap), clock.now()
    )

    assert (job.job_id, created) == (first.job_id, False)


async def _race_to_the_cap(stores: list[Store], clock) -> None:
    cap = QueueCap(of_task=5, in_all=8)
    results = await asyncio.gather(
        *(stores[i % len(stores)].create(new_job(queue_cap=cap), clock.now()) for i in range(20)),
        return_exceptions=True,
    )

    assert sum(isinstance(result, tuple) for result in results) == 5
    assert all(isinstance(result, tuple | QueueFull) for result in results)
    assert await _queued(stores[0], clock) == 5


async def test_racing_creates_never_overshoot_the_cap(store: Store, clock) -> None:
    await _race_to_the_cap([store], clock)


async def test_racing_creates_on_several_stores_never_overshoot_the_cap(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    await _race_to_the_cap([store, await open_sibling(), await open_sibling()], clock)
