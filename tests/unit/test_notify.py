"""The hub subscribes only as widely as this process's consumers need."""

from __future__ import annotations

import asyncio

import pytest

from jobqueue import Job, JobQueue
from jobqueue.models import Claimant, JobStatus, Progress
from jobqueue.notify import Interest

WAIT_SECONDS = 5.0


def make_queue() -> JobQueue:
    queue = JobQueue("memory://")

    @queue.task
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    return queue


def interest(queue: JobQueue) -> Interest:
    return queue.hub.interest


async def test_a_queue_follows_every_change_once_open() -> None:
    async with make_queue() as queue:
        assert interest(queue) is Interest.CHANGES


async def test_a_worker_that_submits_keeps_to_work_changes() -> None:
    queue = make_queue()
    await queue.open(interest=Interest.WORK)
    async with queue:
        await queue.submit("echo", {"n": 1})
        assert interest(queue) is Interest.WORK


async def test_a_worker_follows_work_changes_and_a_waiter_widens_to_every_change() -> None:
    queue = make_queue()
    await queue.open(interest=Interest.WORK)
    async with queue:
        hub = queue.hub
        work = asyncio.Event()
        hub.add_work_event(work)
        assert interest(queue) is Interest.WORK
        await asyncio.sleep(0)  # the hub subscribes when its task first runs
        await queue.submit("echo", {"n": 1})
        await asyncio.wait_for(work.wait(), WAIT_SECONDS)

        job = await queue.submit("echo", {"n": 2})
        with hub.watching(job.job_id) as watch:
            assert interest(queue) is Interest.CHANGES
            await asyncio.sleep(0)  # the wider subscription starts when its task first runs
            cancelled = await queue.cancel(job.job_id)
            async with asyncio.timeout(WAIT_SECONDS):
                while not watch.may_be_terminal:  # earlier changes may arrive first
                    await watch.changed()
        assert cancelled.status is JobStatus.CANCELLED

        # Work keeps being announced through the wider subscription.
        work.clear()
        await queue.submit("echo", {"n": 3})
        await asyncio.wait_for(work.wait(), WAIT_SECONDS)
        hub.discard_work_event(work)


async def test_closing_the_queue_unsubscribes() -> None:
    queue = make_queue()
    async with queue:
        queue.hub.add_work_event(asyncio.Event())
        with queue.hub.watching("any"):
            pass
    assert interest(queue) is Interest.NONE


async def test_wait_reads_the_job_again_only_once_it_may_be_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with make_queue() as queue:
        job = await queue.submit("echo", {"n": 1})
        reads: list[str] = []
        read = queue.get

        async def counted(job_id: str) -> Job | None:
            reads.append(job_id)
            return await read(job_id)

        monkeypatch.setattr(queue, "get", counted)
        waiter = asyncio.create_task(queue.wait(job.job_id, timeout=WAIT_SECONDS))
        await asyncio.sleep(0.01)
        store, now = queue.store, queue.clock.now()
        [claim] = await store.claim(Claimant("w", frozenset({"echo"}), 30.0), 1, now)
        for step in range(5):
            await store.record_progress(claim.lease, Progress(step, 5), now)
            await asyncio.sleep(0)
        await store.complete(claim.lease, {"n": 1}, now)

        done = await waiter
    assert done.status is JobStatus.COMPLETED
    assert reads == [job.job_id, job.job_id]


async def test_missed_changes_wake_every_waiter_to_read_again() -> None:
    async with make_queue() as queue:
        job = await queue.submit("echo", {"n": 1})
        with queue.hub.watching(job.job_id) as watch:
            await asyncio.sleep(0)  # the hub subscribes when its task first runs
            # What a store's feed says when it is back from an outage:
            queue.store._broadcaster.publish(None)  # type: ignore[attr-defined]
            await asyncio.wait_for(watch.changed(), WAIT_SECONDS)
            assert watch.may_be_terminal


async def test_missed_changes_are_reported_to_loss_listeners_until_removed() -> None:
    async with make_queue() as queue:
        losses: list[str] = []
        lost = asyncio.Event()

        def on_loss() -> None:
            losses.append("lost")
            lost.set()

        queue.hub.add_loss_listener(on_loss)
        await asyncio.sleep(0)  # the hub subscribes when its task first runs
        queue.store._broadcaster.publish(None)  # type: ignore[attr-defined]
        await asyncio.wait_for(lost.wait(), WAIT_SECONDS)
        queue.hub.remove_loss_listener(on_loss)
        queue.hub.wake_all()
    assert losses == ["lost"]
