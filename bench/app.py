"""The queue the throughput benchmark's worker processes serve: one no-op task."""

from __future__ import annotations

from typing import Any

from jobqueue import JobQueue

queue = JobQueue()


@queue.task
async def noop(payload: Any) -> None:
    return None
