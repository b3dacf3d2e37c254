"""`PostgresStore`: jobs in PostgreSQL through a psycopg 3 connection pool.

Claims take ready jobs with ``FOR UPDATE SKIP LOCKED``, so any number of workers in any
number of processes share one queue; changes travel by LISTEN/NOTIFY. The SQL lives in
``migrations/`` (numbered) and the named statements of ``queries.sql``, beside this module.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self, cast

from psycopg import Error as DriverError
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool

from jobqueue.errors import LeaseLost, StoreError, StoreUnavailable
from jobqueue.models import RUNNING_KEYS_SHOWN, Claim, HeartbeatResult, JobStatus, Lease
from jobqueue.stores.base import CANCELLED_ERROR, LOST_WORKER_ERROR, Store, StoreCapabilities
from jobqueue.stores.claiming import task_room
from jobqueue.stores.postgres import _reads as reads
from jobqueue.stores.postgres import _transactions as transactions
from jobqueue.stores.postgres._connection import (
    Connection,
    Settings,
    configure,
    translated,
)
from jobqueue.stores.postgres._listener import Listener
from jobqueue.stores.postgres._migrations import apply_migrations
from jobqueue.stores.postgres._rows import CLAIM_READY, QUERIES, fetch_one, job_from_row
from jobqueue.stores.urls import pop_query

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection, Mapping, Sequence

    from psycopg.rows import DictRow

    from jobqueue.models import (
        Change,
        Claimant,
        Job,
        JobFilter,
        JSONValue,
        NewJob,
        Page,
        Progress,
        Stats,
        WorkerInfo,
    )


class PostgresStore(Store):
    """Jobs in a PostgreSQL schema (default ``jobqueue``), shared by every process.

    Options (also accepted by `open_store` and `from_url`): *schema*; *min_size* and
    *max_size* of the connection pool; *timeout*, the seconds an operation waits for a
    connection before raising `StoreUnavailable`.
    """

    capabilities = StoreCapabilities(is_durable=True, is_multiprocess=True)

    def __init__(
        self,
        url: str,
        *,
        schema: str = "jobqueue",
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        self._settings = Settings(url, schema, timeout)
        self._min_size = min_size
        self._max_size = max_size
        self._pool: AsyncConnectionPool[Connection] | None = None
        self._listener = Listener(self._settings)
        self._pool_check: asyncio.Task[None] | None = None
        self._opening = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """A store for a ``postgresql://`` or ``postgres://`` URL, not yet opened.

        ``?schema=NAME`` in the URL chooses the schema, like the ``schema`` option.
        """
        url, from_query = pop_query(url, "schema")
        return cls(url, **{**from_query, **options})

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Open the pool and apply pending migrations."""
        async with self._opening:
            if self._pool is None:
                await self._open_pool()

    async def _open_pool(self) -> None:
        pool = AsyncConnectionPool(
            self._settings.url,
            connection_class=Connection,
            kwargs=self._settings.connect_kwargs(),
            min_size=self._min_size,
            max_size=self._max_size,
            timeout=self._settings.timeout,
            configure=configure,
            open=False,
            name=f"jobqueue:{self._settings.schema}",
        )
        try:
            async with translated():
                await pool.open(wait=True, timeout=self._settings.timeout)
                async with pool.connection() as conn:
                    await apply_migrations(conn, self._settings.schema)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._listener.open()

    async def close(self) -> None:
        """End the change iterators, stop listening and close the pool."""
        await self._listener.close()
        if self._pool_check is not None:
            self._pool_check.cancel()
            self._pool_check = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def ping(self) -> None:
        """Run a trivial query."""
        async with self._connection() as conn:
            await conn.execute("SELECT 1")

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        if self._pool is None:
            raise StoreError("The PostgreSQL store is not open")
        pool = self._pool
        # A change feed that is just starting listens before we write: a follower sees
        # every change this store makes after it started following.
        await self._listener.settled()
        try:
            async with translated(), pool.connection() as conn:
                yield conn
        except StoreUnavailable:
            # Idle connections may be dead too (say, the server restarted): have the
            # pool test and replace them now, rather than fail once per connection.
            if self._pool_check is None or self._pool_check.done():
                self._pool_check = asyncio.get_running_loop().create_task(_check_pool(pool))
            raise

    async def _fetch_one(self, name: str, params: Mapping[str, Any]) -> DictRow | None:
        async with self._connection() as conn:
            return await fetch_one(conn, name, params)

    async def _execute(self, name: str, params: Mapping[str, Any]) -> int:
        async with self._connection() as conn:
            return (await conn.execute(QUERIES[name], params)).rowcount

    async def _fetch_all(self, name: str, params: Mapping[str, Any]) -> list[DictRow]:
        async with self._connection() as conn:
            cursor = await conn.execute(QUERIES[name], params)
            return await cursor.fetchall()

    # -- submitting and reading ---------------------------------------------------

    async def create(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """Insert a queued job, or replay the one created under the same key."""
        async with self._connection() as conn:
            return await transactions.create(conn, new, now)

    async def get(self, job_id: str, now: datetime) -> Job | None:
        """One job, unless unknown or expired."""
        row = await self._fetch_one("get_job", {"job_id": job_id, "now": now})
        return None if row is None else job_from_row(row)

    async def list_jobs(
        self, where: JobFilter, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Matching jobs, newest first, after the cursor."""
        query, params = reads.list_query(where, limit, cursor, now)
        async with self._connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        return reads.page_of(rows, limit)

    async def stats(self, now: datetime, worker_horizon_seconds: float = 60.0) -> Stats:
        """Counts per task and status, and the recent workers."""
        horizon = now - timedelta(seconds=worker_horizon_seconds)
        async with self._connection() as conn:
            counts = await (await conn.execute(QUERIES["count_jobs"], {"now": now})).fetchall()
            seen = await conn.execute(QUERIES["recent_workers"], {"horizon": horizon})
            workers = await seen.fetchall()
            busy = await conn.execute(QUERIES["busiest_keys"], {"limit": RUNNING_KEYS_SHOWN})
            keys = await busy.fetchall()
            held = await (await conn.execute(QUERIES["running_per_worker"])).fetchall()
        return reads.stats_of(counts, workers, keys, held)

    # -- worker path -----------------------------------------------------------

    async def claim(self, claimant: Claimant, limit: int, now: datetime) -> list[Claim]:
        """Take ready jobs worth up to *limit* slots, best first: in one statement, unless
        a task's running jobs must be counted (then in one transaction that holds those
        tasks' claim locks)."""
        if limit <= 0 or not claimant.tasks:
            return []
        tasks = sorted(claimant.tasks)
        params = {
            "now": now,
            "worker_id": claimant.worker_id,
            "lease_expires_at": now + timedelta(seconds=claimant.lease_seconds),
        }
        if any(claimant.terms_of(task).counts_running for task in tasks):
            async with self._connection() as conn:
                rows = await transactions.claim_counting(conn, claimant, limit, params)
        else:
            terms = [claimant.terms_of(task) for task in tasks]
            params |= {
                "tasks": tasks,
                "rooms": [task_room(each, limit, 0) for each in terms],
                "costs": [each.cost for each in terms],
                "slots": limit,
            }
            async with self._connection() as conn:
                rows = await (await conn.execute(CLAIM_READY, params)).fetchall()
        # RETURNING has no order: restore the claim order.
        rows.sort(key=lambda r: (-r["priority"], r["run_at"], r["created_at"], r["queued_seq"]))
        return [Claim(job_from_row(row), Lease(row["job_id"], row["lease_token"])) for row in rows]

    async def heartbeat(
        self, worker_id: str, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> HeartbeatResult:
        """Extend the leases still held, in one statement."""
        if not leases:
            return HeartbeatResult()
        rows = await self._fetch_all(
            "heartbeat",
            {
                "job_ids": [lease.job_id for lease in leases],
                "tokens": [lease.token for lease in leases],
                "lease_expires_at": now + timedelta(seconds=lease_seconds),
            },
        )
        held = {(row["job_id"], row["lease_token"]): row["is_cancel_requested"] for row in rows}
        return HeartbeatResult(
            lost=frozenset(
                lease.job_id for lease in leases if (lease.job_id, lease.token) not in held
            ),
            cancel_requested=frozenset(job_id for (job_id, _), flagged in held.items() if flagged),
        )

    async def _leased(self, name: str, lease: Lease, **params: Any) -> Job:
        """Run the fenced statement *name* for *lease*; `LeaseLost` when it matched nothing."""
        row = await self._fetch_one(name, {"job_id": lease.job_id, "token": lease.token, **params})
        if row is None:
            raise LeaseLost(lease.job_id)
        return job_from_row(row)

    async def record_progress(self, lease: Lease, progress: Progress, now: datetime) -> Job:
        """Store the latest progress."""
        return await self._leased("record_progress", lease, progress=Json(asdict(progress)))

    async def _finish(
        self,
        lease: Lease,
        status: JobStatus,
        now: datetime,
        *,
        result: Json | None = None,
        error: str | None = None,
    ) -> Job:
        return await self._leased(
            "finish",
            lease,
            status=status.value,
            from_status=JobStatus.PROCESSING.value,
            now=now,
            result=result,
            error=error,
        )

    async def complete(self, lease: Lease, result: JSONValue, now: datetime) -> Job:
        """Finish the attempt successfully."""
        return await self._finish(lease, JobStatus.COMPLETED, now, result=Json(result))

    async def complete_many(
        self, completions: Sequence[tuple[Lease, JSONValue]], now: datetime
    ) -> list[LeaseLost | None]:
        """Finish several attempts successfully in one statement."""
        rows = await self._fetch_all(
            "complete_many",
            {
                "now": now,
                "job_ids": [lease.job_id for lease, _ in completions],
                "tokens": [lease.token for lease, _ in completions],
                "results": [Json(result) for _, result in completions],
            },
        )
        done = {row["job_id"] for row in rows}
        return [
            None if lease.job_id in done else LeaseLost(lease.job_id) for lease, _ in completions
        ]

    async def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> Job:
        """Finish the attempt with an error; retry or fail for good."""
        if retry_at is None:
            return await self._finish(lease, JobStatus.FAILED, now, error=error)
        return await self._leased("requeue", lease, run_at=retry_at, uncounted=0, error=error)

    async def finish_cancelled(self, lease: Lease, now: datetime) -> Job:
        """Finish a stopped attempt as cancelled."""
        return await self._finish(lease, JobStatus.CANCELLED, now, error=CANCELLED_ERROR)

    async def release(self, lease: Lease, now: datetime) -> Job:
        """Hand the job back without counting the attempt."""
        return await self._leased("requeue", lease, run_at=now, uncounted=1, error=None)

    async def next_run_at(self, tasks: Collection[str], now: datetime) -> datetime | None:
        """The earliest run time among queued jobs of *tasks*."""
        if not tasks:
            return None
        row = await self._fetch_one("next_run_at", {"tasks": sorted(set(tasks))})
        return None if row is None else cast("datetime | None", row["run_at"])

    async def queue_position(self, job_id: str, now: datetime, limit: int) -> int | None:
        """How many ready jobs of its task go before the job, up to *limit*."""
        params = {"job_id": job_id, "now": now, "limit": limit + 1}
        row = await self._fetch_one("queue_position", params)
        ahead = None if row is None else cast("int", row["ahead"])
        return ahead if ahead is not None and ahead <= limit else None

    # -- operator actions ----------------------------------------------------------

    async def request_cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a queued job, or flag a running one (one transaction, row locked)."""
        async with self._connection() as conn:
            return await transactions.request_cancel(conn, job_id, now)

    async def retry(self, job_id: str, now: datetime) -> Job:
        """Queue a failed or cancelled job again (one transaction, row locked)."""
        async with self._connection() as conn:
            return await transactions.retry(conn, job_id, now)

    # -- maintenance -------------------------------------------------------------

    async def reap_expired_leases(self, now: datetime, limit: int = 100) -> list[Job]:
        """Recover jobs whose worker stopped renewing their lease, in one statement."""
        rows = await self._fetch_all(
            "reap",
            {
                "now": now,
                "limit": limit,
                "cancelled_error": CANCELLED_ERROR,
                "lost_error": LOST_WORKER_ERROR,
            },
        )
        return sorted(
            (job_from_row(row) for row in rows), key=lambda job: (job.created_at, job.job_id)
        )

    async def purge_expired(self, now: datetime, limit: int = 1000) -> int:
        """Delete up to *limit* expired jobs (their idempotency keys go with them) and the
        rate windows that have ended."""
        await self._execute("purge_hits", {"now": now})
        return await self._execute("purge", {"now": now, "limit": limit})

    async def count_hit(self, key: str, until: datetime, now: datetime) -> int:
        """Count a hit in the window (one upsert)."""
        row = await self._fetch_one("count_hit", {"key": key, "until": until})
        assert row is not None
        return int(row["hits"])

    async def register_worker(self, info: WorkerInfo) -> None:
        """Upsert the worker."""
        await self._execute("upsert_worker", {**asdict(info), "tasks": list(info.tasks)})

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget the worker."""
        await self._execute("delete_worker", {"worker_id": worker_id})

    # -- notifications -----------------------------------------------------------

    def changes(self) -> AsyncIterator[Change | None]:
        """Changes from every process, while the store is open.

        The first iterator opens a LISTEN connection of its own (outside the pool); the
        last one to finish closes it. A dropped connection is re-established with
        backoff; changes made meanwhile are not delivered.
        """
        return self._listener.follow()


async def _check_pool(pool: AsyncConnectionPool[Connection]) -> None:
    with contextlib.suppress(DriverError):
        await pool.check()
