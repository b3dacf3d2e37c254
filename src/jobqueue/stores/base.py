"""The `Store` interface: durable jobs, atomic transitions and change notifications.

Every mutating method performs exactly one atomic transition of one job (or of each
job of a batch, independently), increases the job's ``version``, publishes a `Change`,
and takes ``now`` from the caller's clock: a backend's own clock never decides
semantics. Methods return fresh `Job` snapshots.

Worker writes (`record_progress`, `complete`, `fail`, `finish_cancelled`, `release`)
present the `Lease` of the claim; a store accepts them only while that lease is the
job's current one and the job is ``processing``, and raises `LeaseLost` otherwise.
This fencing is what keeps a worker that lost its lease from overwriting newer state.
"""

from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from jobqueue.errors import LeaseLost
from jobqueue.models import Change, JobStatus

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Collection,
        Sequence,
    )
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

LOST_WORKER_ERROR = "Worker lost: its lease expired before the job finished"
CANCELLED_ERROR = "Cancelled"


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """Optional behaviour a backend has; the conformance suite skips by these, not by name."""

    is_durable: bool
    """Jobs survive closing and reopening the store (False: they live only while it is
    open, as in `MemoryStore`)."""
    is_multiprocess: bool
    """Several processes may share the store."""


class Store(abc.ABC):
    """Where jobs live. One subclass per backend; see the module docstring for the rules."""

    capabilities: ClassVar[StoreCapabilities]

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """A store for *url* (whose scheme names this backend), not yet opened."""
        return cls(**options)

    # -- lifecycle ---------------------------------------------------------------

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect, and create or migrate the schema. Calling it twice is harmless."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and end every `changes` iterator."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return when the store answers; raise `StoreUnavailable` when it does not."""

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- submitting and reading -------------------------------------------------------

    @abc.abstractmethod
    async def create(self, new: NewJob, now: datetime) -> tuple[Job, bool]:
        """Insert a queued job; return it and whether it was created.

        With an idempotency key the key check and the insert are one atomic step: when
        the key exists with the same fingerprint, the existing job is returned with
        ``False``; with another fingerprint, `IdempotencyConflict` is raised and nothing
        is written.
        """

    @abc.abstractmethod
    async def get(self, job_id: str, now: datetime) -> Job | None:
        """One job, or None when unknown or past its ``expires_at``."""

    @abc.abstractmethod
    async def list_jobs(
        self, where: JobFilter, limit: int, cursor: str | None, now: datetime
    ) -> Page:
        """Jobs matching *where*, newest first (by ``created_at``, then id).

        *cursor* is the `Page.next_cursor` of the previous page; pages stay stable while
        newer jobs are inserted. Expired jobs are left out.
        """

    @abc.abstractmethod
    async def stats(self, now: datetime, worker_horizon_seconds: float = 60.0) -> Stats:
        """Counts per task and status, and the workers seen within the horizon."""

    # -- worker path -------------------------------------------------------------

    @abc.abstractmethod
    async def claim(self, claimant: Claimant, limit: int, now: datetime) -> list[Claim]:
        """Hand ready jobs of the claimant's tasks to it, worth up to *limit* slots.

        Ready means ``queued`` with ``run_at <= now``; the highest priority goes first,
        then the oldest ``run_at``, then the oldest ``created_at``. A job takes its
        task's ``cost`` in slots, and the claim ends at the first job that does not fit
        in what is left (so a costly job is not starved by cheap ones behind it). Each
        task's `TaskTerms` bound what is taken of it: ``most`` in this claim,
        ``global_concurrency`` processing in all, ``key_concurrency`` processing per
        concurrency key, where the jobs of a key at its limit are passed over (never
        taken and handed back) and the jobs behind them still claimed. Each job becomes
        ``processing`` with ``attempts + 1``, ``started_at = now``, ``worker_id`` the
        claimant's, a lease expiring at ``now + claimant.lease_seconds`` and a fresh
        fencing token. Atomic against every other claimer, in any process: no job is ever
        handed to two workers.

        Args:
            claimant: The worker, the tasks it serves and the length of its leases.
            limit: The slots to fill; zero or less hands out nothing.
            now: The caller's clock.

        Returns:
            The claims, best job first; empty when nothing is ready.
        """

    @abc.abstractmethod
    async def heartbeat(
        self, worker_id: str, leases: Sequence[Lease], lease_seconds: float, now: datetime
    ) -> HeartbeatResult:
        """Extend the leases still held, and report those lost and those asked to cancel.

        Renewing a lease does not change the job's version: nothing a client sees
        changed.
        """

    @abc.abstractmethod
    async def record_progress(self, lease: Lease, progress: Progress, now: datetime) -> Job:
        """Store the latest progress. Raises `LeaseLost`."""

    @abc.abstractmethod
    async def complete(self, lease: Lease, result: JSONValue, now: datetime) -> Job:
        """``processing`` → ``completed`` with *result*; ``expires_at = now + ttl``.

        Raises `LeaseLost`.
        """

    async def complete_many(
        self, completions: Sequence[tuple[Lease, JSONValue]], now: datetime
    ) -> list[LeaseLost | None]:
        """`complete` several attempts in as few round trips as the backend allows.

        The worker's batched path: the answer says, in the order given, None for each
        attempt completed and its `LeaseLost` for one whose lease was lost (which does not
        stop the others); it carries no jobs, so backends need not read them back. Each
        completion is atomic on its own. This default makes one call per attempt;
        backends override it with one round trip.
        """
        outcomes: list[LeaseLost | None] = []
        for lease, result in completions:
            try:
                await self.complete(lease, result, now)
            except LeaseLost as lost:
                outcomes.append(lost)
            else:
                outcomes.append(None)
        return outcomes

    @abc.abstractmethod
    async def fail(self, lease: Lease, error: str, retry_at: datetime | None, now: datetime) -> Job:
        """End the attempt with *error*.

        With *retry_at* the job goes back to ``queued`` and runs again no earlier; with
        None it becomes ``failed`` for good. The retry decision is the queue's.
        Raises `LeaseLost`.
        """

    @abc.abstractmethod
    async def finish_cancelled(self, lease: Lease, now: datetime) -> Job:
        """``processing`` → ``cancelled``, once the worker stopped the attempt.

        Raises `LeaseLost`.
        """

    @abc.abstractmethod
    async def release(self, lease: Lease, now: datetime) -> Job:
        """Hand a running job back to ``queued`` without counting the attempt.

        Used by a worker that shuts down before the job finished. Raises `LeaseLost`.
        """

    @abc.abstractmethod
    async def next_run_at(self, tasks: Collection[str], now: datetime) -> datetime | None:
        """The earliest ``run_at`` among queued jobs of *tasks*, or None when none wait."""

    @abc.abstractmethod
    async def queue_position(self, job_id: str, now: datetime, limit: int) -> int | None:
        """How many ready jobs of its task a claim would take before the job (0: it is
        next), counting at most *limit*: None when more are ahead, or when the job is not
        ``queued`` and due. Its cost grows with the jobs ahead, not with the queue.
        """

    # -- operator actions -----------------------------------------------------------

    @abc.abstractmethod
    async def request_cancel(self, job_id: str, now: datetime) -> Job:
        """Cancel a job.

        ``queued`` → ``cancelled`` at once. ``processing`` → flagged
        (``is_cancel_requested``); the worker finishes it with `finish_cancelled`.
        A flagged job is returned unchanged. Raises `JobNotFound`, and
        `InvalidTransition` (carrying the job) for a terminal job.
        """

    @abc.abstractmethod
    async def retry(self, job_id: str, now: datetime) -> Job:
        """``failed`` or ``cancelled`` → ``queued`` with a fresh attempt budget.

        Raises `JobNotFound`, and `InvalidTransition` for any other status.
        """

    # -- maintenance -----------------------------------------------------------

    @abc.abstractmethod
    async def reap_expired_leases(self, now: datetime, limit: int = 100) -> list[Job]:
        """Recover up to *limit* ``processing`` jobs whose lease ran out.

        Each goes back to ``queued`` (ready at once, error `LOST_WORKER_ERROR`) while it
        has attempts left, else to ``failed``; a job whose cancellation was requested
        becomes ``cancelled``. Returns the changed jobs.
        """

    @abc.abstractmethod
    async def purge_expired(self, now: datetime, limit: int = 1000) -> int:
        """Delete up to *limit* jobs past ``expires_at``, with their idempotency keys."""

    @abc.abstractmethod
    async def count_hit(self, key: str, until: datetime, now: datetime) -> int:
        """Count one hit on *key*'s window that ends at *until*, and return its hits so far.

        Every process sharing the store shares the count. A window is forgotten once
        *until* has passed; `purge_expired` deletes what is left of it.
        """

    @abc.abstractmethod
    async def register_worker(self, info: WorkerInfo) -> None:
        """Upsert a worker's id, host, pid, running count and last-seen time."""

    @abc.abstractmethod
    async def unregister_worker(self, worker_id: str) -> None:
        """Forget a worker that stopped."""

    # -- notifications -----------------------------------------------------------

    @abc.abstractmethod
    def changes(self) -> AsyncIterator[Change | None]:
        """Every change of every job from now on, from this and other processes.

        Delivery is best effort and may repeat a change: consumers compare versions.
        None means changes may have been missed (a lost subscription is back): consumers
        re-read what they follow. One process normally consumes it once
        (`jobqueue.notify.Hub`) and fans out. The iterator ends when the store closes.
        """

    def worker_changes(self) -> AsyncIterator[Change | None]:
        """The changes a worker acts on: jobs that became ``queued`` (work is ready) and
        running jobs whose cancellation was requested; like `changes` otherwise.

        It may also yield other changes of ``queued`` and ``processing`` jobs (a worker
        compares versions). This default filters `changes`; a store that can send a
        worker less traffic than every change of every job does so.
        """
        return _worker_changes_among(self.changes())


async def _worker_changes_among(
    changes: AsyncIterator[Change | None],
) -> AsyncIterator[Change | None]:
    async with contextlib.aclosing(cast("AsyncGenerator[Change | None]", changes)) as source:
        async for change in source:
            if change is None or change.status in _WORKER_STATUSES:
                yield change


_WORKER_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
