"""The queue jobqueue's benchmark workers serve: a no-op, a 50 ms sleep, and a job that hangs once.

Each task marks when it ran (see `bench.peers._common.mark`), as every peer's tasks do.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.peers._common import SLEEP_SECONDS, hold_attempt, mark
from jobqueue import JobQueue

queue = JobQueue()


@queue.task
async def noop(payload: Any) -> None:
    mark(time.time())


@queue.task
async def sleep(payload: Any) -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    mark(started)


@queue.task
async def hold(payload: Any) -> None:
    if hold_attempt():
        await asyncio.sleep(3600)  # until the worker is killed
