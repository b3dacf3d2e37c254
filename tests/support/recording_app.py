"""An application for tests that run real processes: tasks that record each attempt.

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


async def _record(payload: dict[str, Any], ctx: JobContext) -> int:
    _log("start", ctx)
    await asyncio.sleep(float(payload.get("sleep", 0)))
    _log("done", ctx)
    return ctx.attempt


@queue.task
async def record(payload: dict[str, Any], ctx: JobContext) -> int:
    """Log the start, sleep ``payload["sleep"]`` seconds, log the end; return the attempt."""
    return await _record(payload, ctx)


GLOBAL_LIMIT = 2
KEY_LIMIT = 1


@queue.task(global_concurrency=GLOBAL_LIMIT)
async def record_global(payload: dict[str, Any], ctx: JobContext) -> int:
    """`record`, at most `GLOBAL_LIMIT` at once in all workers."""
    return await _record(payload, ctx)


@queue.task(key_concurrency=KEY_LIMIT)
async def record_keyed(payload: dict[str, Any], ctx: JobContext) -> int:
    """`record`, at most `KEY_LIMIT` at once per concurrency key in all workers."""
    return await _record(payload, ctx)
