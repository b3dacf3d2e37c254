"""`SQLiteStore`: jobs in one SQLite file that every process on the machine can share.

Each store owns one connection on one dedicated thread, and each method is one call on
that thread running one transaction. Writes take the write lock up front
(``BEGIN IMMEDIATE``), so every transition, a batched claim included, is atomic across
processes. This process's changes are published as they commit; other processes' are
found by a cheap poll of ``PRAGMA data_version`` and a change counter, at once when the
committing process wakes the poller (`jobqueue.stores.sqlite._wakeups`). A second
thread checkpoints the write-ahead log soon after writes, so that no commit pays for it
(`jobqueue.stores.sqlite._checkpoints`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self, TypeVar

from jobqueue.asyncutil import run_last
from jobqueue.errors import ConfigError, LeaseLost, StoreError
from jobqueue.models import Change, JobStatus
from jobqueue.stores.base import Store, StoreCapabilities
from jobqueue.stores.codec import decode_cursor
from jobqueue.stores.sqlite import _ops as ops
from jobqueue.stores.sqlite._checkpoints import Checkpointer
from jobqueue.stores.sqlite._connection import connect, parse_url, store_error
from jobqueue.stores.sqlite._transaction import STATEMENTS, Transaction
from jobqueue.stores.sqlite._wakeups import WakeupListener, WakeupSender, wakeup_folder
from jobqueue.stores.subscription import Broadcaster

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Collection, Sequence
    from datetime import datetime

    from jobqueue.models import (
        Claim,
        Claimant,
        HeartbeatResult,
        Job,
        JobFilter,
        JSONValue,
        Lease,
        NewJob,
        Page,
        Progress,
        Stats,
        WorkerInfo,
    )

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class SQLiteStore(Store):
    """Jobs in a SQLite database file: durable, and safe for several processes at once."""

    capabilities = StoreCapabilities(is_durable=True, is_multiprocess=True)

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_seconds: float = 5.0,
        poll_interval_seconds: float = 0.02,
    ) -> None:
        if not path:
            raise ConfigError("The SQLite store needs a database file path")
        if path == ":memory:" or path.startswith("file:"):
            raise ConfigError(
                "An in-memory SQLite database cannot be shared; use memory:// instead"
            )
        self.path = path
        self._busy_timeout = busy_timeout_seconds
        self._poll_interval = poll_interval_seconds
        self._executor: ThreadPoolExecutor | None = None
        self._broadcaster = Broadcaster()
        self._watchers = 0
        self._poller: asyncio.Task[None] | None = None
        self._poller_lock = asyncio.Lock()
        self._wakeups = WakeupListener(wakeup_folder(path))
        self._checkpointer: Checkpointer | None = None
        # Touched only on the store's thread:
        self._wakeup_sender = WakeupSender(wakeup_folder(path))
        self._connection: sqlite3.Connection | None = None
        self._data_version = 0
        self._seen_seq = 0

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """A store on the file that *url* names; *options* go to the constructor."""
        return cls(parse_url(url), **options)

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Open the file, creating it and the schema when missing."""
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobqueue-sqlite")
        self._executor = executor
        try:
            await self._call(self._connect)
        except BaseException:
            self._executor = None
            executor.shutdown(wait=False)
            raise
        self._checkpointer = Checkpointer(self.path, busy_timeout=self._busy_timeout)

    async def close(self) -> None:
        """Stop watching for changes, end the change iterators and close the file."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.cancel()
            await asyncio.wait({poller})
        self._wakeups.close()
        self._broadcaster.close()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await checkpointer.close()
        executor, self._executor = self._executor, None
        if executor is not None:
            await run_last(executor, self._disconnect)

    async def ping(self) -> None:
        """Run a trivial query."""
        await self._read(lambda tx: tx.rows("ping"))

    # -- submitting and reading ---------------------------------------------------

    async def create(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """Insert a queued job, or replay the one created under the same key."""
        return await self._write(lambda tx: ops.create(tx, new, now))

    async def get(self, job_id: str, now: datetime) -> Job | None:
        """One job, unless unknown or expired."""
        return await self._read(lambda tx: ops.get(tx, job_id, now))

    async def queue_position(self, job_id: str, now: datetime, limit: int) -> int | None:
        """How many ready jobs of its task go before the job, up to *limit*."""
        return await self._read(lambda tx: ops.queue_position(tx, job_id, now, limit))

    async def list_jobs(
        self, where: JobFilter, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Matching jobs, newest first, after the cursor."""
        after = decode_cursor(cursor) if cursor else None
        return await self._read(lambda tx: ops.list_jobs(tx, where, limit, after, now))

    async def stats(self, now: datetime, worker_horizon_seconds: float = 60.0) -> Stats:
        """Counts per task and status, and the recent workers."""
        return await self._read(lambda tx: ops.stats(tx, now, worker_horizon_seconds))

    # -- worker path -------------------------------------------------------------

    async def claim(self, claimant: Claimant, limit: int, now: datetime) -> list[Claim]:
        """Take up to *limit* ready jobs, best first, in one transaction."""
        return await self._write(lambda tx: ops.claim(tx, claimant, limit, now))

    async def heartbeat(
        self, worker_id: str, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> HeartbeatResult:
        """Extend the leases still held."""
        return await self._write(lambda tx: ops.heartbeat(tx, leases, lease_seconds, now))

    async def record_progress(self, lease: Lease, progress: Progress, now: datetime) -> Job:
        """Store the latest progress."""
        return await self._write(lambda tx: ops.record_progress(tx, lease, progress))

    async def complete(self, lease: Lease, result: JSONValue, now: datetime) -> Job:
        """Finish the attempt successfully."""
        return await self._write(lambda tx: ops.complete(tx, lease, result, now))

    async def complete_many(
        self, completions: Sequence[tuple[Lease, JSONValue]], now: datetime
    ) -> list[LeaseLost | None]:
        """Finish several attempts successfully in one transaction."""

        def body(tx: Transaction) -> list[LeaseLost | None]:
            outcomes: list[LeaseLost | None] = []
            for lease, result in completions:
                try:
                    ops.complete(tx, lease, result, now)
                except LeaseLost as lost:
                    outcomes.append(lost)
                else:
                    outcomes.append(None)
            return outcomes

        return await self._write(body)

    async def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> Job:
        """Finish the attempt with an error; retry or fail for good."""
        return await self._write(lambda tx: ops.fail(tx, lease, error, retry_at, now))

    async def finish_cancelled(self, lease: Lease, now: datetime) -> Job:
        """Finish a stopped attempt as cancelled."""
        return await self._write(lambda tx: ops.finish_cancelled(tx, lease, now))

    async def release(self, lease: Lease, now: datetime) -> Job:
        """Hand the job back without counting the attempt."""
        return await self._write(lambda tx: ops.release(tx, lease, now))

    async def next_run_at(self, tasks: Collection[str], now: datetime) -> datetime | None:
        """The earliest run time among queued jobs of *tasks*."""
        return await self._read(lambda tx: ops.next_run_at(tx, tasks))

    # -- operator actions ----------------------------------------------------------

    async def request_cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a queued job, or flag a running one."""
        return await self._write(lambda tx: ops.request_cancel(tx, job_id, now))

    async def retry(self, job_id: str, now: datetime) -> Job:
        """Queue a failed or cancelled job again."""
        return await self._write(lambda tx: ops.retry(tx, job_id, now))

    # -- maintenance -------------------------------------------------------------

    async def reap_expired_leases(self, now: datetime, limit: int = 100) -> list[Job]:
        """Recover jobs whose worker stopped renewing their lease."""
        return await self._write(lambda tx: ops.reap_expired_leases(tx, now, limit))

    async def count_hit(self, key: str, until: datetime, now: datetime) -> int:
        """Count a hit in the window (one upsert)."""
        return await self._write(lambda tx: ops.count_hit(tx, key, until))

    async def purge_expired(self, now: datetime, limit: int = 1000) -> int:
        """Delete expired jobs and the idempotency keys that still name them."""
        return await self._write(lambda tx: ops.purge_expired(tx, now, limit))

    async def register_worker(self, info: WorkerInfo) -> None:
        """Remember the worker."""
        await self._write(lambda tx: ops.register_worker(tx, info))

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget the worker."""
        await self._write(lambda tx: ops.unregister_worker(tx, worker_id))

    # -- notifications -----------------------------------------------------------

    async def changes(self) -> AsyncIterator[Change | None]:
        """Changes from now on: this process's at once, other processes' within a poll."""
        try:
            async for change in self._broadcaster.subscribe(ready=self._watch):
                yield change
        finally:
            self._unwatch()

    async def _watch(self) -> None:
        self._watchers += 1
        async with self._poller_lock:
            if self._poller is None:
                await self._call(self._mark_position)
                self._wakeups.open()
                self._poller = asyncio.get_running_loop().create_task(
                    self._poll(), name="jobqueue-sqlite-poller"
                )

    def _unwatch(self) -> None:
        self._watchers -= 1
        if self._watchers == 0 and self._poller is not None:
            self._poller.cancel()
            self._poller = None
            self._wakeups.close()

    async def _poll(self) -> None:
        is_failing = False
        while True:
            await self._wakeups.wait(self._poll_interval)
            try:
                changes = await self._call(self._read_new_changes)
            except StoreError as exc:
                if not is_failing:
                    logger.warning("Cannot read other processes' changes: %s", exc)
                is_failing = True
                continue
            is_failing = False
            self._publish(changes)

    def _publish(self, changes: list[Change]) -> None:
        for change in changes:
            self._broadcaster.publish(change)

    # -- the store's thread ----------------------------------------------------------

    async def _call(self, function: Callable[[], _T]) -> _T:
        """Run *function* on the store's thread, translating driver errors."""
        if self._executor is None:
            raise StoreError("The SQLite store is not open")
        return await asyncio.wrap_future(self._executor.submit(self._translated, function))

    async def _read(self, body: Callable[[Transaction], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await self._call(lambda: self._transaction("BEGIN", body, loop))

    async def _write(self, body: Callable[[Transaction], _T]) -> _T:
        loop = asyncio.get_running_loop()
        value = await self._call(lambda: self._transaction("BEGIN IMMEDIATE", body, loop))
        if self._checkpointer is not None:
            self._checkpointer.wrote()
        return value

    def _translated(self, function: Callable[[], _T]) -> _T:
        """The one place where driver errors become store errors."""
        try:
            return function()
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc

    def _open_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError("The SQLite store is closed")
        return self._connection

    def _transaction(
        self,
        begin: str,
        body: Callable[[Transaction], _T],
        loop: asyncio.AbstractEventLoop,
    ) -> _T:
        connection = self._open_connection()
        tx = Transaction(connection)
        connection.execute(begin)
        try:
            value = body(tx)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        if tx.seq is not None and tx.seq == self._seen_seq + 1:
            self._seen_seq = tx.seq  # our own write, published below: no need to read it back
        if tx.changes:
            # Scheduled before the caller's result, so subscribers see the change first.
            loop.call_soon_threadsafe(self._publish, tx.changes)
            self._wakeup_sender.send(self._wakeups.path)
        return value

    def _connect(self) -> None:
        self._connection = connect(self.path, self._busy_timeout)

    def _disconnect(self) -> None:
        self._wakeup_sender.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _mark_position(self) -> None:
        """Remember how far other processes' changes go, to report only newer ones."""
        connection = self._open_connection()
        (self._data_version,) = connection.execute("PRAGMA data_version").fetchone()
        (self._seen_seq,) = connection.execute(STATEMENTS["last_seq"]).fetchone()

    def _read_new_changes(self) -> list[Change]:
        connection = self._open_connection()
        # data_version moves only when another connection committed: usually nothing to read.
        (data_version,) = connection.execute("PRAGMA data_version").fetchone()
        if data_version == self._data_version:
            return []
        self._data_version = data_version
        rows = connection.execute(STATEMENTS["changes_since"], {"seq": self._seen_seq})
        changes = []
        for row in rows:
            changes.append(Change(row["job_id"], row["version"], JobStatus(row["status"])))
            self._seen_seq = row["seq"]
        return changes
