"""The hub subscribes only as widely as this process's consumers need."""

from __future__ import annotations

import asyncio

from jobqueue import JobQueue
from jobqueue.models import JobStatus
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


async def test_a_process_that_only_submits_subscribes_to_nothing() -> None:
    async with make_queue() as queue:
        await queue.submit("echo", {"n": 1})
        assert interest(queue) is Interest.NONE


async def test_a_worker_follows_signals_and_a_waiter_widens_to_every_change() -> None:
    async with make_queue() as queue:
        hub = queue.hub
        work = hub.work_signal()
        assert interest(queue) is Interest.SIGNALS
        await asyncio.sleep(0)  # the hub subscribes when its task first runs
        await queue.submit("echo", {"n": 1})
        await asyncio.wait_for(work.wait(), WAIT_SECONDS)

        job = await queue.submit("echo", {"n": 2})
        with hub.watching(job.job_id) as changed:
            assert interest(queue) is Interest.CHANGES
            cancelled = await queue.cancel(job.job_id)
            await asyncio.wait_for(changed.wait(), WAIT_SECONDS)
        assert cancelled.status is JobStatus.CANCELLED

        # Work signals keep coming through the wider subscription.
        work.clear()
        await queue.submit("echo", {"n": 3})
        await asyncio.wait_for(work.wait(), WAIT_SECONDS)
        hub.drop_work_signal(work)


async def test_closing_the_queue_unsubscribes() -> None:
    queue = make_queue()
    async with queue:
        queue.hub.work_signal()
        with queue.hub.watching("any"):
            pass
    assert interest(queue) is Interest.NONE
