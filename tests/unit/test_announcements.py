"""The lifecycle announces each subscribed event once, however the job gets there: a
delivery job of the built-in task, carrying the job as it was then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobqueue import FakeClock, JobQueue, JobStatus, Webhook
from jobqueue.lifecycle import Cancelled, Completed, Failed, HandedBack, TimedOut
from jobqueue.models import Claimant, Job, NewJob
from jobqueue.webhooks.deliveries import deliveries_of
from jobqueue.webhooks.messages import DELIVERY_TASK, new_delivery

EVERY = Webhook("https://93.184.215.14/hooks", ("started", "completed", "failed", "cancelled"))
CLAIMANT = Claimant("worker-1", frozenset({"work"}), 30.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(clock: FakeClock) -> AsyncIterator[JobQueue]:
    q = JobQueue("memory://", clock=clock)

    @q.task(max_attempts=2)
    async def work(payload: Any) -> None: ...

    async with q:
        yield q


def _message(delivery: Job | NewJob) -> dict[str, Any]:
    assert isinstance(delivery.payload, dict)
    return delivery.payload


async def _messages(queue: JobQueue, job: Job) -> list[tuple[str, str]]:
    found = await deliveries_of(queue, job.job_id)
    assert all(delivery.task == DELIVERY_TASK for delivery in found)
    return [(_message(d)["type"], _message(d)["data"]["status"]) for d in found]


async def _claim(queue: JobQueue) -> Any:
    [claim] = await queue.lifecycle.claim(CLAIMANT, 1)
    return claim


async def test_a_completed_job_announces_its_start_and_its_result(
    queue: JobQueue, clock: FakeClock
) -> None:
    job = await queue.submit("work", 1, webhook=EVERY)
    claim = await _claim(queue)
    clock.advance(1)
    await queue.lifecycle.finish(claim, Completed({"ok": True}))

    assert await _messages(queue, job) == [
        ("job.started", "processing"),
        ("job.completed", "completed"),
    ]
    [_, completed] = await deliveries_of(queue, job.job_id)
    assert _message(completed)["data"]["result"] == {"ok": True}
    assert _message(completed)["url"] == EVERY.url
    assert completed.max_attempts == queue.tasks.resolve(DELIVERY_TASK).options.max_attempts


async def test_a_retried_failure_is_not_an_end_but_the_last_one_is(
    queue: JobQueue, clock: FakeClock
) -> None:
    job = await queue.submit("work", 1, webhook=Webhook(EVERY.url, ("failed",)))
    await queue.lifecycle.finish(await _claim(queue), Failed("first"))
    assert await _messages(queue, job) == []
    clock.advance(3600)
    await queue.lifecycle.finish(await _claim(queue), TimedOut(5))
    assert await _messages(queue, job) == [("job.failed", "failed")]


async def test_cancelling_announces_once_the_job_is_cancelled(queue: JobQueue) -> None:
    queued = await queue.submit("work", 1, webhook=Webhook(EVERY.url, ("cancelled",)))
    await queue.cancel(queued.job_id)
    running = await queue.submit("work", 2, webhook=Webhook(EVERY.url, ("cancelled",)))
    claim = await _claim(queue)
    await queue.cancel(running.job_id)
    assert await _messages(queue, running) == []
    await queue.lifecycle.finish(claim, Cancelled())

    assert await _messages(queue, queued) == [("job.cancelled", "cancelled")]
    assert await _messages(queue, running) == [("job.cancelled", "cancelled")]


async def test_a_lost_worker_s_last_attempt_is_announced_as_failed(
    queue: JobQueue, clock: FakeClock
) -> None:
    job = await queue.submit("work", 1, max_attempts=1, webhook=EVERY)
    await _claim(queue)
    clock.advance(60)
    await queue.maintain_once()
    assert await _messages(queue, job) == [("job.started", "processing"), ("job.failed", "failed")]


async def test_only_subscribed_events_of_jobs_with_a_webhook(queue: JobQueue) -> None:
    plain = await queue.submit("work", 1)
    ends = await queue.submit("work", 2, webhook={"url": EVERY.url})
    for _ in range(2):
        claim = await _claim(queue)
        await queue.lifecycle.finish(claim, Completed(None))
    handed = await queue.submit("work", 3, webhook=EVERY)
    await queue.lifecycle.finish(await _claim(queue), HandedBack())

    assert await _messages(queue, plain) == []
    assert await _messages(queue, ends) == [("job.completed", "completed")]
    assert await _messages(queue, handed) == [("job.started", "processing")]
    assert (await queue.get(handed.job_id)).status is JobStatus.QUEUED  # type: ignore[union-attr]


async def test_one_event_makes_one_message_with_one_webhook_id(queue: JobQueue) -> None:
    job = await queue.submit("work", 1, webhook=EVERY)
    first = new_delivery(job, "started", queue.clock.now(), max_attempts=3)
    again = new_delivery(job, "started", queue.clock.now(), max_attempts=3)
    later = new_delivery(job, "completed", queue.clock.now(), max_attempts=3)

    assert _message(first)["webhookId"] == _message(again)["webhookId"]
    assert _message(first)["webhookId"] != _message(later)["webhookId"]
    created = [await queue.enqueue(new) for new in (first, again)]
    assert [submission.created for submission in created] == [True, False]
    assert len(await deliveries_of(queue, job.job_id)) == 1
