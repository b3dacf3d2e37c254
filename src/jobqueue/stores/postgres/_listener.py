"""The PostgreSQL store's change feed: one LISTEN connection of its own (outside the
pool), open while anyone iterates, fanned out through a `Broadcaster`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection, Error, sql

from jobqueue.stores.codec import parse_change
from jobqueue.stores.subscription import SharedSubscription

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobqueue.stores.postgres._connection import Settings


class Listener(SharedSubscription):
    """Delivers the changes announced on the store's channel to every follower."""

    lost_errors = (Error,)

    def __init__(self, settings: Settings) -> None:
        super().__init__(f"jobqueue-listen:{settings.schema}")
        self._settings = settings
        # Set once the running task's first LISTEN succeeded or failed.
        self._first_attempt = asyncio.Event()

    async def settled(self) -> None:
        """Return once a feed that is starting listens, or failed its first attempt.

        The store awaits this before each operation, so a follower receives every change
        this store makes after the follower started.
        """
        if self._task is not None and not self._first_attempt.is_set():
            await self._first_attempt.wait()

    def _start(self) -> None:
        self._first_attempt.clear()
        super()._start()

    async def _stop(self) -> None:
        self._first_attempt.set()  # release any operation waiting for a start
        await super()._stop()

    async def _listen(self, subscribed: Callable[[], None]) -> None:
        """LISTEN on a connection of its own and publish every notification."""
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": self._settings.connect_timeout,
            # Notice a silently dropped connection within about a minute.
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._settings.channel))
        try:
            conn = await AsyncConnection.connect(self._settings.url, **kwargs)
            async with conn:
                await conn.execute(listen)
                self._first_attempt.set()
                subscribed()
                async for notify in conn.notifies():
                    if (change := parse_change(notify.payload)) is not None:
                        self.publish(change)
        finally:
            self._first_attempt.set()  # a failed first attempt settles it too
