"""Announcing a job's events to its webhook: a delivery job per subscribed event.

The delivery is created right after the transition it reports, by the process that made
the transition, before the lifecycle call returns: a transition that was written is
announced unless that process dies in between. Creating it is idempotent (see
`jobqueue.webhooks.messages`), so it is tried again while the store is unavailable, for
a while, and then given up with an error in the log: the transition itself stands.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from jobqueue.errors import JobQueueError, StoreUnavailable
from jobqueue.models import JobStatus
from jobqueue.retry import RECONNECT_DELAYS
from jobqueue.webhooks.messages import DELIVERY_TASK, new_delivery

if TYPE_CHECKING:
    from collections.abc import Iterable

    from jobqueue.clock import Clock
    from jobqueue.models import Job
    from jobqueue.stores import Store
    from jobqueue.tasks import TaskRegistry

logger = logging.getLogger(__name__)

#: The event each terminal status is.
TERMINAL_EVENTS = {
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


def wants(job: Job, event: str) -> bool:
    """Whether *job*'s webhook subscribes to *event*."""
    return job.webhook is not None and event in job.webhook.events


class Announcer:
    """Creates the deliveries of events in *store*, retried as *tasks*' delivery task says."""

    def __init__(self, store: Store, clock: Clock, tasks: TaskRegistry) -> None:
        self._store = store
        self._clock = clock
        self._tasks = tasks

    async def announce(self, job: Job, event: str) -> None:
        """Create the delivery of *event* of *job*, if its webhook subscribes to it."""
        if not wants(job, event):
            return
        attempts = self._tasks.resolve(DELIVERY_TASK).options.max_attempts or 1
        new = new_delivery(job, event, self._clock.now(), max_attempts=attempts)
        failure: JobQueueError | None = None
        for delay in (*RECONNECT_DELAYS, None):
            try:
                await self._store.create(new, self._clock.now())
                return
            except StoreUnavailable as exc:
                failure = exc
            except JobQueueError as exc:
                failure = exc
                break
            if delay is not None:
                await asyncio.sleep(delay)
        logger.error("Could not announce %s of job %s: %s", event, job.job_id, failure)

    async def announce_ends(self, jobs: Iterable[Job]) -> None:
        """Announce how each of *jobs* ended, for those that did."""
        for job in jobs:
            event = TERMINAL_EVENTS.get(job.status)
            if event is not None:
                await self.announce(job, event)
