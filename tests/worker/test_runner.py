"""The worker in-process: outcomes, retries, timeouts, cancellation, progress, hooks, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pydantic
import pytest

from jobqueue import Fail, JobContext, JobQueue, JobStatus, Retry
from jobqueue.worker import slots

from .conftest import running


class Numbers(pydantic.BaseModel):
    a: int
    b: int


async def test_async_task_completes_with_its_result(queue: JobQueue) -> None:
    @queue.task
    async def add(payload: Numbers) -> int:
        return payload.a + payload.b

    async with running(queue):
        job = await queue.submit("add", {"a": 2, "b": 3})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED
    assert done.result == 5
    assert done.attempts == 1
    assert done.completed_at is not None
    assert done.expires_at is not None


async def test_sync_task_runs_in_a_thread(queue: JobQueue) -> None:
    @queue.task
    def where(payload: dict[str, Any]) -> str:
        return threading.current_thread().name

    async with running(queue):
        job = await queue.submit("where", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED
    assert done.result != threading.current_thread().name


async def test_pydantic_result_is_stored_as_json(queue: JobQueue) -> None:
    @queue.task
    async def echo(payload: Numbers) -> Numbers:
        return payload

    async with running(queue):
        job = await queue.submit("echo", {"a": 1, "b": 2})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.result == {"a": 1, "b": 2}


async def test_result_that_is_not_json_fails_without_retry(queue: JobQueue) -> None:
    @queue.task
    async def bad(payload: dict[str, Any]) -> object:
        return object()

    async with running(queue):
        job = await queue.submit("bad", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.FAILED
    assert done.attempts == 1
    assert "not JSON" in (done.error or "")


async def test_exception_is_retried_then_fails_keeping_the_error(queue: JobQueue) -> None:
    calls: list[int] = []

    @queue.task(max_attempts=3)
    async def flaky(payload: dict[str, Any], ctx: JobContext) -> None:
        calls.append(ctx.attempt)
        raise RuntimeError(f"boom {ctx.attempt}")

    async with running(queue):
        job = await queue.submit("flaky", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert calls == [1, 2, 3]
    assert done.status is JobStatus.FAILED
    assert done.attempts == 3
    assert done.error is not None
    assert done.error.startswith("RuntimeError: boom 3")


async def test_exception_then_success(queue: JobQueue) -> None:
    @queue.task
    async def second_time_lucky(payload: dict[str, Any], ctx: JobContext) -> int:
        if ctx.attempt == 1:
            raise RuntimeError("first")
        return ctx.attempt

    async with running(queue):
        job = await queue.submit("second_time_lucky", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED
    assert done.result == 2


async def test_retry_signal_and_fail_signal(queue: JobQueue) -> None:
    @queue.task
    async def again(payload: dict[str, Any], ctx: JobContext) -> int:
        if ctx.attempt < 2:
            raise Retry(delay_seconds=0.01, reason="not yet")
        return ctx.attempt

    @queue.task(max_attempts=5)
    async def give_up(payload: dict[str, Any]) -> None:
        raise Fail("hopeless")

    async with running(queue):
        retried = await queue.submit("again", {})
        failed = await queue.submit("give_up", {})
        retried_done = await queue.wait(retried.job_id, timeout=10)
        failed_done = await queue.wait(failed.job_id, timeout=10)
    assert retried_done.result == 2
    assert failed_done.status is JobStatus.FAILED
    assert failed_done.attempts == 1
    assert failed_done.error == "Fail: hopeless"


async def test_timeout_stops_a_blocking_sync_task(queue: JobQueue) -> None:
    @queue.task(timeout=1, max_attempts=1)
    def stuck(payload: dict[str, Any]) -> None:
        time.sleep(60)

    async with running(queue):
        job = await queue.submit("stuck", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.FAILED
    assert done.error == "Timed out after 1s"


async def test_timeout_cancels_an_async_task_and_retries(queue: JobQueue) -> None:
    @queue.task
    async def slow(payload: dict[str, Any]) -> None:
        await asyncio.sleep(60)

    async with running(queue):
        job = await queue.submit("slow", {}, timeout_seconds=0.2, max_attempts=2)
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.FAILED
    assert done.attempts == 2
    assert done.error == "Timed out after 0.2s"


async def test_cancel_running_sync_task_that_ignores_cancellation(queue: JobQueue) -> None:
    started = threading.Event()

    @queue.task
    def ignores(payload: dict[str, Any]) -> None:
        started.set()
        time.sleep(60)

    async with running(queue):
        job = await queue.submit("ignores", {})
        await asyncio.to_thread(started.wait, 10)
        await queue.cancel(job.job_id)
        done = await queue.wait(job.job_id, timeout=2)
    assert done.status is JobStatus.CANCELLED
    assert done.attempts == 1


async def test_cooperative_sync_task_sees_cancelled(queue: JobQueue) -> None:
    saw: list[bool] = []

    @queue.task
    def polite(payload: dict[str, Any], ctx: JobContext) -> None:
        ctx.progress(0, message="started")
        while not ctx.cancelled:
            time.sleep(0.01)
        saw.append(True)

    async with running(queue):
        job = await queue.submit("polite", {})
        await queue.wait_for_change(job.job_id, 2, timeout=10)  # processing
        await queue.wait_for_change(job.job_id, 3, timeout=10)  # progress
        await queue.cancel(job.job_id)
        done = await queue.wait(job.job_id, timeout=2)
        for _ in range(100):
            if saw:
                break
            await asyncio.sleep(0.01)
    assert done.status is JobStatus.CANCELLED
    assert saw == [True]


async def test_progress_is_coalesced_and_the_latest_is_stored(queue: JobQueue) -> None:
    @queue.task
    async def chatty(payload: dict[str, Any], ctx: JobContext) -> str:
        for i in range(1, 1001):
            await ctx.progress(i, 1000, f"step {i}")
        return "done"

    async with running(queue):
        job = await queue.submit("chatty", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.progress is not None
    assert (done.progress.current, done.progress.total) == (1000, 1000)
    assert done.progress.message == "step 1000"
    # claim + complete + a handful of coalesced progress writes, not a thousand
    assert done.version < 20


async def test_startup_hook_runs_once_and_shares_state(queue: JobQueue) -> None:
    loads: list[int] = []

    @queue.on_startup
    async def load_model(state: Any) -> None:
        loads.append(1)
        state.model = "weights"

    @queue.task
    async def infer(payload: dict[str, Any], ctx: JobContext) -> str:
        return str(ctx.state.model)

    async with running(queue):
        jobs = [await queue.submit("infer", {}) for _ in range(5)]
        results = [(await queue.wait(j.job_id, timeout=10)).result for j in jobs]
    assert loads == [1]
    assert results == ["weights"] * 5


async def test_delayed_job_runs_after_its_delay(queue: JobQueue) -> None:
    @queue.task
    async def later(payload: dict[str, Any]) -> str:
        return "ran"

    async with running(queue):
        job = await queue.submit("later", {}, delay_seconds=0.3)
        assert (await queue.get(job.job_id)).status is JobStatus.QUEUED  # type: ignore[union-attr]
        done = await queue.wait(job.job_id, timeout=10)
    assert done.result == "ran"
    assert done.started_at is not None
    assert (done.started_at - done.created_at).total_seconds() >= 0.3


async def test_idle_worker_wakes_on_the_ready_signal_not_a_poll(
    queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slots, "SAFETY_POLL_SECONDS", 3600.0)

    @queue.task
    async def ping(payload: dict[str, Any]) -> str:
        return "pong"

    async with running(queue):
        await asyncio.sleep(0.1)  # the worker is idle, waiting
        job = await queue.submit("ping", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.result == "pong"


async def test_concurrency_limits_attempts_at_once(queue: JobQueue) -> None:
    active = 0
    peak = 0

    @queue.task
    async def busy(payload: dict[str, Any]) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.02)
        active -= 1

    async with running(queue, concurrency=3):
        jobs = [await queue.submit("busy", {}) for _ in range(12)]
        for job in jobs:
            await queue.wait(job.job_id, timeout=10)
    assert peak == 3


async def test_shutdown_hands_unfinished_jobs_back_without_counting_the_attempt(
    queue: JobQueue,
) -> None:
    started = asyncio.Event()

    @queue.task
    async def long(payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(60)

    async with running(queue, shutdown_grace_seconds=0.1):
        job = await queue.submit("long", {})
        await asyncio.wait_for(started.wait(), 10)
    after = await queue.get(job.job_id)
    assert after is not None
    assert after.status is JobStatus.QUEUED
    assert after.attempts == 0


async def test_shutdown_lets_running_jobs_finish_within_the_grace_period(
    queue: JobQueue,
) -> None:
    started = asyncio.Event()

    @queue.task
    async def short(payload: dict[str, Any]) -> str:
        started.set()
        await asyncio.sleep(0.2)
        return "finished"

    async with running(queue, shutdown_grace_seconds=10):
        job = await queue.submit("short", {})
        await asyncio.wait_for(started.wait(), 10)
    after = await queue.get(job.job_id)
    assert after is not None
    assert after.status is JobStatus.COMPLETED


def _cpu_bound(payload: dict[str, Any], ctx: JobContext) -> int:
    ctx.progress(1, 2, "spinning")
    if payload.get("forever"):
        while True:
            pass
    return 42


async def test_process_task_reports_progress_and_returns(queue: JobQueue) -> None:
    queue.task(process=True, name="cpu")(_cpu_bound)
    async with running(queue):
        job = await queue.submit("cpu", {})
        done = await queue.wait(job.job_id, timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert done.result == 42
    assert done.progress is not None
    assert done.progress.message == "spinning"


async def test_process_task_is_killed_on_timeout(queue: JobQueue) -> None:
    queue.task(process=True, name="cpu", timeout=2, max_attempts=1)(_cpu_bound)
    async with running(queue):
        job = await queue.submit("cpu", {"forever": True})
        done = await queue.wait(job.job_id, timeout=30)
    assert done.status is JobStatus.FAILED
    assert done.error == "Timed out after 2s"


async def test_heartbeats_keep_a_blocking_task_leased_past_its_lease(queue: JobQueue) -> None:
    @queue.task
    def blocking(payload: dict[str, Any]) -> str:
        time.sleep(1.0)  # blocks its thread far past the 0.3 s lease
        return "kept"

    async with running(queue, lease_seconds=0.3, maintenance_seconds=0.05):
        job = await queue.submit("blocking", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1
    assert done.error is None
