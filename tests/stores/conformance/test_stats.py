"""Stats: counts per task and status, and the workers seen within the horizon."""

from __future__ import annotations

from datetime import timedelta

from jobqueue.models import JobStatus, WorkerInfo, empty_counts
from jobqueue.stores import Store
from tests.stores.conformance.helpers import TTL_SECONDS, claimant, job_in, submit


async def test_an_empty_store_counts_nothing(store: Store, clock) -> None:
    stats = await store.stats(clock.now())
    assert dict(stats.tasks) == {}
    assert stats.totals == empty_counts()
    assert list(stats.workers) == []


async def test_counts_per_task_and_status(store: Store, clock) -> None:
    plan = {  # queued last: bringing a job to another status claims the best ready one
        "a": [JobStatus.PROCESSING, JobStatus.COMPLETED, JobStatus.QUEUED, JobStatus.QUEUED],
        "b": [JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.CANCELLED],
    }
    for task, statuses in plan.items():
        for status in statuses:
            await job_in(store, clock, status, task=task)

    stats = await store.stats(clock.now())

    expected = {task: empty_counts() for task in plan}
    for task, statuses in plan.items():
        for status in statuses:
            expected[task][status] += 1
    assert {task: dict(counts) for task, counts in stats.tasks.items()} == expected
    assert stats.totals == {
        JobStatus.QUEUED: 2,
        JobStatus.PROCESSING: 1,
        JobStatus.COMPLETED: 1,
        JobStatus.FAILED: 1,
        JobStatus.CANCELLED: 2,
    }


async def test_expired_jobs_are_not_counted(store: Store, clock) -> None:
    await job_in(store, clock, JobStatus.COMPLETED)
    await submit(store, clock)
    clock.advance(TTL_SECONDS)

    stats = await store.stats(clock.now())

    assert stats.totals[JobStatus.COMPLETED] == 0
    assert stats.totals[JobStatus.QUEUED] == 1


async def test_workers_within_the_horizon(store: Store, clock) -> None:
    now = clock.now()
    fresh = WorkerInfo("w-fresh", now, host="box", pid=41)
    edge = WorkerInfo("w-edge", now - timedelta(seconds=60), host="box", pid=42)
    stale = WorkerInfo("w-stale", now - timedelta(seconds=61), host="old", pid=43)
    for info in (fresh, edge, stale):
        await store.register_worker(info)

    stats = await store.stats(now, worker_horizon_seconds=60)
    assert sorted(stats.workers, key=lambda w: w.worker_id) == [edge, fresh]

    stats = await store.stats(now, worker_horizon_seconds=3600)
    assert {w.worker_id for w in stats.workers} == {"w-fresh", "w-edge", "w-stale"}


async def test_registering_again_updates_the_worker(store: Store, clock) -> None:
    await store.register_worker(WorkerInfo("w1", clock.now(), host="box", pid=7))
    clock.advance(5)
    later = WorkerInfo("w1", clock.now(), host="box2", pid=8)
    await store.register_worker(later)

    assert list((await store.stats(clock.now())).workers) == [later]


async def test_an_unregistered_worker_is_gone(store: Store, clock) -> None:
    await store.register_worker(WorkerInfo("w1", clock.now(), host="box", pid=7))
    await store.register_worker(WorkerInfo("w2", clock.now(), host="box", pid=8))
    await store.unregister_worker("w1")
    await store.unregister_worker("never-registered")

    assert [w.worker_id for w in (await store.stats(clock.now())).workers] == ["w2"]


async def test_running_counts_the_jobs_each_worker_holds_now(store: Store, clock) -> None:
    # As at their last heartbeat: w1 said it ran nothing, w2 three jobs it has since ended.
    await store.register_worker(WorkerInfo("w1", clock.now(), running=0, host="box", pid=1))
    await store.register_worker(WorkerInfo("w2", clock.now(), running=3, host="box", pid=2))
    for _ in range(3):
        await submit(store, clock)

    async def running() -> dict[str, int]:
        stats = await store.stats(clock.now())
        return {worker.worker_id: worker.running for worker in stats.workers}

    assert await running() == {"w1": 0, "w2": 0}
    first, second = await store.claim(claimant("w1"), 2, clock.now())
    assert await running() == {"w1": 2, "w2": 0}
    (third,) = await store.claim(claimant("w2"), 1, clock.now())
    assert await running() == {"w1": 2, "w2": 1}
    await store.complete(first.lease, None, clock.now())
    await store.fail(second.lease, "boom", clock.now(), clock.now())
    assert await running() == {"w1": 0, "w2": 1}
    await store.release(third.lease, clock.now())
    assert await running() == {"w1": 0, "w2": 0}
