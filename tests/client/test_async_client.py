"""`AsyncClient` against a live server: the same behaviour as `Client`, awaited."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from jobqueue import AsyncClient, InvalidTransition, JobNotFound, JobStatus


async def test_submit_wait_get_and_submit_with_wait(aclient: AsyncClient) -> None:
    job = await aclient.submit("echo", {"async": True}, delay_seconds=0, timeout_seconds=30)
    done = await aclient.wait(job.job_id, timeout=30)
    assert done.result == {"async": True}
    assert await aclient.get(job.job_id) == done
    quick = await aclient.submit(None, "hi", wait=30)
    assert (quick.task, quick.status, quick.result) == ("echo", JobStatus.COMPLETED, "hi")


async def test_stream_ends_with_the_terminal_state(aclient: AsyncClient) -> None:
    job = await aclient.submit("slow", {"steps": 4, "delay": 0.05})
    async with aclosing(aclient.stream(job.job_id)) as stream:
        states = [state async for state in stream]
    assert [s.version for s in states] == sorted({s.version for s in states})
    assert states[-1].status is JobStatus.COMPLETED


async def test_cancel_retry_list_and_stats(aclient: AsyncClient) -> None:
    job = await aclient.submit("sleepy", {})
    await aclient.cancel(job.job_id)
    cancelled = await aclient.wait(job.job_id, timeout=30)
    assert cancelled.status is JobStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        await aclient.cancel(job.job_id)
    assert (await aclient.retry(job.job_id)).status is JobStatus.QUEUED
    await aclient.cancel(job.job_id)  # a worker may have claimed it again meanwhile
    assert (await aclient.wait(job.job_id, timeout=30)).status is JobStatus.CANCELLED
    listed = [j.job_id async for j in aclient.list(tasks=["sleepy"], page_size=1, limit=2)]
    assert listed[0] == job.job_id
    assert len(listed) <= 2
    assert (await aclient.stats()).tasks["sleepy"][JobStatus.CANCELLED] >= 1
    with pytest.raises(JobNotFound):
        await aclient.get("no-such-job")
