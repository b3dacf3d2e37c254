"""Waiting for a job to change or to end, on the process's change hub (`JobQueue.wait`,
`JobQueue.wait_for_change`).

A waiter starts watching before it reads the job, so no change between the read and the
wait is missed, and it reads the job again at least every `SAFETY_SECONDS`, so a lost
notification cannot stall it for long.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from jobqueue.errors import JobNotFound

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from jobqueue.models import Job
    from jobqueue.notify import Hub, JobWatch

    Reader = Callable[[str], Awaitable[Job | None]]

#: The longest a waiter trusts the change notifications alone before reading the job again.
SAFETY_SECONDS = 5.0


async def wait_for_change(
    hub: Hub, read: Reader, job_id: str, since_version: int | None, timeout: float
) -> Job:
    """See `JobQueue.wait_for_change`; *read* reads a job by id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with hub.watching(job_id) as watch:
        while True:
            job = await _read(read, job_id, watch)
            if since_version is None:
                since_version = job.version
            elif job.version > since_version or job.is_terminal:
                return job
            remaining = deadline - loop.time()
            if remaining <= 0:
                return job
            await watch.changed(min(remaining, SAFETY_SECONDS))


async def versions(
    wait_for_change: Callable[[str, int, float], Awaitable[Job]], job_id: str, since: int
) -> AsyncIterator[Job]:
    """See `JobQueue.watch`; *wait_for_change* is `JobQueue.wait_for_change`."""
    version = since
    while True:
        job = await wait_for_change(job_id, version, 3600.0)
        if job.version > version:
            version = job.version
            yield job
        if job.is_terminal:
            return


async def wait_until_terminal(hub: Hub, read: Reader, job_id: str, timeout: float | None) -> Job:
    """See `JobQueue.wait`: the job is read again only when a change announces a terminal
    status (or at the safety cap), not at every progress report."""
    async with asyncio.timeout(timeout):
        with hub.watching(job_id) as watch:
            while True:
                job = await _read(read, job_id, watch)
                if job.is_terminal:
                    return job
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SAFETY_SECONDS):
                        while not watch.may_be_terminal:
                            await watch.changed()


async def _read(read: Reader, job_id: str, watch: JobWatch) -> Job:
    """The job, read after forgetting the changes *watch* recorded so far."""
    watch.clear()
    job = await read(job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job
