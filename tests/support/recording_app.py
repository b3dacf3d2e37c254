"""An application for tests that run real processes: one task that records each attempt.

Every attempt appends ``start <job_id> <attempt> <pid>`` and, once its sleep is over,
``done <job_id> <attempt> <pid>`` to the file named by JOBQUEUE_TEST_LOG (appends of
one short line are atomic), so a test can count runs and tell which worker ran them.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jobqueue import JobContext, JobQueue

queue = JobQueue()


def _log(event: str, ctx: JobContext) -> None:
    with open(os.environ["JOBQUEUE_TEST_LOG"], "a") as log:
        log.write(f"{event} {ctx.job_id} {ctx.attempt} {os.getpid()}\n")


@queue.task
async def record(payload: dict[str, Any], ctx: JobContext) -> int:
    """Log the start, sleep ``payload["sleep"]`` seconds, log the end; return the attempt."""
    _log("start", ctx)
    await asyncio.sleep(float(payload.get("sleep", 0)))
    _log("done", ctx)
    return ctx.attempt
