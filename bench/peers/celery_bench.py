"""Celery's adapter: Redis broker and result backend, results awaited with ``AsyncResult.get``.

The default worker is Celery's own default (prefork, one child per core); the tuned one
is the threads pool at the asked concurrency, and so is W3's, as Celery has no asyncio.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, ClassVar

from celery import Celery

from bench.peers._common import REDIS_URL, SLEEP_SECONDS, hold_attempt, mark, repeat, sample

if TYPE_CHECKING:
    import argparse

app = Celery("bench", broker=REDIS_URL, backend=REDIS_URL)
app.conf.broker_connection_retry_on_startup = True


@app.task(name="noop")
def noop() -> None:
    mark(time.time())


@app.task(name="sleep")
def sleep() -> None:
    started = time.time()
    time.sleep(SLEEP_SECONDS)
    mark(started)


@app.task(name="hold")
def hold() -> None:
    if hold_attempt():
        time.sleep(3600)


TASKS = {"noop": noop, "sleep": sleep, "hold": hold}


class Adapter:
    """Enqueues with ``Task.delay``."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        pass

    def close(self) -> None:
        app.close()

    def enqueue(self, task: str, count: int) -> float:
        return repeat(TASKS[task].delay, count)

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        command = [f"{sys.prefix}/bin/celery", "-A", "bench.peers.celery_bench", "worker"]
        command += ["--loglevel", "WARNING"]
        if concurrency is not None:
            command += ["--pool", "threads", "--concurrency", str(concurrency)]
        return command

    def latencies(self, samples: int, budget: float) -> list[float]:
        return sample(lambda: noop.delay().get(timeout=30), samples, budget)
