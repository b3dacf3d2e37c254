"""Huey's adapter: RedisHuey with result notification, results awaited with ``Result.get``.

``notify_result=True`` lets a blocking ``get`` wake on a Redis list push instead of
polling. The consumer runs Huey's default single worker thread, or the asked
concurrency as threads (W3 sleeps in them, as Huey has no asyncio).
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, ClassVar

from huey import RedisHuey

from bench.peers._common import REDIS_URL, SLEEP_SECONDS, hold_attempt, mark, repeat, sample

if TYPE_CHECKING:
    import argparse

huey = RedisHuey("bench", url=REDIS_URL, notify_result=True, store_none=True)


@huey.task()
def noop() -> None:
    mark(time.time())


@huey.task()
def sleep() -> None:
    started = time.time()
    time.sleep(SLEEP_SECONDS)
    mark(started)


@huey.task()
def hold() -> None:
    if hold_attempt():
        time.sleep(3600)


TASKS = {"noop": noop, "sleep": sleep, "hold": hold}


class Adapter:
    """Enqueues by calling the task."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        pass

    def close(self) -> None:
        pass

    def enqueue(self, task: str, count: int) -> float:
        return repeat(TASKS[task], count)

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        command = [f"{sys.prefix}/bin/huey_consumer", "bench.peers.huey_bench.huey", "--quiet"]
        if concurrency is not None:
            command += ["--workers", str(concurrency), "--worker-type", "thread"]
        return command

    def latencies(self, samples: int, budget: float) -> list[float]:
        return sample(lambda: noop().get(blocking=True, timeout=30), samples, budget)
