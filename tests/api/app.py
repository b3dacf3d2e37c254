"""A small application for the ``jobqueue serve``/``dev`` tests: ``tests.api.app:queue``."""

from __future__ import annotations

import asyncio

from jobqueue import JobContext, JobQueue

queue = JobQueue()


@queue.task(default=True)
async def count(payload: int, ctx: JobContext) -> int:
    """Count to *payload*, a tenth of a second a step."""
    for step in range(1, payload + 1):
        await asyncio.sleep(0.1)
        await ctx.progress(step, payload)
    return payload
