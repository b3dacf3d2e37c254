"""`Hub`: one subscription to the store's changes per process, fanned out to every waiter.

SSE streams, long polls and worker wake-ups all wait here, so a thousand clients
following jobs cost one store subscription, not a thousand pollers.

The subscription is as narrow as the process allows: every change by default (it starts
when the queue opens), the changes a worker acts on for a process that only runs a worker.
It only ever widens (a worker's task that calls `JobQueue.wait`, say), and the narrower
subscription stays a moment so that nothing falls between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from jobqueue.asyncutil import wait_set
from jobqueue.errors import StoreError
from jobqueue.models import JobStatus
from jobqueue.retry import reconnect_delay

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from jobqueue.models import Change
    from jobqueue.stores.base import Store

logger = logging.getLogger(__name__)

#: How long a narrower subscription outlives the wider one that replaces it, at most.
_HANDOVER_SECONDS = 1.0


class Interest(enum.IntEnum):
    """What the hub subscribes to: the widest that any of its consumers needs."""

    NONE = 0
    WORK = 1  # jobs becoming queued, cancel requests: `Store.worker_changes`
    CHANGES = 2  # every change: `Store.changes`


class JobWatch:
    """What one waiter learns of one job's changes while it watches (see `Hub.watching`)."""

    __slots__ = ("_event", "may_be_terminal")

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.may_be_terminal = False
        """A change since `clear` announced a terminal status, or changes may have been lost."""

    def notify(self, change: Change | None) -> None:
        """Record *change* of the job (None: anything may have changed)."""
        if change is None or change.status.is_terminal:
            self.may_be_terminal = True
        self._event.set()

    def clear(self) -> None:
        """Forget what was recorded: call it just before reading the job."""
        self._event.clear()
        self.may_be_terminal = False

    async def changed(self, timeout: float | None = None) -> None:
        """Return at the next change (at once if one was recorded since `clear`), or after
        *timeout* seconds without one."""
        await wait_set(self._event, timeout)
        self._event.clear()


class Hub:
    """Hands each `Change` to whoever waits for it in this process."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._job_waiters: defaultdict[str, set[JobWatch]] = defaultdict(set)
        self._work_waiters: set[asyncio.Event] = set()
        self._loss_listeners: list[Callable[[], None]] = []
        self._listeners: list[Callable[[Change], None]] = []
        self._subscribed = False
        self._interest = Interest.NONE
        self._task: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()

    @property
    def interest(self) -> Interest:
        """What the hub is subscribed to now."""
        return self._interest

    @property
    def is_subscribed(self) -> bool:
        """Whether changes are coming in: False before the first subscription and while a
        lost one is being renewed (changes are missed meanwhile)."""
        return self._subscribed

    def need(self, interest: Interest) -> None:
        """Subscribe to at least *interest* from now on."""
        if interest <= self._interest and self._task is not None and not self._task.done():
            return
        previous, self._interest = self._task, max(interest, self._interest)
        self._task = asyncio.get_running_loop().create_task(
            self._run(self._interest), name=f"jobqueue-hub-{self._interest.name.lower()}"
        )
        if previous is not None and not previous.done():
            # The narrower subscription stays a moment, until the wider one is in place.
            self._retiring.add(previous)
            previous.add_done_callback(self._retiring.discard)
            asyncio.get_running_loop().call_later(_HANDOVER_SECONDS, previous.cancel)

    async def stop(self) -> None:
        """Unsubscribe."""
        tasks = [task for task in (self._task, *self._retiring) if task is not None]
        self._task, self._interest = None, Interest.NONE
        self._subscribed = False
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, interest: Interest) -> None:
        failures = 0
        while True:
            self._subscribed = True
            try:
                wide = interest is Interest.CHANGES
                async for change in self._store.changes() if wide else self._store.worker_changes():
                    failures = 0
                    if change is None:
                        self.wake_all()  # changes were missed: everyone re-reads
                    else:
                        self.dispatch(change)
                self._subscribed = False
                return  # the store closed
            except StoreError:
                self._subscribed = False
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
        for watch in self._job_waiters.get(change.job_id, ()):
            watch.notify(change)
        if change.status is JobStatus.QUEUED:
            for event in self._work_waiters:
                event.set()

    def wake_all(self) -> None:
        """Wake every waiter, as if everything changed."""
        for watches in self._job_waiters.values():
            for watch in watches:
                watch.notify(None)
        for event in self._work_waiters:
            event.set()
        for on_loss in self._loss_listeners:
            on_loss()

    @contextlib.contextmanager
    def watching(self, job_id: str) -> Iterator[JobWatch]:
        """The changes of *job_id* while the block runs.

        Enter it *before* reading the job, so no change between the read and the wait
        can be missed.
        """
        self.need(Interest.CHANGES)
        watch = JobWatch()
        waiters = self._job_waiters[job_id]
        waiters.add(watch)
        try:
            yield watch
        finally:
            waiters.discard(watch)
            if not waiters:
                del self._job_waiters[job_id]

    def add_listener(
        self, listener: Callable[[Change], None], interest: Interest = Interest.CHANGES
    ) -> None:
        """Call *listener* (quick, not blocking) with every change of *interest*.

        A listener of `Interest.WORK` may be called with other changes too.
        """
        self.need(interest)
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Change], None]) -> None:
        """Stop calling *listener*."""
        self._listeners.remove(listener)

    def add_work_event(self, event: asyncio.Event) -> None:
        """Set *event* whenever a job becomes queued; the caller clears it."""
        self.need(Interest.WORK)
        self._work_waiters.add(event)

    def discard_work_event(self, event: asyncio.Event) -> None:
        """Stop setting *event*."""
        self._work_waiters.discard(event)

    def add_loss_listener(self, on_loss: Callable[[], None]) -> None:
        """Call *on_loss* (quick, not blocking) whenever changes may have been missed:
        what a listener of every change knows may be out of date then."""
        self.need(Interest.CHANGES)
        self._loss_listeners.append(on_loss)

    def remove_loss_listener(self, on_loss: Callable[[], None]) -> None:
        """Stop calling *on_loss*."""
        self._loss_listeners.remove(on_loss)
