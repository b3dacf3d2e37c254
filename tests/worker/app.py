"""A queue for worker processes started by the tests; the store comes from JOBQUEUE_STORE.

Each task appends ``<event> <job_id> <attempt>`` lines to the file named by
JOBQUEUE_TEST_LOG (appends of one short line are atomic), so tests can count runs.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jobqueue import JobContext, JobQueue

queue = JobQueue()


def _log(event: str, ctx: JobContext) -> None:
    with open(os.environ["JOBQUEUE_TEST_LOG"], "a") as log:
        log.write(f"{event} {ctx.job_id} {ctx.attempt}\n")


@queue.task
async def record(payload: dict[str, Any], ctx: JobContext) -> int:
    _log("start", ctx)
    await asyncio.sleep(float(payload.get("sleep", 0)))
    _log("done", ctx)
    return ctx.attempt
