"""Live updates: Server-Sent Events streams and long polls, built on `JobQueue.watch`.

Both wait on the process's change hub (one store subscription fanned out), never by
polling the store per client. `Streams` lets a server end every open stream and
long poll at once when it shuts down, so they do not hold the shutdown up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import orjson

from jobqueue.api.schemas import job_wire
from jobqueue.errors import JobNotFound, StoreError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Iterator

    from jobqueue.models import Job
    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)

KEEPALIVE = b": keep-alive\n\n"
_STORE_RETRY_SECONDS = 1.0


class Streams:
    """The open streams and long polls of one router, so they can all be ended at once."""

    def __init__(self) -> None:
        self._wakes: set[asyncio.Event] = set()
        self.is_closed = False

    @contextlib.contextmanager
    def open(self) -> Iterator[asyncio.Event]:
        """An event that is set when the router closes (and that the holder may set too)."""
        wake = asyncio.Event()
        if self.is_closed:
            wake.set()
        self._wakes.add(wake)
        try:
            yield wake
        finally:
            self._wakes.discard(wake)

    def close(self) -> None:
        """End every open stream and long poll (they answer with what they have)."""
        self.is_closed = True
        for wake in self._wakes:
            wake.set()

    def __len__(self) -> int:
        return len(self._wakes)


async def _unless_closed(streams: Streams, awaitable: Awaitable[Job]) -> Job | None:
    """The result of *awaitable*, or None when *streams* closes first."""
    with streams.open() as closing:
        waiter = asyncio.ensure_future(awaitable)
        closer = asyncio.ensure_future(closing.wait())
        try:
            await asyncio.wait({waiter, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closer.cancel()
            if not waiter.done():
                waiter.cancel()
        return waiter.result() if not waiter.cancelled() else None


async def long_poll(
    queue: JobQueue, job: Job, since: int | None, seconds: float, streams: Streams
) -> Job:
    """*job* once its version exceeds *since* (default: its version now) or it is terminal.

    Returns the job as it is after *seconds* without a change. Raises `JobNotFound`
    if the job is deleted meanwhile.
    """
    since = job.version if since is None else since
    if job.is_terminal or job.version > since or seconds <= 0:
        return job
    changed = await _unless_closed(streams, queue.wait_for_change(job.job_id, since, seconds))
    return job if changed is None else changed


async def wait_until_terminal(queue: JobQueue, job: Job, seconds: float, streams: Streams) -> Job:
    """*job* once terminal, or as it is after *seconds* (the ``Prefer: wait`` hold)."""
    if job.is_terminal or seconds <= 0:
        return job
    with contextlib.suppress(TimeoutError):
        finished = await _unless_closed(streams, queue.wait(job.job_id, seconds))
        if finished is not None:
            return finished
    return await queue.get(job.job_id) or job


def job_event(job: Job, retry_ms: int | None = None) -> bytes:
    """One SSE event carrying *job*; its id is the version."""
    retry = b"" if retry_ms is None else b"retry: %d\n" % retry_ms
    data = orjson.dumps(job_wire(job))
    return retry + b"id: %d\nevent: job\ndata: %s\n\n" % (job.version, data)


class _Latest:
    """The newest version of a job not yet sent; older unsent ones are dropped (coalesced)."""

    def __init__(self, wake: asyncio.Event) -> None:
        self.wake = wake
        self.job: Job | None = None
        self.is_done = False

    def put(self, job: Job) -> None:
        self.job = job
        self.wake.set()

    def finish(self) -> None:
        self.is_done = True
        self.wake.set()

    def take(self) -> Job | None:
        job, self.job = self.job, None
        return job


async def _follow(queue: JobQueue, job_id: str, version: int, latest: _Latest) -> None:
    """Feed *latest* every newer version of the job, riding out store outages."""
    try:
        while True:
            try:
                async for job in queue.watch(job_id, version):
                    version = job.version
                    latest.put(job)
                return
            except StoreError as exc:
                logger.warning("Event stream of %s: store unavailable (%s); retrying", job_id, exc)
                await asyncio.sleep(_STORE_RETRY_SECONDS)
    except JobNotFound:
        return  # deleted (expired): there is nothing more to say
    finally:
        latest.finish()


async def job_events(
    queue: JobQueue,
    job: Job,
    last_event_id: int | None,
    *,
    retry_ms: int,
    keepalive_seconds: float,
    streams: Streams,
) -> AsyncIterator[bytes]:
    """The body of an event stream: *job* now (unless the client has it), then each change.

    Ends after a terminal state. The first chunk always carries the ``retry:`` field; a
    comment is sent whenever *keepalive_seconds* pass without an event.
    """
    if last_event_id is None or job.version > last_event_id:
        yield job_event(job, retry_ms)
        if job.is_terminal:
            return
    else:
        yield b"retry: %d\n\n" % retry_ms
    with streams.open() as wake:
        latest = _Latest(wake)
        follower = asyncio.create_task(_follow(queue, job.job_id, job.version, latest))
        try:
            while not streams.is_closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), keepalive_seconds)
                if not wake.is_set():
                    yield KEEPALIVE
                    continue
                wake.clear()
                if (update := latest.take()) is not None:
                    yield job_event(update)
                    if update.is_terminal:
                        return
                if latest.is_done:
                    return
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
