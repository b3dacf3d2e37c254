"""Workers under the task options that bound concurrency: cost, per worker, across workers
(global and per concurrency key), with two workers on every store that processes share."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from jobqueue import JobQueue
from jobqueue.errors import ConfigError
from jobqueue.worker import Worker
from tests.conftest import StoreMaker
from tests.worker.conftest import running

STEP_SECONDS = 0.03


class Peaks:
    """The most attempts seen running at once, in all and per group."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    async def hold(self, *groups: str) -> None:
        for group in ("all", *groups):
            self.now[group] += 1
            self.most[group] = max(self.most[group], self.now[group])
        await asyncio.sleep(STEP_SECONDS)
        for group in ("all", *groups):
            self.now[group] -= 1


def _register(queue: JobQueue, peaks: Peaks, **options: Any) -> None:
    @queue.task(**options)
    async def work(payload: dict[str, str]) -> None:
        await peaks.hold(payload.get("key", ""))


async def _run_all(queue: JobQueue, payloads: list[dict[str, str]], **options: Any) -> None:
    jobs = [await queue.submit("work", payload, **options) for payload in payloads]
    for job in jobs:
        done = await queue.wait(job.job_id, timeout=20)
        assert done.status.value == "completed"


async def test_a_job_takes_its_tasks_cost_in_slots(queue: JobQueue) -> None:
    peaks = Peaks()
    _register(queue, peaks, cost=2)

    async with running(queue, concurrency=5):
        await _run_all(queue, [{}] * 8)

    assert peaks.most["all"] == 2


async def test_a_tasks_concurrency_bounds_it_in_one_worker(queue: JobQueue) -> None:
    peaks = Peaks()
    _register(queue, peaks, concurrency=2)

    async with running(queue, concurrency=6):
        await _run_all(queue, [{}] * 8)

    assert peaks.most["all"] == 2


async def test_a_task_that_costs_more_than_the_workers_slots_is_not_served(
    queue: JobQueue, caplog: pytest.LogCaptureFixture
) -> None:
    peaks = Peaks()
    _register(queue, peaks, cost=3)

    @queue.task
    async def cheap(payload: Any) -> None:
        return None

    with caplog.at_level(logging.WARNING):
        assert Worker(queue, concurrency=2).task_names == ["cheap", "jobqueue.webhook"]
    assert "Task work costs 3 slots, more than this worker's 2" in caplog.text
    with pytest.raises(ConfigError, match="No task fits"):
        Worker(queue, concurrency=2, tasks=["work"])


@pytest.fixture
async def two_queues(
    store_maker: StoreMaker,
) -> AsyncIterator[Callable[..., AsyncIterator[tuple[JobQueue, Peaks]]]]:
    """Two queues on one store's data, as two worker processes would have them."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(JobQueue(store_maker()))
        if not first.store.capabilities.is_multiprocess:
            pytest.skip("the store cannot be shared between processes")
        second = await stack.enter_async_context(JobQueue(store_maker()))

        async def workers(**options: Any) -> tuple[JobQueue, Peaks]:
            peaks = Peaks()
            for queue in (first, second):
                _register(queue, peaks, **options)
                await stack.enter_async_context(running(queue, concurrency=5))
            return first, peaks

        yield workers  # type: ignore[misc]


async def test_global_concurrency_holds_across_workers(two_queues: Any) -> None:
    queue, peaks = await two_queues(global_concurrency=3)

    await _run_all(queue, [{}] * 12)

    assert peaks.most["all"] == 3


async def test_key_concurrency_holds_across_workers_without_holding_back_other_keys(
    two_queues: Any,
) -> None:
    queue, peaks = await two_queues(key_concurrency=1)
    payloads = [{"key": key} for key in "abab" * 3]

    jobs = [await queue.submit("work", p, concurrency_key=p["key"]) for p in payloads]
    for job in jobs:
        assert (await queue.wait(job.job_id, timeout=20)).status.value == "completed"

    assert (peaks.most["a"], peaks.most["b"]) == (1, 1)
    assert peaks.most["all"] == 2
