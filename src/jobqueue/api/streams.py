"""The machinery of live updates: event streams and long polls, built on `JobQueue.watch`.

Both wait on the process's change hub (one store subscription fanned out), never by
polling the store per client. The event streams of one job share a single follower
(`_Feed`): a change costs one store read and one serialisation however many clients
watch the job. `Streams` also ends every stream and long poll at once when the server
shuts down, so they do not hold the shutdown up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import orjson

from jobqueue.api.tag_feeds import TagFeeds
from jobqueue.errors import JobNotFound, StoreError
from jobqueue.models import JobStatus
from jobqueue.wire import job_to_wire

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Iterator

    from jobqueue.models import Job
    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)

KEEPALIVE = b": keep-alive\n\n"
#: How often an event stream of a waiting job reads its queue position and estimated start
#: again (the start rate behind the estimate is read at most every
#: `jobqueue.placement.REFRESH_SECONDS`, for all the streams of its task).
POSITION_REFRESH_SECONDS = 3.0
#: How far a waiting job's estimated start must move, at the same position, to be sent.
ESTIMATE_STEP_SECONDS = 1.0
_STORE_RETRY_SECONDS = 1.0


def job_event(job: Job) -> bytes:
    """One SSE event carrying *job*; its id is the version."""
    return b"id: %d\nevent: job\ndata: %s\n\n" % (job.version, orjson.dumps(job_to_wire(job)))


def with_event_id(event: bytes, event_id: str) -> bytes:
    """*event* (from `job_event`) with its ``id`` replaced by *event_id*."""
    return b"id: " + event_id.encode() + event[event.index(b"\n") :]


def _moved(known: Job, placed: Job) -> bool:
    """Whether *placed*, read again, says something new about where *known* stands."""
    if placed.queue_position != known.queue_position:
        return True
    before, after = known.estimated_start_at, placed.estimated_start_at
    if before is None or after is None:
        return before is not after
    return abs((after - before).total_seconds()) >= ESTIMATE_STEP_SECONDS


class Subscriber:
    """What one stream has yet to send: the newest event only (older unsent ones are dropped)."""

    def __init__(self, wake: asyncio.Event, job: Job, feed: _Feed) -> None:
        self.wake = wake
        self.feed = feed
        self.version = job.version
        self.placement = (job.queue_position, job.estimated_start_at)
        self.pending: tuple[Job, bytes] | None = None
        self.is_done = False

    def offer(self, job: Job, event: bytes) -> None:
        """Send *job* unless the stream has this version already, placed the same."""
        placement = (job.queue_position, job.estimated_start_at)
        if job.version > self.version or (
            job.version == self.version and placement != self.placement
        ):
            self.version, self.placement = job.version, placement
            self.pending = (job, event)
            self.wake.set()

    def finish(self) -> None:
        self.is_done = True
        self.wake.set()

    def take(self) -> tuple[Job, bytes] | None:
        pending, self.pending = self.pending, None
        return pending


class _Feed:
    """Follows one job for every stream of it in this process; while the job waits, its
    queue position and estimated start are read again every `POSITION_REFRESH_SECONDS`
    (one read for all its streams) and sent when they moved."""

    def __init__(self, queue: JobQueue, job: Job) -> None:
        self.job_id = job.job_id
        self.subscribers: set[Subscriber] = set()
        self.last: tuple[Job, bytes] | None = None
        self._queue = queue
        self._current = job
        self.task = asyncio.get_running_loop().create_task(
            self._follow(job.job_id, job.version), name=f"jobqueue-feed-{job.job_id}"
        )

    def _publish(self, job: Job) -> None:
        self._current = job
        self.last = (job, job_event(job))
        for subscriber in self.subscribers:
            subscriber.offer(*self.last)

    async def _follow(self, job_id: str, version: int) -> None:
        refresher = asyncio.get_running_loop().create_task(self._refresh_position())
        try:
            while True:
                try:
                    async for job in self._queue.watch(job_id, version):
                        self._publish(await self._queue.with_position(job))
                        version = job.version
                    return
                except StoreError as exc:
                    logger.warning("Following %s: the store failed (%s); retrying", job_id, exc)
                    await asyncio.sleep(_STORE_RETRY_SECONDS)
        except JobNotFound:
            return  # deleted (expired): there is nothing more to say
        finally:
            refresher.cancel()
            for subscriber in self.subscribers:
                subscriber.finish()

    async def _refresh_position(self) -> None:
        while True:
            await asyncio.sleep(POSITION_REFRESH_SECONDS)
            known = self._current
            if known.status is not JobStatus.QUEUED:
                continue
            try:
                placed = await self._queue.with_position(known)
            except StoreError:
                continue  # the follower reports it and retries
            if self._current is known and _moved(known, placed):
                self._publish(placed)


class Streams:
    """The open streams and long polls of one router: shared feeds, and closing them all."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._wakes: set[asyncio.Event] = set()
        self._feeds: dict[str, _Feed] = {}
        self.tags = TagFeeds(queue)
        """The jobs that come to carry a tag, for streams of a tag."""
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

    @contextlib.contextmanager
    def follow(self, job: Job) -> Iterator[Subscriber]:
        """Every version of *job* newer than this one, through the job's shared feed."""
        with self.open() as wake:
            subscriber = self.subscribe(job, wake)
            try:
                yield subscriber
            finally:
                self.unsubscribe(subscriber)

    def subscribe(self, job: Job, wake: asyncio.Event) -> Subscriber:
        """Join *job*'s shared feed: *wake* is set at each newer version (or its end).

        Pair it with `unsubscribe`; `follow` does both for a stream of one job.
        """
        feed = self._feeds.get(job.job_id)
        if feed is None or feed.task.done():
            feed = self._feeds[job.job_id] = _Feed(self._queue, job)
        subscriber = Subscriber(wake, job, feed)
        if feed.last is not None and feed.last[0].version > job.version:
            subscriber.offer(*feed.last)  # what the feed saw before this stream joined
        feed.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Leave the feed *subscriber* joined; the last one to leave stops it."""
        feed = subscriber.feed
        feed.subscribers.discard(subscriber)
        if not feed.subscribers:
            feed.task.cancel()
            if self._feeds.get(feed.job_id) is feed:
                del self._feeds[feed.job_id]

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
            finished = waiter.done()
            if not finished:
                waiter.cancel()  # it ends at the loop's next turn; there is no result
        return waiter.result() if finished else None


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
    """*job* once terminal, or as it is after *seconds* (the ``Prefer: wait`` hold).

    The job exists by now, so a failure while waiting answers with what is known rather
    than an error that would invite the client to submit again.
    """
    if job.is_terminal or seconds <= 0:
        return job
    try:
        try:
            finished = await _unless_closed(streams, queue.wait(job.job_id, seconds))
        except TimeoutError:
            finished = await queue.get(job.job_id)
    except (StoreError, JobNotFound) as exc:
        logger.warning("Waiting for %s: %s", job.job_id, exc)
        return job
    return finished or job


async def job_events(
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
    retry = b"retry: %d\n" % retry_ms
    if last_event_id is None or job.version > last_event_id:
        yield retry + job_event(job)
        if job.is_terminal:
            return
    else:
        yield retry + b"\n"
    loop = asyncio.get_running_loop()
    with streams.follow(job) as subscriber:
        while not streams.is_closed:
            # A timer rather than wait_for: no task per wait, with a thousand streams.
            silence = loop.call_later(keepalive_seconds, subscriber.wake.set)
            await subscriber.wake.wait()
            silence.cancel()
            subscriber.wake.clear()
            if (pending := subscriber.take()) is not None:
                update, event = pending
                yield event
                if update.is_terminal:
                    return
            elif subscriber.is_done:
                return
            elif not streams.is_closed:
                yield KEEPALIVE
