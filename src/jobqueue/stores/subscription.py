"""`SharedSubscription`: a backend's change subscription, open while anyone follows it.

The PostgreSQL and Redis stores each receive changes on a connection of their own. The
first follower starts it, the last one stops it, and a `Broadcaster` fans every change
out to all followers in between. A lost connection is made again with backoff, and the
followers are then told that changes may have been missed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, ClassVar, cast

from jobqueue.retry import reconnect_delay
from jobqueue.stores.base import Broadcaster

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable

    from jobqueue.models import Change

logger = logging.getLogger(__name__)


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
