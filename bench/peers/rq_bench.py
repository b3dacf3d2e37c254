"""RQ's adapter: results awaited with ``Job.latest_result(timeout=...)`` (a blocking read).

RQ runs one job at a time per worker process: its default worker forks a child per job;
the tuned one is ``SimpleWorker``, which runs jobs in the worker process itself. With no
concurrency inside a process, W3 (100 concurrent sleeps in one process) does not apply.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, ClassVar

from redis import Redis
from rq import Queue

from bench.peers._common import REDIS_URL, hold_attempt, mark, repeat, sample

if TYPE_CHECKING:
    import argparse

connection = Redis.from_url(REDIS_URL)
queue = Queue("bench", connection=connection)


def noop() -> None:
    mark(time.time())


def hold() -> None:
    if hold_attempt():
        time.sleep(3600)


TASKS = {"noop": noop, "hold": hold}


class Adapter:
    """Enqueues with ``Queue.enqueue``."""

    unsupported: ClassVar[dict[str, str]] = {"w3": "no concurrency inside a worker process"}

    def __init__(self, args: argparse.Namespace) -> None:
        pass

    def close(self) -> None:
        connection.close()

    def enqueue(self, task: str, count: int) -> float:
        return repeat(lambda: queue.enqueue(TASKS[task]), count)

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        command = [f"{sys.prefix}/bin/rq", "worker", "--url", REDIS_URL, "--quiet"]
        if concurrency is not None:
            command += ["--worker-class", "rq.worker.SimpleWorker"]
        return [*command, "bench"]

    def latencies(self, samples: int, budget: float) -> list[float]:
        return sample(self._round_trip, samples, budget)

    def _round_trip(self) -> None:
        job = queue.enqueue(noop)
        if job.latest_result(timeout=30) is None:
            raise TimeoutError(f"no result for {job.id}")
