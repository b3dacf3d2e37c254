"""`Lifecycle`: every transition of a job, and the only code that writes to a store.

`JobQueue` (submit, cancel, operator retry, maintenance) and the worker (claim,
heartbeat, progress, the end of each attempt) call it; the rules that decide a
transition live here, the retry policy among them, and so does announcing the
transitions a job's webhook subscribes to. Reads stay with `JobQueue`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from jobqueue.errors import RateLimited, UnknownTask
from jobqueue.lifecycle.announcements import Announcer, wants
from jobqueue.lifecycle.completions import CompletionBatcher
from jobqueue.lifecycle.outcomes import Cancelled, Completed, Failed, HandedBack, TimedOut
from jobqueue.models import NUL, HeartbeatResult, WorkerInfo

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from datetime import datetime

    from jobqueue.clock import Clock
    from jobqueue.lifecycle.outcomes import Outcome
    from jobqueue.models import Claim, Claimant, Job, Lease, NewJob, Progress
    from jobqueue.ratelimit import RateLimit
    from jobqueue.retry import Backoff
    from jobqueue.stores import Store
    from jobqueue.tasks import TaskRegistry


@dataclass(frozen=True, slots=True)
class Submission:
    """The outcome of a submit: the job, and whether this call created it."""

    job: Job
    created: bool


class Lifecycle:
    """The transitions of the jobs in *store*, timed by *clock*.

    Args:
        store: where the jobs live.
        clock: where every transition's ``now`` comes from.
        tasks: the registry whose options (backoff) shape retries.
        default_backoff: the delay policy of tasks that set none.
    """

    def __init__(
        self, store: Store, clock: Clock, tasks: TaskRegistry, default_backoff: Backoff
    ) -> None:
        self._store = store
        self._clock = clock
        self._tasks = tasks
        self._default_backoff = default_backoff
        self._completions = CompletionBatcher(store, clock)
        self._announcer = Announcer(store, clock, tasks)

    # -- submitting and operator actions ---------------------------------------------

    async def create(self, new: NewJob) -> Submission:
        """Store a validated submission; an idempotent replay returns the first job.

        Raises `IdempotencyConflict` when the key was used with another request.
        """
        job, created = await self._store.create(new, self._clock.now())
        return Submission(job, created)

    async def count_submit(self, limits: Sequence[RateLimit], submitter: str) -> None:
        """Count a submit of *submitter* under each of *limits*; `RateLimited` (with the
        seconds until the exceeded window ends) when it is one too many."""
        now = self._clock.now()
        for limit in limits:
            window_end = limit.window_end(now)
            if await self._store.count_hit(limit.key(submitter), window_end, now) > limit.amount:
                retry = math.ceil((window_end - now).total_seconds())
                raise RateLimited(retry, "Rate limit exceeded", limit=limit)

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask the worker of a running one to stop.

        Raises `JobNotFound`, and `InvalidTransition` (carrying the job) for a terminal job.
        """
        job = await self._store.request_cancel(job_id, self._clock.now())
        await self._announcer.announce_ends([job])
        return job

    async def retry(self, job_id: str) -> Job:
        """Queue a ``failed`` or ``cancelled`` job again with a fresh attempt budget."""
        return await self._store.retry(job_id, self._clock.now())

    # -- the worker's path -------------------------------------------------------------

    async def claim(self, claimant: Claimant, limit: int) -> list[Claim]:
        """Up to *limit* ready jobs for *claimant*, each under a fresh lease, in one round
        trip."""
        claims = await self._store.claim(claimant, limit, self._clock.now())
        for claim in claims:
            await self._announcer.announce(claim.job, "started")
        return claims

    async def next_run_at(self, tasks: Collection[str]) -> datetime | None:
        """When the earliest waiting job of *tasks* becomes ready; None when none waits."""
        return await self._store.next_run_at(tasks, self._clock.now())

    async def heartbeat(
        self, claimant: Claimant, leases: Sequence[Lease], *, host: str, pid: int
    ) -> HeartbeatResult:
        """Show the worker alive (running *leases*), and extend those leases.

        The answer names the leases lost and the jobs asked to cancel.
        """
        now = self._clock.now()
        await self._store.register_worker(
            WorkerInfo(
                claimant.worker_id,
                last_seen_at=now,
                running=len(leases),
                host=host,
                pid=pid,
                tasks=tuple(sorted(claimant.tasks)),
            )
        )
        if not leases:
            return HeartbeatResult()
        return await self._store.heartbeat(claimant.worker_id, leases, claimant.lease_seconds, now)

    async def worker_stopped(self, worker_id: str) -> None:
        """Forget a worker that stopped (its stats entry goes at once)."""
        await self._store.unregister_worker(worker_id)

    async def record_progress(self, lease: Lease, progress: Progress) -> Job:
        """Store the latest progress of a running attempt. Raises `LeaseLost`."""
        return await self._store.record_progress(lease, progress, self._clock.now())

    async def finish(self, claim: Claim, outcome: Outcome) -> None:
        """End the attempt of *claim* as *outcome* says.

        A completion is batched with the others that end meanwhile; a failure (a timeout
        included) is retried after the task's backoff while attempts are left. Raises
        `LeaseLost` when the attempt no longer owns the job, and `StoreUnavailable`
        (nothing written: call again) while the store cannot be reached.
        """
        lease, now = claim.lease, self._clock.now()
        match outcome:
            case Completed(result):
                await self._completions.complete(lease, result)
                if wants(claim.job, "completed"):
                    completed = await self._store.get(lease.job_id, self._clock.now())
                    await self._announcer.announce_ends([completed] if completed else [])
            case Failed(error, retry_in, is_final):
                retry_at = None if is_final else self._retry_at(claim.job, retry_in, now)
                # An exception's text may hold anything, a job's error no NUL (see `NUL`).
                error = error.replace(NUL, "\ufffd")
                ended = await self._store.fail(lease, error, retry_at, now)
                await self._announcer.announce_ends([ended])
            case TimedOut(seconds):
                retry_at = self._retry_at(claim.job, None, now)
                error = f"Timed out after {seconds:g}s"
                ended = await self._store.fail(lease, error, retry_at, now)
                await self._announcer.announce_ends([ended])
            case Cancelled():
                ended = await self._store.finish_cancelled(lease, now)
                await self._announcer.announce_ends([ended])
            case HandedBack():
                await self._store.release(lease, now)

    def _retry_at(self, job: Job, retry_in: float | None, now: datetime) -> datetime | None:
        """When the failed attempt of *job* runs again: None once its attempts are spent."""
        if job.attempts >= job.max_attempts:
            return None
        if retry_in is None:
            retry_in = self._backoff_of(job.task).delay(job.attempts)
        return now + timedelta(seconds=retry_in)

    def _backoff_of(self, task: str) -> Backoff:
        try:
            return self._tasks.resolve(task).options.backoff or self._default_backoff
        except UnknownTask:
            return self._default_backoff

    # -- maintenance -------------------------------------------------------------------

    async def recover_lost_leases(self, limit: int) -> list[Job]:
        """Give up to *limit* jobs whose worker was lost back to the queue (or fail them
        when their attempts are spent); returns them."""
        jobs = await self._store.reap_expired_leases(self._clock.now(), limit)
        await self._announcer.announce_ends(jobs)
        return jobs

    async def expire(self, limit: int) -> int:
        """Delete up to *limit* jobs past their ``expires_at``; returns how many."""
        return await self._store.purge_expired(self._clock.now(), limit)
