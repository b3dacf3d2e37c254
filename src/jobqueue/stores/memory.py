"""`MemoryStore`: jobs in a dict, the reference implementation of the `Store` semantics.

Every method runs without awaiting, so each is atomic on the event loop. Queued jobs wait
per task by run time, then in claim order once due; a claim reads them in that order.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jobqueue.errors import (
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    LeaseLost,
    QueueFull,
)
from jobqueue.ids import new_token
from jobqueue.models import (
    Change,
    Claim,
    HeartbeatResult,
    Job,
    JobFilter,
    JobStatus,
    Lease,
    Page,
    Stats,
    WorkerInfo,
    busiest_keys,
    empty_counts,
    running_now,
)
from jobqueue.stores.base import CANCELLED_ERROR, LOST_WORKER_ERROR, Store, StoreCapabilities
from jobqueue.stores.claiming import Ready, pick, reading, task_room, within_budget
from jobqueue.stores.codec import decode_cursor, encode_cursor
from jobqueue.stores.memory_queues import TaskQueues
from jobqueue.stores.subscription import Broadcaster

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Collection, Sequence

    from jobqueue.models import Claimant, JSONValue, NewJob, Progress

_LAST_RUN = dict.fromkeys(
    ("error", "result", "progress", "started_at", "completed_at", "expires_at")
)
"""What a retry clears (besides the attempts and the cancel request): it starts over."""


class MemoryStore(Store):
    """Jobs in this process's memory; fast, and gone when the process ends."""

    capabilities = StoreCapabilities(is_durable=False, is_multiprocess=False)

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tokens: dict[str, str] = {}
        self._keys: dict[str, tuple[str, str | None]] = {}
        self._workers: dict[str, WorkerInfo] = {}
        self._queues = TaskQueues()
        self._expiring: list[tuple[datetime, str]] = []
        self._hits: Counter[tuple[str, datetime]] = Counter()
        self._broadcaster = Broadcaster()

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """End the change iterators; the jobs stay for a later `open`."""
        self._broadcaster.close()

    async def ping(self) -> None:
        """Always answers."""

    # -- helpers ---------------------------------------------------------------

    def _save(self, job: Job) -> Job:
        self._jobs[job.job_id] = job
        if job.status is JobStatus.QUEUED:
            self._queues.enter(job)
        else:
            self._queues.leave(job.job_id)
        if job.expires_at is not None:
            heapq.heappush(self._expiring, (job.expires_at, job.job_id))
        self._broadcaster.publish(Change(job.job_id, job.version, job.status))
        return job

    def _live(self, job_id: str, now: datetime) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or (job.expires_at is not None and job.expires_at <= now):
            return None
        return job

    def _leased(self, lease: Lease) -> Job:
        job = self._jobs.get(lease.job_id)
        if (
            job is None
            or job.status is not JobStatus.PROCESSING
            or self._tokens.get(lease.job_id) != lease.token
        ):
            raise LeaseLost(lease.job_id)
        return job

    def _end(self, job: Job, status: JobStatus, now: datetime, **changes: object) -> Job:
        self._tokens.pop(job.job_id, None)
        return self._save(
            replace(
                job,
                status=status,
                version=job.version + 1,
                completed_at=now,
                expires_at=now + timedelta(seconds=job.ttl_seconds),
                worker_id=None,
                lease_expires_at=None,
                **changes,  # type: ignore[arg-type]
            )
        )

    def _requeue(self, job: Job, run_at: datetime, **changes: object) -> Job:
        self._tokens.pop(job.job_id, None)
        return self._save(
            replace(
                job,
                status=JobStatus.QUEUED,
                version=job.version + 1,
                run_at=run_at,
                worker_id=None,
                lease_expires_at=None,
                **changes,  # type: ignore[arg-type]
            )
        )

    # -- submitting and reading ---------------------------------------------------

    async def create(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """Insert a queued job, or replay the one created under the same key."""
        if new.idempotency_key is not None:
            known = self._keys.get(new.idempotency_key)
            if known is not None and (existing := self._live(known[0], now)) is not None:
                if known[1] != new.fingerprint:
                    raise IdempotencyConflict
                return existing, False
        if new.queue_cap is not None:
            queued = [job.task for job in self._jobs.values() if job.status is JobStatus.QUEUED]
            if new.queue_cap.is_reached(queued.count(new.task), len(queued)):
                raise QueueFull
        job = self._save(new.build(now))
        if new.idempotency_key is not None:
            self._keys[new.idempotency_key] = (job.job_id, new.fingerprint)
        return job, True

    async def get(self, job_id: str, now: datetime) -> Job | None:
        """One job, unless unknown or expired."""
        return self._live(job_id, now)

    async def list_jobs(
        self, where: JobFilter, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Matching jobs, newest first, after the cursor."""
        after = decode_cursor(cursor) if cursor else None
        jobs = sorted(
            (
                job
                for job in self._jobs.values()
                if (not where.statuses or job.status in where.statuses)
                and (not where.tasks or job.task in where.tasks)
                and (where.owner is None or job.owner == where.owner)
                and (where.tag is None or where.tag in job.tags)
                and (job.expires_at is None or job.expires_at > now)
                and (after is None or (job.created_at, job.job_id) < after)
            ),
            key=lambda job: (job.created_at, job.job_id),
            reverse=True,
        )
        page = jobs[:limit]
        more = len(jobs) > limit
        last = page[-1] if page else None
        return Page(
            jobs=page,
            next_cursor=encode_cursor(last.created_at, last.job_id) if more and last else None,
        )

    async def stats(self, now: datetime, worker_horizon_seconds: float = 60.0) -> Stats:
        """Counts per task and status, the recent workers and the busiest keys."""
        tasks: defaultdict[str, dict[JobStatus, int]] = defaultdict(empty_counts)
        held: Counter[str] = Counter()
        for job in self._jobs.values():
            if job.expires_at is None or job.expires_at > now:
                tasks[job.task][job.status] += 1
            held[job.worker_id or ""] += job.status is JobStatus.PROCESSING
        horizon = now - timedelta(seconds=worker_horizon_seconds)
        seen = [w for w in self._workers.values() if w.last_seen_at >= horizon]
        keys = busiest_keys((t, key, n) for (t, key), n in self._running_keys().items() if key)
        return Stats(tasks=dict(tasks), workers=running_now(seen, held), running_keys=keys)

    # -- worker path -----------------------------------------------------------

    def _running_keys(self) -> Counter[tuple[str, str]]:
        """The running jobs per task and concurrency key ('' for those without one)."""
        return Counter(
            (job.task, job.concurrency_key or "")
            for job in self._jobs.values()
            if job.status is JobStatus.PROCESSING
        )

    async def claim(self, claimant: Claimant, limit: int, now: datetime) -> list[Claim]:
        """Take ready jobs worth up to *limit* slots, best first."""
        picks: list[Ready] = []
        counted = any(claimant.terms_of(task).counts_running for task in claimant.tasks)
        everywhere = self._running_keys() if counted else Counter()
        for task in claimant.tasks:
            terms = claimant.terms_of(task)
            running = Counter({key: n for (of, key), n in everywhere.items() if of == task})
            room = task_room(terms, limit, running.total())
            del running[""]
            picks += pick(room, terms, running, reading(self._queues.ready(task, now, self._jobs)))
        claims: list[Claim] = []
        for chosen in within_budget(picks, lambda task: claimant.terms_of(task).cost, limit):
            job = self._jobs[chosen.job_id]
            token = new_token()
            self._tokens[job.job_id] = token
            claimed = self._save(
                replace(
                    job,
                    status=JobStatus.PROCESSING,
                    version=job.version + 1,
                    attempts=job.attempts + 1,
                    started_at=now,
                    worker_id=claimant.worker_id,
                    lease_expires_at=now + timedelta(seconds=claimant.lease_seconds),
                )
            )
            claims.append(Claim(claimed, Lease(job.job_id, token)))
        return claims

    async def heartbeat(
        self, worker_id: str, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> HeartbeatResult:
        """Extend the leases still held."""
        lost: set[str] = set()
        cancel: set[str] = set()
        until = now + timedelta(seconds=lease_seconds)
        for lease in leases:
            try:
                job = self._leased(lease)
            except LeaseLost:
                lost.add(lease.job_id)
                continue
            self._jobs[job.job_id] = replace(job, lease_expires_at=until)
            if job.is_cancel_requested:
                cancel.add(job.job_id)
        return HeartbeatResult(lost=frozenset(lost), cancel_requested=frozenset(cancel))

    async def record_progress(self, lease: Lease, progress: Progress, now: datetime) -> Job:
        """Store the latest progress."""
        job = self._leased(lease)
        return self._save(replace(job, progress=progress, version=job.version + 1))

    async def complete(self, lease: Lease, result: JSONValue, now: datetime) -> Job:
        """Finish the attempt successfully."""
        return self._end(self._leased(lease), JobStatus.COMPLETED, now, result=result)

    async def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> Job:
        """Finish the attempt with an error; retry or fail for good."""
        job = self._leased(lease)
        if retry_at is None:
            return self._end(job, JobStatus.FAILED, now, error=error)
        return self._requeue(job, retry_at, error=error)

    async def finish_cancelled(self, lease: Lease, now: datetime) -> Job:
        """Finish a stopped attempt as cancelled."""
        return self._end(self._leased(lease), JobStatus.CANCELLED, now, error=CANCELLED_ERROR)

    async def release(self, lease: Lease, now: datetime) -> Job:
        """Hand the job back without counting the attempt."""
        job = self._leased(lease)
        return self._requeue(job, now, attempts=job.attempts - 1)

    async def next_run_at(self, tasks: Collection[str], now: datetime) -> datetime | None:
        """The earliest run time among queued jobs of *tasks*."""
        times = [
            job.run_at
            for job in self._jobs.values()
            if job.status is JobStatus.QUEUED and job.task in tasks
        ]
        return min(times, default=None)

    async def queue_position(self, job_id: str, now: datetime, limit: int) -> int | None:
        """How many ready jobs of its task go before the job, up to *limit*."""
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED or job.run_at > now:
            return None
        ahead = next(
            n
            for n, ready in enumerate(self._queues.ready(job.task, now, self._jobs))
            if ready.job_id == job_id
        )
        return ahead if ahead <= limit else None

    # -- operator actions ----------------------------------------------------------

    async def request_cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a queued job, or flag a running one."""
        job = self._live(job_id, now)
        if job is None:
            raise JobNotFound(job_id)
        if job.status is JobStatus.QUEUED:
            return self._end(job, JobStatus.CANCELLED, now, error=CANCELLED_ERROR)
        if job.status is JobStatus.PROCESSING:
            if job.is_cancel_requested:
                return job
            return self._save(replace(job, is_cancel_requested=True, version=job.version + 1))
        raise InvalidTransition(job)

    async def retry(self, job_id: str, now: datetime) -> Job:
        """Queue a failed or cancelled job again."""
        job = self._live(job_id, now)
        if job is None:
            raise JobNotFound(job_id)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidTransition(job)
        return self._requeue(job, now, attempts=0, is_cancel_requested=False, **_LAST_RUN)

    # -- maintenance -------------------------------------------------------------

    async def reap_expired_leases(self, now: datetime, limit: int = 100) -> list[Job]:
        """Recover jobs whose worker stopped renewing their lease."""
        expired = [
            job
            for job in self._jobs.values()
            if job.status is JobStatus.PROCESSING
            and job.lease_expires_at is not None
            and job.lease_expires_at <= now
        ][:limit]
        reaped: list[Job] = []
        for job in expired:
            if job.is_cancel_requested:
                reaped.append(self._end(job, JobStatus.CANCELLED, now, error=CANCELLED_ERROR))
            elif job.attempts >= job.max_attempts:
                reaped.append(self._end(job, JobStatus.FAILED, now, error=LOST_WORKER_ERROR))
            else:
                reaped.append(self._requeue(job, now, error=LOST_WORKER_ERROR))
        return reaped

    async def purge_expired(self, now: datetime, limit: int = 1000) -> int:
        """Delete expired terminal jobs and their idempotency keys."""
        purged = 0
        while self._expiring and self._expiring[0][0] <= now and purged < limit:
            expires_at, job_id = heapq.heappop(self._expiring)
            job = self._jobs.get(job_id)
            if job is None or job.expires_at != expires_at:
                continue  # already purged, or retried since
            del self._jobs[job_id]
            key = job.idempotency_key
            if key is not None and self._keys.get(key, ("",))[0] == job_id:
                del self._keys[key]  # unless the key was taken again after the job expired
            purged += 1
        for window in [window for window in self._hits if window[1] <= now]:
            del self._hits[window]
        return purged

    async def count_hit(self, key: str, until: datetime, now: datetime) -> int:
        """Count a hit in the window."""
        self._hits[key, until] += 1
        return self._hits[key, until]

    async def register_worker(self, info: WorkerInfo) -> None:
        """Remember the worker."""
        self._workers[info.worker_id] = info

    async def unregister_worker(self, worker_id: str) -> None:
        """Forget the worker."""
        self._workers.pop(worker_id, None)

    def changes(self) -> AsyncIterator[Change | None]:
        """Changes made from now on."""
        return self._broadcaster.subscribe()
