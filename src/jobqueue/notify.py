"""`Hub`: one subscription to the store's changes per process, fanned out to every waiter.

SSE streams, long polls and worker wake-ups all wait here, so a thousand clients
following jobs cost one store subscription, not a thousand pollers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from jobqueue.errors import StoreError
from jobqueue.models import JobStatus
from jobqueue.retry import reconnect_delay

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from jobqueue.models import Change
    from jobqueue.stores.base import Store

logger = logging.getLogger(__name__)


class Hub:
    """Dispatches `Change` signals to whoever waits for them in this process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._job_waiters: defaultdict[str, set[asyncio.Event]] = defaultdict(set)
        self._work_waiters: set[asyncio.Event] = set()
        self._listeners: list[Callable[[Change], None]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Subscribe to the store (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="jobqueue-hub")

    async def stop(self) -> None:
        """Unsubscribe."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async for change in self._store.changes():
                    failures = 0
                    self.dispatch(change)
                return  # the store closed
            except StoreError:
                delay = reconnect_delay(failures)
                logger.warning("Change notifications lost; resubscribing in %.1fs", delay)
                failures += 1
                # Anything may have changed meanwhile: wake every waiter to re-read.
                self.wake_all()
                await asyncio.sleep(delay)

    def dispatch(self, change: Change) -> None:
        """Wake the waiters of *change*'s job, and the workers when work became ready."""
        for listener in self._listeners:
            listener(change)
        for event in self._job_waiters.get(change.job_id, ()):
            event.set()
        if change.status is JobStatus.QUEUED:
            for event in self._work_waiters:
                event.set()

    def wake_all(self) -> None:
        """Wake every waiter, as if everything changed."""
        for events in self._job_waiters.values():
            for event in events:
                event.set()
        for event in self._work_waiters:
            event.set()

    @contextlib.contextmanager
    def watching(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set on every change of *job_id* while the block runs.

        Enter it *before* reading the job, so no change between the read and the wait
        can be missed.
        """
        event = asyncio.Event()
        waiters = self._job_waiters[job_id]
        waiters.add(event)
        try:
            yield event
        finally:
            waiters.discard(event)
            if not waiters:
                del self._job_waiters[job_id]

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        """Call *listener* (quick, not blocking) with every change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Change], None]) -> None:
        """Stop calling *listener*."""
        self._listeners.remove(listener)

    def work_signal(self) -> asyncio.Event:
        """An event set whenever a job becomes queued; the caller clears it."""
        event = asyncio.Event()
        self._work_waiters.add(event)
        return event

    def drop_work_signal(self, event: asyncio.Event) -> None:
        """Stop setting *event*."""
        self._work_waiters.discard(event)
