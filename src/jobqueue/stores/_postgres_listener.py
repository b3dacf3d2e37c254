"""The PostgreSQL store's change feed: one LISTEN connection of its own (outside the
pool), open while anyone iterates, fanned out through a `Broadcaster`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection, Error, sql

from jobqueue.retry import reconnect_delay
from jobqueue.stores._subscription import SharedSubscription
from jobqueue.stores.base import parse_change

if TYPE_CHECKING:
    from jobqueue.stores._postgres_support import Settings

logger = logging.getLogger(__name__)


class Listener(SharedSubscription):
    """Delivers the changes announced on the store's channel to every follower."""

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

    async def _run(self) -> None:
        """LISTEN and publish, reconnecting with backoff, until cancelled."""
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": self._settings.connect_timeout,
            # Notice a silently dropped connection within about a minute.
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._settings.channel))
        failures = 0
        is_lost = False
        while True:
            try:
                conn = await AsyncConnection.connect(self._settings.url, **kwargs)
                async with conn:
                    await conn.execute(listen)
                    self._first_attempt.set()
                    failures = 0
                    if is_lost:
                        self.publish(None)  # back: what was notified meanwhile is gone
                    async for notify in conn.notifies():
                        if (change := parse_change(notify.payload)) is not None:
                            self.publish(change)
            except Error as exc:
                is_lost = True
                self._first_attempt.set()
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning(
                    "PostgreSQL change feed lost (%s); reconnecting in %.1fs", exc, delay
                )
                await asyncio.sleep(delay)
