"""The queue the client and CLI tests serve with ``jobqueue dev tests.client.app:queue``.

Quick tasks: ``echo`` (the default task), ``slow`` (reports progress step by step),
``fail`` (fails without retrying) and ``sleepy`` (runs until cancelled).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from jobqueue import Backoff, Fail, JobContext, JobQueue

queue = JobQueue(backoff=Backoff(base_seconds=0.01, cap_seconds=0.05))


class Steps(BaseModel):
    steps: int = 5
    delay: float = 0.05


@queue.task(default=True)
async def echo(payload: Any) -> Any:
    return payload


@queue.task
async def slow(payload: Steps, ctx: JobContext) -> dict[str, int]:
    for step in range(1, payload.steps + 1):
        await asyncio.sleep(payload.delay)
        await ctx.progress(step, payload.steps, f"step {step}")
    return {"steps": payload.steps}


@queue.task(max_attempts=1)
async def fail(payload: Any) -> None:
    raise Fail(f"failed on purpose: {payload}")


@queue.task
async def sleepy(payload: Any) -> None:
    await asyncio.sleep(3600)
