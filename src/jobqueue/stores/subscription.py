"""Fanning changes out inside one process: `Broadcaster`, and `SharedSubscription`, a
backend's change subscription that stays open while anyone follows it.

Every store hands each of its `Store.changes` iterators the same changes through a
`Broadcaster`. The PostgreSQL and Redis stores also receive changes on a connection of
their own: the first follower starts it, the last one stops it, and a lost connection is
made again with backoff, after which the followers are told that changes may have been
missed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, ClassVar, cast

from jobqueue.retry import reconnect_delay

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

    from jobqueue.models import Change

logger = logging.getLogger(__name__)


class _Closed:
    """What a `Broadcaster` queues to end a subscription."""


_CLOSED = _Closed()


class Broadcaster:
    """Fans one process's changes out to every `Store.changes` iterator."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change | _Closed | None]] = set()

    def publish(self, change: Change | None) -> None:
        """Deliver *change* (None: changes may have been missed) to every subscriber."""
        for queue in self._queues:
            queue.put_nowait(change)

    def close(self) -> None:
        """End every subscription."""
        for queue in self._queues:
            queue.put_nowait(_CLOSED)

    async def subscribe(
        self, ready: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[Change | None]:
        """Changes published from now on, until `close`.

        *ready* is awaited once the subscription is in place, before the first change is
        awaited: a store that must fetch a starting point (a poller's position) does it
        there, so nothing published meanwhile is lost.
        """
        queue: asyncio.Queue[Change | _Closed | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            if ready is not None:
                await ready()
            while not isinstance(change := await queue.get(), _Closed):
                yield change
        finally:
            self._queues.discard(queue)


class SharedSubscription(abc.ABC):
    """Runs `_listen` while anyone follows, again after each loss; it hands what it
    receives to `publish`."""

    #: The driver's errors that mean the connection is lost.
    lost_errors: ClassVar[tuple[type[Exception], ...]]

    def __init__(self, name: str) -> None:
        self.name = name
        self.is_open = False
        self._broadcaster = Broadcaster()
        self._followers = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def is_followed(self) -> bool:
        """True while any follower iterates."""
        return self._followers > 0

    def open(self) -> None:
        """Allow following (a follower of a store that is not open gets nothing)."""
        self.is_open = True

    async def close(self) -> None:
        """End every follower and stop the subscription."""
        self.is_open = False
        self._broadcaster.close()
        await self._stop()

    def publish(self, change: Change | None) -> None:
        """Deliver *change* to every follower; None when changes may have been missed."""
        self._broadcaster.publish(change)

    async def follow(self) -> AsyncIterator[Change | None]:
        """Changes from now on; the first follower subscribes, the last unsubscribes."""
        if not self.is_open:
            return
        # Broadcaster.subscribe is an async generator: close it with us, not at GC.
        subscription = cast("AsyncGenerator[Change | None]", self._broadcaster.subscribe())
        self._followers += 1
        if self._task is None:
            self._start()
        try:
            async for change in subscription:
                yield change
        finally:
            await subscription.aclose()
            self._followers -= 1
            if self._followers == 0:
                await self._stop()

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        """`_listen` until cancelled, subscribing again with backoff after each loss."""
        failures = 0
        is_lost = False

        def subscribed() -> None:
            nonlocal failures, is_lost
            failures = 0
            if is_lost:
                is_lost = False
                self.publish(None)  # back: what was announced meanwhile is gone

        while True:
            try:
                await self._listen(subscribed)
            except self.lost_errors as exc:
                is_lost = True
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning("%s lost (%s); subscribing again in %.2fs", self.name, exc, delay)
                await asyncio.sleep(delay)

    @abc.abstractmethod
    async def _listen(self, subscribed: Callable[[], None]) -> None:
        """Subscribe, call *subscribed*, then `publish` every change; raise one of
        `lost_errors` when the connection is lost."""
