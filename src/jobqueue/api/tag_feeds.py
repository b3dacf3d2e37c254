"""`TagFeeds`: the jobs that come to carry a tag, for the tag's event streams.

A change notification names a job, not its tags. One feed per tag in this process
(shared by all the tag's streams) reads a job when it becomes ``queued`` (submitted, or
retried) and hands it to every stream of the tag when it carries the tag. Tags never
change, so a job found not to carry it is remembered and costs nothing more. When the
hub reports that changes may have been missed, the feed lists the tag's newest jobs
again instead. Following each job after that is the job's own feed (`Streams.subscribe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from jobqueue.errors import StoreError
from jobqueue.models import JobStatus

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from jobqueue.models import Change, Job
    from jobqueue.queue import JobQueue

    Receiver = Callable[[Job], None]

logger = logging.getLogger(__name__)

#: Jobs known not to carry the tag, kept per feed (the oldest are forgotten first).
_OTHERS_KEPT = 10_000
#: How many of the tag's newest jobs are listed again after changes were missed.
_RELIST_LIMIT = 500


class _TagFeed:
    """Hands every job that becomes ``queued`` with *tag* to its receivers."""

    def __init__(self, queue: JobQueue, tag: str) -> None:
        self.tag = tag
        self.receivers: set[Receiver] = set()
        self._queue = queue
        self._queued: dict[str, None] = {}  # job ids to read, in order, without repeats
        self._others: dict[str, None] = {}
        self._relist = False
        self._wake = asyncio.Event()
        queue.hub.add_listener(self._on_change)
        queue.hub.add_loss_listener(self._on_loss)
        self.task = asyncio.get_running_loop().create_task(
            self._run(), name=f"jobqueue-tag-feed-{tag}"
        )

    def stop(self) -> None:
        self._queue.hub.remove_listener(self._on_change)
        self._queue.hub.remove_loss_listener(self._on_loss)
        self.task.cancel()

    def _on_change(self, change: Change) -> None:
        if change.status is JobStatus.QUEUED and change.job_id not in self._others:
            self._queued[change.job_id] = None
            self._wake.set()

    def _on_loss(self) -> None:
        self._relist = True
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            relist, self._relist = self._relist, False
            job_ids, self._queued = list(self._queued), {}
            try:
                if relist:
                    page = await self._queue.list(tag=self.tag, limit=_RELIST_LIMIT)
                    for job in page.jobs:
                        await self._deliver(job)
                for job_id in job_ids:
                    if (found := await self._queue.get(job_id)) is not None:
                        await self._deliver(found)
            except StoreError as exc:
                logger.warning("Following tag %s: the store failed (%s)", self.tag, exc)
                self._on_loss()  # list the tag again once the store answers
                await asyncio.sleep(1.0)

    async def _deliver(self, job: Job) -> None:
        if self.tag not in job.tags:
            self._others[job.job_id] = None
            if len(self._others) > _OTHERS_KEPT:
                del self._others[next(iter(self._others))]
            return
        job = await self._queue.with_position(job)
        for receive in list(self.receivers):
            receive(job)


class TagFeeds:
    """The tags followed in this process, each by one feed shared by its streams."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._feeds: dict[str, _TagFeed] = {}

    @contextlib.contextmanager
    def joining(self, tag: str, receive: Receiver) -> Iterator[None]:
        """Call *receive* with each job that becomes ``queued`` with *tag* while the block
        runs (a job may come more than once, and at a version the caller has seen)."""
        feed = self._feeds.get(tag)
        if feed is None or feed.task.done():
            feed = self._feeds[tag] = _TagFeed(self._queue, tag)
        feed.receivers.add(receive)
        try:
            yield
        finally:
            feed.receivers.discard(receive)
            if not feed.receivers:
                feed.stop()
                if self._feeds.get(tag) is feed:
                    del self._feeds[tag]
