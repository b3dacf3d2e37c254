"""Dramatiq's adapter: Redis broker, the Results middleware, async actors via AsyncIO.

One worker process (``--processes 1``), with Dramatiq's default 8 threads or the asked
concurrency as threads; an async actor occupies a thread while it awaits, so W3 runs
100 threads.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, ClassVar

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware.asyncio import AsyncIO
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from bench.peers._common import REDIS_URL, SLEEP_SECONDS, hold_attempt, mark, repeat, sample

if TYPE_CHECKING:
    import argparse

broker = RedisBroker(url=REDIS_URL)
broker.add_middleware(Results(backend=RedisBackend(url=REDIS_URL)))
broker.add_middleware(AsyncIO())
dramatiq.set_broker(broker)


@dramatiq.actor(store_results=True)
def noop() -> None:
    mark(time.time())


@dramatiq.actor
async def sleep() -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    mark(started)


@dramatiq.actor
async def hold() -> None:
    if hold_attempt():
        await asyncio.sleep(3600)


TASKS = {"noop": noop, "sleep": sleep, "hold": hold}


class Adapter:
    """Enqueues with ``Actor.send``."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        pass

    def close(self) -> None:
        broker.close()

    def enqueue(self, task: str, count: int) -> float:
        return repeat(TASKS[task].send, count)

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        command = [f"{sys.prefix}/bin/dramatiq", "bench.peers.dramatiq_bench", "--processes", "1"]
        if concurrency is not None:
            command += ["--threads", str(concurrency)]
        return command

    def latencies(self, samples: int, budget: float) -> list[float]:
        return sample(lambda: noop.send().get_result(block=True, timeout=30_000), samples, budget)
