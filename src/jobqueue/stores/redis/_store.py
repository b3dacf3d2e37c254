"""`RedisStore`: jobs as Redis hashes, each transition one Lua script, changes over pub/sub.

Every key and the changes channel start with the store's prefix. Scripts build key names
from that prefix, so the store needs a single Redis server, not a Redis Cluster.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from jobqueue.errors import (
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    LeaseLost,
    QueueFull,
    StoreError,
)
from jobqueue.ids import new_token
from jobqueue.models import (
    Change,
    Claim,
    HeartbeatResult,
    JobStatus,
    Lease,
    Page,
    Stats,
)
from jobqueue.stores import codec
from jobqueue.stores.base import CANCELLED_ERROR, LOST_WORKER_ERROR, Store, StoreCapabilities
from jobqueue.stores.codec import decode_cursor, encode_cursor
from jobqueue.stores.redis import _hashes as hashes
from jobqueue.stores.redis._client import connect, guarded, register_scripts
from jobqueue.stores.redis._feed import ChangeFeed
from jobqueue.stores.urls import pop_query

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection, Sequence
    from datetime import datetime

    import redis.asyncio as aioredis
    from redis.commands.core import AsyncScript

    from jobqueue.models import (
        Claimant,
        Job,
        JobFilter,
        JSONValue,
        NewJob,
        Progress,
        WorkerInfo,
    )

# How many index entries one `list` script call may examine before yielding to others.
_LIST_SCAN_BUDGET = 1000


class RedisStore(Store):
    """Jobs in Redis, shared by every process that uses the same server and prefix."""

    capabilities: ClassVar[StoreCapabilities] = StoreCapabilities(
        is_durable=True, is_multiprocess=True
    )

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "jobqueue:"):
        self._url = url
        self._prefix = prefix
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._changes = ChangeFeed(self._key("changes"))
        # The channel keeps its first name, so processes of older and newer versions
        # sharing a server keep waking each other's workers.
        self._worker_changes = ChangeFeed(self._key("signals"))

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """A store for a ``redis://`` or ``rediss://`` URL, not yet opened.

        ``?prefix=TEXT`` in the URL starts every key, like the ``prefix`` option.
        """
        url, from_query = pop_query(url, "prefix")
        return cls(url, **{**from_query, **options})

    @property
    def prefix(self) -> str:
        """What every key and channel this store uses starts with."""
        return self._prefix

    # -- lifecycle ---------------------------------------------------------------

    async def open(self) -> None:
        """Connect and check that the server answers."""
        if self._client is None:
            client = connect(self._url)
            self._scripts = register_scripts(client)
            self._client = client
            self._changes.connect(client)
            self._worker_changes.connect(client)
        await self.ping()

    async def close(self) -> None:
        """Stop listening, end every `changes` iterator and disconnect."""
        await self._changes.close()
        await self._worker_changes.close()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def ping(self) -> None:
        """Round-trip a PING."""
        async with guarded():
            await self._redis.ping()

    @property
    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise StoreError("The Redis store is not open")
        return self._client

    async def _run(self, script: str, now: datetime, *args: str | int | bytes) -> Any:
        """Run one script; its first two arguments are always the prefix and *now*."""
        client = self._redis
        async with guarded():
            return await self._scripts[script](
                args=[self._prefix, codec.micros(now), *args], client=client
            )

    def _changed(self, flat: Sequence[str]) -> Job:
        """The job a script changed and returned as flat fields; see `_announced`."""
        return self._announced(hashes.decode_job(flat))

    def _announced(self, job: Job) -> Job:
        """*job*, which a script changed, announced to this process's iterators at once.

        Scripts also announce it over pub/sub, but that reaches a new subscription only
        once it is in place; this makes a process's own changes reliable.
        """
        change = Change(job.job_id, job.version, job.status)
        self._changes.deliver(change)
        if job.status is JobStatus.QUEUED or (
            job.status is JobStatus.PROCESSING and job.is_cancel_requested
        ):
            self._worker_changes.deliver(change)
        return job

    def _job(self, reply: Sequence[Any], job_id: str) -> Job:
        """The job of an `{outcome, fields}` reply, or the error its outcome names."""
        outcome = reply[0]
        if outcome == "ok":
            return self._changed(reply[1])
        if outcome == "same":
            return hashes.decode_job(reply[1])
        if outcome == "lost":
            raise LeaseLost(job_id)
        if outcome == "missing":
            raise JobNotFound(job_id)
        raise InvalidTransition(hashes.decode_job(reply[1]))

    # -- submitting and reading ---------------------------------------------------

    async def create(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """Insert a queued job, or replay the live one created under the same key."""
        job = new.build(now)
        reply = await self._run("create", now, *hashes.create_arguments(new, job))
        if reply[0] == "conflict":
            raise IdempotencyConflict
        if reply[0] == "full":
            raise QueueFull
        if reply[0] == "created":
            return self._announced(job), True
        return hashes.decode_job(reply[1]), False

    async def get(self, job_id: str, now: datetime) -> Job | None:
        """One job, unless unknown or expired."""
        async with guarded():
            fields = await self._redis.hgetall(self._key("job", job_id))
        if not fields:
            return None
        job = hashes.decode_fields(cast("dict[str, str]", fields))
        if job.expires_at is not None and job.expires_at <= now:
            return None
        return job

    async def list_jobs(
        self, where: JobFilter, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Matching jobs, newest first, after the cursor; scans the index in bounded steps."""
        start = "+"
        if cursor:
            created_at, job_id = decode_cursor(cursor)
            start = f"({codec.micros(created_at):018d}:{job_id}"
        statuses = sorted(status.value for status in where.statuses)
        tasks = sorted(where.tasks)
        jobs: list[Job] = []
        while True:
            found, last = await self._run(
                "list",
                now,
                start,
                limit + 1 - len(jobs),
                _LIST_SCAN_BUDGET,
                len(statuses),
                *statuses,
                len(tasks),
                *tasks,
                hashes.optional(where.owner),
                hashes.optional(where.tag),
            )
            jobs.extend(hashes.decode_job(flat) for flat in found)
            if len(jobs) > limit or not last:
                break
            start = f"({last}"
        page = jobs[:limit]
        more = len(jobs) > limit
        last_job = page[-1] if page else None
        return Page(
            jobs=page,
            next_cursor=(
                encode_cursor(last_job.created_at, last_job.job_id) if more and last_job else None
            ),
        )

    async def stats(self, now: datetime, worker_horizon_seconds: float = 60.0) -> Stats:
        """Counts per task and status from the counters the scripts keep, and recent workers."""
        reply = await self._run("stats", now)
        return hashes.decode_stats(reply, now - timedelta(seconds=worker_horizon_seconds))

    # -- worker path -----------------------------------------------------------

    async def claim(self, claimant: Claimant, limit: int, now: datetime) -> list[Claim]:
        """Take ready jobs worth up to *limit* slots, best first, in one script call."""
        if limit <= 0 or not claimant.tasks:
            return []
        claimed = await self._run(
            "claim",
            now,
            codec.micros(now + timedelta(seconds=claimant.lease_seconds)),
            claimant.worker_id,
            *hashes.claim_arguments(claimant, limit),
            *(new_token() for _ in range(limit)),
        )
        return [
            Claim(
                self._announced(hashes.decode_fields(fields)),
                Lease(fields["job_id"], fields["token"]),
            )
            for fields in map(hashes.pairs, claimed)
        ]

    async def heartbeat(
        self, worker_id: str, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> HeartbeatResult:
        """Extend the leases still held, in one script call."""
        if not leases:
            return HeartbeatResult()
        lost, cancel = await self._run(
            "heartbeat",
            now,
            codec.micros(now + timedelta(seconds=lease_seconds)),
            *(item for lease in leases for item in (lease.job_id, lease.token)),
        )
        return HeartbeatResult(lost=frozenset(lost), cancel_requested=frozenset(cancel))

    async def record_progress(self, lease: Lease, progress: Progress, now: datetime) -> Job:
        """Store the latest progress."""
        reply = await self._run(
            "progress", now, lease.job_id, lease.token, hashes.encode_progress(progress)
        )
        return self._job(reply, lease.job_id)

    async def complete(self, lease: Lease, result: JSONValue, now: datetime) -> Job:
        """Finish the attempt successfully."""
        reply = await self._run("complete", now, lease.job_id, lease.token, codec.json_text(result))
        return self._job(reply, lease.job_id)

    async def complete_many(
        self, completions: Sequence[tuple[Lease, JSONValue]], now: datetime
    ) -> list[LeaseLost | None]:
        """Finish several attempts successfully in one script call."""
        if not completions:
            return []
        versions = await self._run(
            "complete_many",
            now,
            *(
                item
                for lease, result in completions
                for item in (lease.job_id, lease.token, codec.json_text(result))
            ),
        )
        outcomes: list[LeaseLost | None] = []
        for (lease, _), version in zip(completions, versions, strict=True):
            if version:
                self._changes.deliver(Change(lease.job_id, version, JobStatus.COMPLETED))
                outcomes.append(None)
            else:
                outcomes.append(LeaseLost(lease.job_id))
        return outcomes

    async def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> Job:
        """Finish the attempt with an error; retry or fail for good."""
        retry = None if retry_at is None else str(codec.micros(retry_at))
        reply = await self._run(
            "fail", now, lease.job_id, lease.token, error, hashes.optional(retry)
        )
        return self._job(reply, lease.job_id)

    async def finish_cancelled(self, lease: Lease, now: datetime) -> Job:
        """Finish a stopped attempt as cancelled."""
        reply = await self._run("finish_cancelled", now, lease.job_id, lease.token, CANCELLED_ERROR)
        return self._job(reply, lease.job_id)

    async def release(self, lease: Lease, now: datetime) -> Job:
        """Hand the job back without counting the attempt."""
        reply = await self._run("release", now, lease.job_id, lease.token)
        return self._job(reply, lease.job_id)

    async def next_run_at(self, tasks: Collection[str], now: datetime) -> datetime | None:
        """The earliest run time among queued jobs of *tasks*."""
        if not tasks:
            return None
        earliest = await self._run("next_run_at", now, *tasks)
        return None if earliest is None else codec.from_micros(earliest)

    async def queue_position(self, job_id: str, now: datetime, limit: int) -> int | None:
        """How many ready jobs of its task go before the job, up to *limit* (its rank in
        the task's ready set, once due jobs have joined it)."""
        ahead = await self._run("position", now, job_id, limit)
        return None if ahead is None else int(ahead)

    # -- operator actions ----------------------------------------------------------

    async def request_cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a queued job, or flag a running one."""
        return self._job(await self._run("request_cancel", now, job_id, CANCELLED_ERROR), job_id)

    async def retry(self, job_id: str, now: datetime) -> Job:
        """Queue a failed or cancelled job again."""
        return self._job(await self._run("retry", now, job_id), job_id)

    # -- maintenance -------------------------------------------------------------

    async def reap_expired_leases(self, now: datetime, limit: int = 100) -> list[Job]:
        """Recover jobs whose worker stopped renewing their lease, soonest expired first."""
        reaped = await self._run("reap", now, limit, LOST_WORKER_ERROR, CANCELLED_ERROR)
        return [self._changed(flat) for flat in reaped]

    async def count_hit(self, key: str, until: datetime, now: datetime) -> int:
        """Count a hit in the window; its key expires by itself once the window ends."""
        return int(await self._run("count_hit", now, key, codec.micros(until)))

    async def purge_expired(self, now: datetime, limit: int = 1000) -> int:
        """Delete expired terminal jobs, their index entries and idempotency keys."""
        return int(await self._run("purge", now, limit))

    async def register_worker(self, info: WorkerInfo) -> None:
        """Remember the worker."""
        async with guarded():
            await self._redis.hset(self._key("workers"), info.worker_id, hashes.encode_worker(info))

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget the worker."""
        async with guarded():
            await self._redis.hdel(self._key("workers"), worker_id)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    # -- notifications -----------------------------------------------------------

    def changes(self) -> AsyncIterator[Change | None]:
        """Changes from every process, through one subscription shared by all iterators.

        The subscription starts with the first iterator and stops after the last one;
        when its connection drops it reconnects with backoff (changes made by other
        processes meanwhile are lost). This process's own changes arrive without it.
        """
        return self._changes.follow()

    def worker_changes(self) -> AsyncIterator[Change | None]:
        """Jobs that became ``queued`` and cancel requests of running jobs, nothing else.

        The scripts publish these on a channel of their own, so a busy worker is not
        sent every claim, progress report and completion of the whole cluster.
        """
        return self._worker_changes.follow()
