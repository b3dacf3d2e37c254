"""The lifecycle layer: what each attempt outcome does to a job, and the retry policy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jobqueue import Backoff, FakeClock, Job, JobQueue, JobStatus
from jobqueue.lifecycle import Cancelled, Completed, Failed, HandedBack, Lifecycle, TimedOut
from jobqueue.models import Claim, Claimant

TASK_BACKOFF = Backoff(base_seconds=7.0, factor=1.0, jitter=0.0)
QUEUE_BACKOFF = Backoff(base_seconds=100.0, factor=1.0, jitter=0.0)
CLAIMANT = Claimant("worker-1", frozenset({"slow", "plain"}), 30.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(clock: FakeClock) -> AsyncIterator[JobQueue]:
    q = JobQueue("memory://", clock=clock, backoff=QUEUE_BACKOFF)

    @q.task(backoff=TASK_BACKOFF, max_attempts=3)
    async def slow(payload: dict[str, int]) -> None: ...

    @q.task(max_attempts=3)
    async def plain(payload: dict[str, int]) -> None: ...

    async with q:
        yield q


async def _claimed(queue: JobQueue, task: str = "slow", **options: object) -> Claim:
    await queue.submit(task, {}, **options)  # type: ignore[arg-type]
    [claim] = await queue.lifecycle.claim(CLAIMANT, 1)
    return claim


async def _read(queue: JobQueue, job_id: str) -> Job:
    job = await queue.get(job_id)
    assert job is not None
    return job


async def _seconds_until_run(queue: JobQueue, job_id: str) -> float:
    job = await _read(queue, job_id)
    return (job.run_at - queue.clock.now()).total_seconds()


async def test_queue_use_cases_and_worker_share_one_lifecycle(queue: JobQueue) -> None:
    assert isinstance(queue.lifecycle, Lifecycle)
    assert queue.lifecycle is queue.lifecycle


async def test_completed_stores_the_result(queue: JobQueue) -> None:
    claim = await _claimed(queue)
    await queue.lifecycle.finish(claim, Completed({"ok": True}))
    job = await _read(queue, claim.job.job_id)
    assert (job.status, job.result) == (JobStatus.COMPLETED, {"ok": True})


async def test_a_failure_with_attempts_left_waits_for_the_tasks_backoff(queue: JobQueue) -> None:
    claim = await _claimed(queue)
    await queue.lifecycle.finish(claim, Failed("boom"))
    job = await _read(queue, claim.job.job_id)
    assert (job.status, job.error) == (JobStatus.QUEUED, "boom")
    assert await _seconds_until_run(queue, claim.job.job_id) == pytest.approx(7.0)


async def test_a_task_without_backoff_takes_the_queues(queue: JobQueue) -> None:
    claim = await _claimed(queue, "plain")
    await queue.lifecycle.finish(claim, Failed("boom"))
    assert await _seconds_until_run(queue, claim.job.job_id) == pytest.approx(100.0)


async def test_a_timeout_is_a_failed_attempt_retried_after_the_tasks_backoff(
    queue: JobQueue,
) -> None:
    claim = await _claimed(queue)
    await queue.lifecycle.finish(claim, TimedOut(2.5))
    job = await _read(queue, claim.job.job_id)
    assert (job.status, job.error) == (JobStatus.QUEUED, "Timed out after 2.5s")
    assert await _seconds_until_run(queue, claim.job.job_id) == pytest.approx(7.0)


async def test_a_requested_retry_delay_replaces_the_backoff(queue: JobQueue) -> None:
    claim = await _claimed(queue)
    await queue.lifecycle.finish(claim, Failed("later", retry_in=0.5))
    job = await _read(queue, claim.job.job_id)
    assert job.status is JobStatus.QUEUED
    assert await _seconds_until_run(queue, claim.job.job_id) == pytest.approx(0.5)


async def test_a_final_failure_is_never_retried(queue: JobQueue) -> None:
    claim = await _claimed(queue)
    await queue.lifecycle.finish(claim, Failed("bad input", is_final=True))
    job = await _read(queue, claim.job.job_id)
    assert (job.status, job.attempts, job.max_attempts) == (JobStatus.FAILED, 1, 3)


async def test_the_last_attempt_fails_for_good_even_when_a_retry_was_asked(
    queue: JobQueue,
) -> None:
    claim = await _claimed(queue, max_attempts=1)
    await queue.lifecycle.finish(claim, Failed("again", retry_in=0.0))
    job = await _read(queue, claim.job.job_id)
    assert job.status is JobStatus.FAILED


async def test_an_error_holding_nul_is_stored_readable(queue: JobQueue) -> None:
    claim = await _claimed(queue)
    await queue.lifecycle.finish(claim, Failed("a\0b", is_final=True))
    job = await _read(queue, claim.job.job_id)
    assert job.error == "a\ufffdb"


async def test_cancelled_and_handed_back(queue: JobQueue) -> None:
    cancelled = await _claimed(queue)
    await queue.lifecycle.finish(cancelled, Cancelled())
    handed_back = await _claimed(queue)
    await queue.lifecycle.finish(handed_back, HandedBack())
    first = await _read(queue, cancelled.job.job_id)
    second = await _read(queue, handed_back.job.job_id)
    assert first.status is JobStatus.CANCELLED
    assert (second.status, second.attempts) == (JobStatus.QUEUED, 0)


async def test_heartbeat_shows_the_worker_and_reports_cancel_requests(queue: JobQueue) -> None:
    claim = await _claimed(queue)
    await queue.cancel(claim.job.job_id)
    result = await queue.lifecycle.heartbeat(CLAIMANT, [claim.lease], host="h", pid=42)
    assert result.cancel_requested == {claim.job.job_id}
    [worker] = (await queue.stats()).workers
    assert (worker.worker_id, worker.running, worker.host, worker.pid) == ("worker-1", 1, "h", 42)
    await queue.lifecycle.worker_stopped("worker-1")
    assert not (await queue.stats()).workers


async def test_maintenance_recovers_lost_leases_and_expires_jobs(
    queue: JobQueue, clock: FakeClock
) -> None:
    lost = await _claimed(queue)
    done = await _claimed(queue)
    await queue.lifecycle.finish(done, Completed(None))
    clock.advance(86400 + 60)
    assert await queue.maintain_once() == (1, 1)
    job = await _read(queue, lost.job.job_id)
    assert job.status is JobStatus.QUEUED
    assert await queue.get(done.job.job_id) is None
