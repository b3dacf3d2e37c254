"""Worker fixtures: a memory-store queue and a worker running on the test's loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from jobqueue import Backoff, JobQueue
from jobqueue.worker import Worker


@pytest.fixture
async def queue() -> AsyncIterator[JobQueue]:
    """A queue on a fresh memory store with quick retries."""
    q = JobQueue("memory://", backoff=Backoff(base_seconds=0.01, cap_seconds=0.05))
    async with q:
        yield q


@asynccontextmanager
async def running(queue: JobQueue, **options: object) -> AsyncIterator[Worker]:
    """A worker serving *queue* for the duration of the block, then stopped and drained."""
    worker = Worker(queue, **options)  # type: ignore[arg-type]
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, 15)
