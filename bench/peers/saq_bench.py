"""SAQ's adapter: async tasks, the ``saq`` worker, results awaited with ``Job.refresh``.

``Job.refresh(until_complete=...)`` waits on SAQ's pub/sub notifications; ``Queue.apply``
would poll every 0.5 s by default.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, ClassVar

from saq import Queue

from bench.peers._common import (
    REDIS_URL,
    SLEEP_SECONDS,
    concurrency_setting,
    hold_attempt,
    mark,
    repeat_async,
    sample_async,
)

if TYPE_CHECKING:
    import argparse

queue = Queue.from_url(REDIS_URL)


async def noop(ctx: dict[str, Any]) -> None:
    mark(time.time())


async def sleep(ctx: dict[str, Any]) -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    mark(started)


async def hold(ctx: dict[str, Any]) -> None:
    if hold_attempt():
        await asyncio.sleep(3600)


#: What ``saq bench.peers.saq_bench.settings`` runs.
settings: dict[str, Any] = {"queue": queue, "functions": [noop, sleep, hold]}
if (concurrency := concurrency_setting()) is not None:
    settings["concurrency"] = concurrency


class Adapter:
    """Enqueues with ``Queue.enqueue``."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        self.runner = asyncio.Runner()
        self.runner.run(queue.connect())

    def close(self) -> None:
        self.runner.run(queue.disconnect())
        self.runner.close()

    def enqueue(self, task: str, count: int) -> float:
        return self.runner.run(repeat_async(lambda: queue.enqueue(task), count))

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        return [f"{sys.prefix}/bin/saq", "bench.peers.saq_bench.settings", "--quiet"]

    def latencies(self, samples: int, budget: float) -> list[float]:
        return self.runner.run(sample_async(self._round_trip, samples, budget))

    async def _round_trip(self) -> None:
        job = await queue.enqueue("noop")
        assert job is not None
        await job.refresh(until_complete=30)
