"""Checkpoints of the SQLite store's write-ahead log, made off the commit path.

SQLite copies the WAL back into the database file (a checkpoint) by itself inside the
commit that grows the WAL past 1,000 pages, and that commit waits for the copy and its
fsync: a few milliseconds added to whichever job transition crossed the line, the
store's slowest percentile. `Checkpointer` runs a passive checkpoint shortly after
writes instead, on a thread and connection of its own, so the WAL stays short and the
automatic checkpoint remains a backstop for bursts that outrun it. A passive checkpoint
takes no lock that writers or readers wait for.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor

from jobqueue.asyncutil import run_last

logger = logging.getLogger(__name__)


class Checkpointer:
    """Checkpoints *path*'s WAL at most every *delay* seconds while writes go on.

    Call `wrote` on the event loop after each committed write, and `close` once; a closed
    checkpointer ignores further writes.
    """

    def __init__(self, path: str, *, delay: float = 0.05, busy_timeout: float = 5.0) -> None:
        self._path = path
        self._delay = delay
        self._busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._running: Future[None] | None = None
        self._is_closed = False
        # Touched only on the executor's thread:
        self._connection: sqlite3.Connection | None = None

    def wrote(self) -> None:
        """Note a committed write: a checkpoint follows within *delay* seconds."""
        if self._timer is None and not self._is_closed:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._start)

    async def close(self) -> None:
        """Cancel the next checkpoint, let a running one finish, release the connection."""
        self._is_closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        executor, self._executor = self._executor, None
        if executor is not None:
            await run_last(executor, self._disconnect)

    def _start(self) -> None:
        self._timer = None
        if self._running is not None and not self._running.done():
            self.wrote()  # one at a time: look again after this one
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="jobqueue-sqlite-checkpoint"
            )
        self._running = self._executor.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    self._path, timeout=self._busy_timeout, isolation_level=None
                )
            self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            # The automatic checkpoint still bounds the WAL; say so only when debugging.
            logger.debug("Background checkpoint of %s failed: %s", self._path, exc)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
