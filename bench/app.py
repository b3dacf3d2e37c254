"""The queue jobqueue's benchmark workers serve: a no-op, a 50 ms sleep, a job that hangs
once, and a ticker that reports progress stamped with the time it was reported.

Each task marks when it ran (see `bench.peers._common.mark`), as every peer's tasks do.
In a process whose ``BENCH_KEY_CONCURRENCY`` is set (W8's workers), the no-op and the
sleep declare that ``key_concurrency``; everywhere else they declare no limit.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from pydantic import BaseModel

from bench.peers._common import KEY_CONCURRENCY_ENV, SLEEP_SECONDS, hold_attempt, mark
from jobqueue import JobContext, JobQueue

queue = JobQueue()

#: W8's limit per concurrency key, or None (no limit: the tasks every other workload runs).
KEY_CONCURRENCY = (
    int(os.environ[KEY_CONCURRENCY_ENV]) if os.environ.get(KEY_CONCURRENCY_ENV) else None
)


@queue.task(key_concurrency=KEY_CONCURRENCY)
async def noop(payload: Any) -> None:
    mark(time.time())


@queue.task(key_concurrency=KEY_CONCURRENCY)
async def sleep(payload: Any) -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    mark(started)


@queue.task
async def hold(payload: Any) -> None:
    if hold_attempt():
        await asyncio.sleep(3600)  # until the worker is killed


class Ticks(BaseModel):
    """How often the ticker reports progress."""

    ticks: int
    interval: float


@queue.task
async def ticker(spec: Ticks, ctx: JobContext) -> int:
    """Report progress *ticks* times, each with ``time.time()`` of the report as its message."""
    for tick in range(1, spec.ticks + 1):
        await asyncio.sleep(spec.interval)
        await ctx.progress(tick, spec.ticks, repr(time.time()))
    return spec.ticks
