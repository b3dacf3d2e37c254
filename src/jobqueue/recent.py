"""`RecentJobs`: the jobs this process read lately, answered again while nothing newer is known.

A process subscribed to every change (an API server) hears of each new version of each
job through its hub. A job read from the store is kept, and a later read of it is answered
from memory for as long as the hub has announced no newer version, so a thousand polls or
stream connects for one job cost one store read per change rather than one each. What
keeps it exact:

- a change announcing a newer version evicts the job, and a sign that changes may have
  been missed (the hub's loss listeners) evicts everything;
- a read overtaken by a change of its job (one announced newer than what it read) is
  answered but not kept;
- writes made through this process evict their job, so the process reads its own writes;
- an entry is kept at most `SAFETY_SECONDS` (as `jobqueue.waiting` re-reads: a notification
  lost without a trace cannot keep an old version longer) and never past the job's expiry;
- concurrent reads of one job share one store read; the entries are bounded (LRU).

Without a subscription to every change (a worker-only process) nothing is kept.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobqueue.notify import Interest
from jobqueue.waiting import SAFETY_SECONDS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from jobqueue.clock import Clock
    from jobqueue.models import Change, Job
    from jobqueue.notify import Hub

#: The most jobs kept.
CAPACITY = 10_000


@dataclass(slots=True)
class _Read:
    """A store read in flight, shared by its callers, and the newest version announced
    while it was (a read older than that is not kept)."""

    result: asyncio.Future[Job | None]
    announced: float = field(default=0)

    def overtake(self, version: float = math.inf) -> None:
        self.announced = max(self.announced, version)


class RecentJobs:
    """Jobs by id as last read, fed by *hub*'s announcements; see the module."""

    def __init__(
        self,
        hub: Hub,
        read: Callable[[str], Awaitable[Job | None]],
        clock: Clock,
        capacity: int = CAPACITY,
    ) -> None:
        self._hub = hub
        self._read = read
        self._clock = clock
        self._capacity = capacity
        self._jobs: OrderedDict[str, tuple[Job, datetime]] = OrderedDict()
        self._reads: dict[str, _Read] = {}
        self._listening = False

    def __len__(self) -> int:
        return len(self._jobs)

    async def get(self, job_id: str) -> Job | None:
        """The job, from memory when it is known to be current, else from the store."""
        kept = self._jobs.get(job_id)
        if kept is not None:
            job, read_at = kept
            now = self._clock.now()
            if (now - read_at).total_seconds() < SAFETY_SECONDS and (
                job.expires_at is None or job.expires_at > now
            ):
                self._jobs.move_to_end(job_id)
                return job
            del self._jobs[job_id]
        pending = self._reads.get(job_id)
        if pending is None:
            pending = self._start_read(job_id)
        return await asyncio.shield(pending.result)

    def forget(self, job_id: str) -> None:
        """Drop what is kept of *job_id*: this process has just changed it."""
        self._jobs.pop(job_id, None)
        if (pending := self._reads.get(job_id)) is not None:
            pending.overtake()

    def _start_read(self, job_id: str) -> _Read:
        self._listen()
        read_at = self._clock.now()
        pending = _Read(asyncio.ensure_future(self._read(job_id)))
        self._reads[job_id] = pending

        def done(result: asyncio.Future[Job | None]) -> None:
            del self._reads[job_id]
            if result.cancelled() or result.exception() is not None:
                return
            job = result.result()
            if job is not None and job.version >= pending.announced and self._may_keep():
                self._keep(job, read_at)

        pending.result.add_done_callback(done)
        return pending

    def _may_keep(self) -> bool:
        return self._hub.interest is Interest.CHANGES and self._hub.is_subscribed

    def _keep(self, job: Job, read_at: datetime) -> None:
        self._jobs[job.job_id] = (job, read_at)
        self._jobs.move_to_end(job.job_id)
        while len(self._jobs) > self._capacity:
            self._jobs.popitem(last=False)

    def _listen(self) -> None:
        if not self._listening:
            self._listening = True
            self._hub.add_listener(self._on_change)
            self._hub.add_loss_listener(self._on_loss)

    def _on_change(self, change: Change) -> None:
        kept = self._jobs.get(change.job_id)
        if kept is not None and kept[0].version < change.version:
            del self._jobs[change.job_id]
        if (pending := self._reads.get(change.job_id)) is not None:
            pending.overtake(change.version)

    def _on_loss(self) -> None:
        self._jobs.clear()
        for pending in self._reads.values():
            pending.overtake()
