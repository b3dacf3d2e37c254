"""Periodic maintenance that workers and servers run: recover expired leases, purge
expired jobs.

Every worker and server runs it; each pass is a few bounded, indexed store calls, so many
workers doing it at once stay correct (each transition is atomic) and cheap.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from jobqueue.aio import wait_set
from jobqueue.errors import StoreError

if TYPE_CHECKING:
    import asyncio

    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)

REAP_BATCH = 100
PURGE_BATCH = 1000
#: Passes that find full batches go on at once, up to this many rounds.
MAX_ROUNDS = 10


class Maintenance:
    """Reaps expired leases and purges expired jobs every *interval* seconds (jittered)."""

    def __init__(self, queue: JobQueue, *, interval: float = 1.0) -> None:
        self.queue = queue
        self.interval = interval
        self._random = random.Random()  # its own: never disturbs the global generator

    async def run_once(self) -> tuple[int, int]:
        """One pass; returns the number of jobs reaped and purged."""
        await self.queue.open()
        lifecycle = self.queue.lifecycle
        reaped = purged = 0
        for _ in range(MAX_ROUNDS):
            batch = await lifecycle.recover_lost_leases(REAP_BATCH)
            reaped += len(batch)
            if len(batch) < REAP_BATCH:
                break
        for _ in range(MAX_ROUNDS):
            count = await lifecycle.expire(PURGE_BATCH)
            purged += count
            if count < PURGE_BATCH:
                break
        if reaped:
            logger.warning("Recovered %d jobs whose worker was lost", reaped)
        return reaped, purged

    async def run(self, stopping: asyncio.Event) -> None:
        """Pass after pass until *stopping* is set."""
        while not stopping.is_set():
            try:
                await self.run_once()
            except StoreError as exc:
                logger.warning("Maintenance failed: %s", exc)
            # Jitter spreads the passes of workers that started together.
            await wait_set(stopping, self.interval * self._random.uniform(0.5, 1.5))
