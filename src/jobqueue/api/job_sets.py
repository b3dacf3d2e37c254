"""The body of one event stream of many jobs (``GET {prefix}/events``).

Each job is followed through its shared feed (`Streams.subscribe`), so a job costs one
store read per change however many streams, of one job or of many, watch it; a tag's
later jobs come from its shared `TagFeeds` feed. All of one stream's jobs wake it through
one event.

Every event's ``id`` is a fingerprint of what the stream has sent so far: the version of
each of its jobs, as an XOR of digests so that it is kept up to date in constant time.
A reconnect whose ``Last-Event-ID`` is the fingerprint of the jobs as they are now has
nothing to catch up on; any other gets the current state of every job again, which is
always correct (at worst, states the client already has).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobqueue.api.streams import KEEPALIVE, job_event, with_event_id
from jobqueue.errors import StoreError
from jobqueue.paging import every_job

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Sequence

    from jobqueue.api.auth import Principal
    from jobqueue.api.streams import Streams, Subscriber
    from jobqueue.models import Job
    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """Who is watching, and how the stream is paced."""

    principal: Principal
    retry_ms: int
    keepalive_seconds: float
    streams: Streams


def _digest(job_id: str, version: int) -> int:
    data = b"%s:%d" % (job_id.encode(), version)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest())


def fingerprint(jobs: Iterable[Job]) -> str:
    """The event id of a stream that has sent exactly *jobs* (each at its version)."""
    value = 0
    for job in jobs:
        value ^= _digest(job.job_id, job.version)
    return f"{value:016x}"


class JobSet:
    """What one stream of many jobs has sent, and the feeds it follows."""

    def __init__(self, streams: Streams, wake: asyncio.Event, principal: Principal) -> None:
        self._streams = streams
        self._wake = wake
        self._principal = principal
        self._versions: dict[str, int] = {}
        self._print = 0
        self._following: dict[str, Subscriber] = {}
        self._arrived: dict[str, Job] = {}

    @property
    def is_following(self) -> bool:
        """Whether a job of the set may still change (none is left when all ended)."""
        return bool(self._following)

    def start(self, jobs: Sequence[Job], last_event_id: str | None) -> bytes:
        """The events that open the stream: *jobs* now, unless the client has them all."""
        if last_event_id == fingerprint(jobs):
            for job in jobs:
                self._record(job)
            events = b""
        else:
            events = b"".join(self._event(job) for job in jobs)
        for job in jobs:
            self._follow(job)
        return events

    def receive(self, job: Job) -> None:
        """Take in *job* (newly tagged, or queued again) unless hidden or already sent."""
        if not self._principal.can_see(job):
            return
        known = self._arrived.get(job.job_id)
        if job.version > max(self._versions.get(job.job_id, 0), known.version if known else 0):
            self._arrived[job.job_id] = job
            self._wake.set()

    def drain(self) -> bytes:
        """The events of every change since the last call."""
        events = []
        for subscriber in list(self._following.values()):
            if (pending := subscriber.take()) is not None:
                update, event = pending
                events.append(self._event(update, event))
                if update.is_terminal:
                    self._leave(subscriber)
            elif subscriber.is_done:
                self._leave(subscriber)
        # After the feeds: a job that ended there may have been queued again since.
        arrived, self._arrived = self._arrived, {}
        for job in arrived.values():
            is_new = job.version > self._versions.get(job.job_id, 0)
            if is_new and job.job_id not in self._following:
                events.append(self._event(job))
                self._follow(job)
        return b"".join(events)

    def close(self) -> None:
        """Leave every feed."""
        for subscriber in list(self._following.values()):
            self._leave(subscriber)

    def _record(self, job: Job) -> None:
        """Note that the client has *job*."""
        previous = self._versions.get(job.job_id)
        if previous is not None:
            self._print ^= _digest(job.job_id, previous)
        self._print ^= _digest(job.job_id, job.version)
        self._versions[job.job_id] = job.version

    def _event(self, job: Job, event: bytes | None = None) -> bytes:
        self._record(job)
        return with_event_id(event or job_event(job), f"{self._print:016x}")

    def _follow(self, job: Job) -> None:
        if not job.is_terminal:
            self._following[job.job_id] = self._streams.subscribe(job, self._wake)

    def _leave(self, subscriber: Subscriber) -> None:
        self._streams.unsubscribe(subscriber)
        del self._following[subscriber.feed.job_id]


async def visible_jobs(queue: JobQueue, job_ids: Sequence[str], principal: Principal) -> list[Job]:
    """The jobs of *job_ids* that exist and that *principal* may see, with queue positions."""
    found = await asyncio.gather(*(queue.recent.get(job_id) for job_id in job_ids))
    seen = [job for job in found if job is not None and principal.can_see(job)]
    return list(await asyncio.gather(*(queue.with_position(job) for job in seen)))


async def _tagged_jobs(queue: JobQueue, tag: str, principal: Principal) -> list[Job]:
    """Every job carrying *tag* that *principal* may see, newest first."""
    jobs = [job async for job in every_job(queue, tag=tag) if principal.can_see(job)]
    return [await queue.with_position(job) for job in jobs]


async def _follow(
    job_set: JobSet, wake: asyncio.Event, options: StreamOptions, *, open_ended: bool
) -> AsyncIterator[bytes]:
    """The events of *job_set* as they come, and keep-alives between them; unless
    *open_ended*, until every job has ended."""
    loop = asyncio.get_running_loop()
    streams = options.streams
    while not streams.is_closed and (open_ended or job_set.is_following):
        silence = loop.call_later(options.keepalive_seconds, wake.set)
        await wake.wait()
        silence.cancel()
        wake.clear()
        if events := job_set.drain():
            yield events
        elif not streams.is_closed and (open_ended or job_set.is_following):
            yield KEEPALIVE


async def listed_events(
    jobs: Sequence[Job], last_event_id: str | None, options: StreamOptions
) -> AsyncIterator[bytes]:
    """The body of a stream of listed *jobs*: their states now (unless the client has
    them), then each change; it ends once every job has sent a terminal state."""
    with options.streams.open() as wake:
        job_set = JobSet(options.streams, wake, options.principal)
        try:
            yield b"retry: %d\n" % options.retry_ms + (job_set.start(jobs, last_event_id) or b"\n")
            async for events in _follow(job_set, wake, options, open_ended=False):
                yield events
        finally:
            job_set.close()


async def tag_events(
    queue: JobQueue, tag: str, last_event_id: str | None, options: StreamOptions
) -> AsyncIterator[bytes]:
    """The body of a stream of a tag: its jobs now (unless the client has them), then
    each change, including the jobs that come to carry the tag. It stays open.

    The tag's feed is joined before its jobs are listed, so no job falls between the two.
    A store failure while listing ends the stream (the client reconnects after ``retry``).
    """
    retry = b"retry: %d\n" % options.retry_ms
    streams = options.streams
    with streams.open() as wake:
        job_set = JobSet(streams, wake, options.principal)
        try:
            with streams.tags.joining(tag, job_set.receive):
                try:
                    jobs = await _tagged_jobs(queue, tag, options.principal)
                except StoreError as exc:
                    logger.warning("Listing tag %s for a stream: %s", tag, exc)
                    yield retry + b"\n"
                    return
                yield retry + (job_set.start(jobs, last_event_id) or b"\n")
                async for events in _follow(job_set, wake, options, open_ended=True):
                    yield events
        finally:
            job_set.close()
