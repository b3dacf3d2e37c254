"""arq's adapter: async tasks, the ``arq`` worker, results awaited with ``Job.result``.

``Job.result`` polls Redis every 0.5 s by default; that default is what is measured.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, ClassVar

from arq import create_pool
from arq.connections import RedisSettings

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


async def noop(ctx: dict[str, Any]) -> None:
    mark(time.time())


async def sleep(ctx: dict[str, Any]) -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    mark(started)


async def hold(ctx: dict[str, Any]) -> None:
    if hold_attempt():
        await asyncio.sleep(3600)


class WorkerSettings:
    """What ``arq bench.peers.arq_bench.WorkerSettings`` runs."""

    functions: ClassVar[list[Any]] = [noop, sleep, hold]
    redis_settings = RedisSettings.from_dsn(REDIS_URL)
    max_jobs = concurrency_setting() or 10  # arq's default


class Adapter:
    """Enqueues with ``ArqRedis.enqueue_job``."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        self.runner = asyncio.Runner()
        self.redis = self.runner.run(create_pool(WorkerSettings.redis_settings))

    def close(self) -> None:
        self.runner.run(self.redis.aclose())
        self.runner.close()

    def enqueue(self, task: str, count: int) -> float:
        return self.runner.run(repeat_async(lambda: self.redis.enqueue_job(task), count))

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        return [f"{sys.prefix}/bin/arq", "bench.peers.arq_bench.WorkerSettings"]

    def latencies(self, samples: int, budget: float) -> list[float]:
        return self.runner.run(sample_async(self._round_trip, samples, budget))

    async def _round_trip(self) -> None:
        job = await self.redis.enqueue_job("noop")
        assert job is not None
        await job.result(timeout=30)
