"""U+0000 (NUL), which PostgreSQL refuses in ``text`` and ``jsonb``, on every store.

Payloads, results and progress messages are JSON values and keep it; an error text keeps
U+FFFD in its place; an idempotency key or owner holding it is refused. No store call may
fail on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from jobqueue import Backoff, InvalidRequest, JobContext, JobQueue, JobStatus
from jobqueue.stores import Store
from tests.worker.conftest import running

NUL_VALUE = {"text": "a\0b", "key\0": ["\0"], "escape as text": "\\u0000"}


@pytest.fixture
async def queue(store: Store) -> AsyncIterator[JobQueue]:
    q = JobQueue(store, backoff=Backoff(base_seconds=0.01, cap_seconds=0.05))

    @q.task
    async def echo(payload: Any, ctx: JobContext) -> Any:
        await ctx.progress(1, 2, "half\0way")
        return payload

    @q.task(max_attempts=1)
    async def raises(payload: Any) -> None:
        raise RuntimeError("bad\0byte")

    async with q:
        yield q


async def test_json_values_keep_it(queue: JobQueue) -> None:
    async with running(queue):
        job = await queue.submit("echo", NUL_VALUE)
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED
    assert done.payload == done.result == NUL_VALUE
    assert done.progress is not None
    assert done.progress.message == "half\0way"


async def test_an_error_keeps_a_replacement(queue: JobQueue) -> None:
    async with running(queue):
        job = await queue.submit("raises", {})
        done = await queue.wait(job.job_id, timeout=10)
    assert done.status is JobStatus.FAILED
    assert (done.error or "").startswith("RuntimeError: bad\ufffdbyte")


@pytest.mark.parametrize("options", [{"idempotency_key": "k\0"}, {"owner": "\0"}])
async def test_a_key_or_owner_holding_it_is_refused(
    queue: JobQueue, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequest, match=r"U\+0000"):
        queue.build("echo", {}, **options)
    assert (await queue.list()).jobs == []
