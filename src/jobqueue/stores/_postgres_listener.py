"""The PostgreSQL store's change feed: one LISTEN connection of its own (outside the
pool), open while anyone iterates, fanned out through a `Broadcaster`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, cast

from psycopg import AsyncConnection, Error, sql

from jobqueue.models import Change, JobStatus
from jobqueue.stores.base import Broadcaster

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from jobqueue.stores._postgres_support import Settings

logger = logging.getLogger(__name__)

_BACKOFF = (0.1, 0.5, 1.0, 2.0, 5.0)


def parse_change(payload: str) -> Change | None:
    """The `Change` in a 'job_id:version:status' notification, or None when malformed."""
    try:
        job_id, version, status = payload.rsplit(":", 2)
        return Change(job_id, int(version), JobStatus(status))
    except ValueError:
        logger.warning("Ignoring a malformed change notification: %r", payload)
        return None


class Listener:
    """Delivers the changes announced on the store's channel to every follower."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._broadcaster = Broadcaster()
        self._followers = 0
        self._task: asyncio.Task[None] | None = None
        # Set once the running task's first LISTEN succeeded or failed.
        self._first_attempt = asyncio.Event()
        self.is_open = False

    def open(self) -> None:
        """Allow following."""
        self.is_open = True

    async def close(self) -> None:
        """End every follower and drop the connection."""
        self.is_open = False
        self._broadcaster.close()
        await self._stop()

    async def follow(self) -> AsyncIterator[Change]:
        """Changes from now on; the first follower connects, the last one disconnects."""
        if not self.is_open:
            return
        # Broadcaster.subscribe is an async generator: close it with us, not at GC.
        subscription = cast("AsyncGenerator[Change]", self._broadcaster.subscribe())
        self._followers += 1
        if self._task is None:
            self._first_attempt.clear()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"jobqueue-listen:{self._settings.schema}"
            )
        try:
            async for change in subscription:
                yield change
        finally:
            await subscription.aclose()
            self._followers -= 1
            if self._followers == 0:
                await self._stop()

    async def settled(self) -> None:
        """Return once a feed that is starting listens, or failed its first attempt.

        The store awaits this before each operation, so a follower receives every change
        this store makes after the follower started.
        """
        if self._task is not None and not self._first_attempt.is_set():
            await self._first_attempt.wait()

    async def _stop(self) -> None:
        self._first_attempt.set()  # release any operation waiting for a start
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

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
        while True:
            try:
                conn = await AsyncConnection.connect(self._settings.url, **kwargs)
                async with conn:
                    await conn.execute(listen)
                    self._first_attempt.set()
                    failures = 0
                    async for notify in conn.notifies():
                        if (change := parse_change(notify.payload)) is not None:
                            self._broadcaster.publish(change)
            except Error as exc:
                self._first_attempt.set()
                delay = _BACKOFF[min(failures, len(_BACKOFF) - 1)]
                failures += 1
                logger.warning(
                    "PostgreSQL change feed lost (%s); reconnecting in %.1fs", exc, delay
                )
                await asyncio.sleep(delay)
