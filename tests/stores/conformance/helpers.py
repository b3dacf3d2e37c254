"""Shorthands for the store conformance suite: submissions, claims, jobs in a given status,
and a watcher of `Store.changes`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jobqueue.ids import new_job_id
from jobqueue.models import Change, Claim, Claimant, Job, JobStatus, Lease, NewJob

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable
    from types import TracebackType

    from jobqueue.clock import FakeClock
    from jobqueue.stores import Store

TASK = "work"
LEASE_SECONDS = 30.0
TTL_SECONDS = 3600.0
WAIT_SECONDS = 5.0
"""How long a test waits for a change that must come (a safety net, never a measurement)."""


def new_job(**overrides: Any) -> NewJob:
    """A submission of task `TASK` with a fresh id; *overrides* replace any field."""
    fields: dict[str, Any] = {
        "job_id": new_job_id(),
        "task": TASK,
        "payload": {"n": 1},
        "max_attempts": 3,
        "ttl_seconds": TTL_SECONDS,
    }
    fields.update(overrides)
    return NewJob(**fields)


async def submit(store: Store, clock: FakeClock, **overrides: Any) -> Job:
    """Create a job that must be new."""
    job, created = await store.create(new_job(**overrides), clock.now())
    assert created
    return job


def claimant(
    worker_id: str = "worker-1",
    tasks: Iterable[str] = (TASK,),
    lease_seconds: float = LEASE_SECONDS,
) -> Claimant:
    """A worker claiming jobs of *tasks* (by default `TASK`) under leases of *lease_seconds*."""
    return Claimant(worker_id, frozenset(tasks), lease_seconds)


async def claim_one(
    store: Store,
    clock: FakeClock,
    *,
    task: str = TASK,
    worker_id: str = "worker-1",
    lease_seconds: float = LEASE_SECONDS,
) -> Claim:
    """Claim exactly one job of *task*."""
    claims = await store.claim(claimant(worker_id, [task], lease_seconds), 1, clock.now())
    assert len(claims) == 1
    return claims[0]


async def running(store: Store, clock: FakeClock, **overrides: Any) -> Claim:
    """A new job, claimed; no other job of its task may be ready."""
    job = await submit(store, clock, **overrides)
    claim = await claim_one(store, clock, task=job.task)
    assert claim.job.job_id == job.job_id
    return claim


async def job_in(store: Store, clock: FakeClock, status: JobStatus, **overrides: Any) -> Claim:
    """A job brought to *status* the way a worker or an operator would, with its last claim.

    A job that was never claimed (``queued`` or ``cancelled`` here) carries a forged lease.
    Claiming takes the best ready job, so no other job of its task may be ready.
    """
    if status in (JobStatus.QUEUED, JobStatus.CANCELLED):
        job = await submit(store, clock, **overrides)
        if status is JobStatus.CANCELLED:
            job = await store.request_cancel(job.job_id, clock.now())
        return Claim(job, Lease(job.job_id, "forged-token"))
    claim = await running(store, clock, **overrides)
    if status is JobStatus.COMPLETED:
        job = await store.complete(claim.lease, {"ok": True}, clock.now())
    elif status is JobStatus.FAILED:
        job = await store.fail(claim.lease, "boom", None, clock.now())
    else:
        job = claim.job
    assert job.status is status
    return Claim(job, claim.lease)


async def current(store: Store, clock: FakeClock, job_id: str) -> Job:
    """The job, which must exist."""
    job = await store.get(job_id, clock.now())
    assert job is not None
    return job


class Watcher:
    """Collects `Store.changes` (or `Store.worker_changes`) in a background task while the
    ``async with`` block runs.

    Entering yields to the loop once, so the iterator is subscribed before the block's
    first change.
    """

    def __init__(self, store: Store, *, worker_changes: bool = False) -> None:
        self._store = store
        self._worker_changes = worker_changes
        self._changes: asyncio.Queue[Change] = asyncio.Queue()
        self._resynced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._consume())
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        done, _ = await asyncio.wait({self._task}, timeout=WAIT_SECONDS)
        assert done, "the changes() iterator did not end when cancelled"

    async def _consume(self) -> None:
        feed = self._store.worker_changes() if self._worker_changes else self._store.changes()
        async for change in feed:
            if change is None:
                self._resynced.set()
            else:
                self._changes.put_nowait(change)

    async def resynced(self) -> None:
        """Return once the iterator said that changes may have been missed."""
        await asyncio.wait_for(self._resynced.wait(), WAIT_SECONDS)

    async def wait_ended(self) -> None:
        """Return once the iterator ended (the store closed)."""
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), WAIT_SECONDS)

    async def change_of(self, job: Job, timeout: float = WAIT_SECONDS) -> Change:
        """The first change announcing *job*'s version or a newer one."""
        async with asyncio.timeout(timeout):
            while True:
                change = await self._changes.get()
                if change.job_id == job.job_id and change.version >= job.version:
                    return change

    async def changes_until(self, job: Job, timeout: float = WAIT_SECONDS) -> list[Change]:
        """Every change received up to and including the first one of *job*'s version."""
        seen: list[Change] = []
        async with asyncio.timeout(timeout):
            while True:
                seen.append(change := await self._changes.get())
                if change.job_id == job.job_id and change.version >= job.version:
                    return seen

    async def prime(self, write: Callable[[], Awaitable[Job]]) -> None:
        """Repeat *write* until one of its changes arrives: the subscription then works.

        For changes made elsewhere (another store on the same data), which a store may
        only start following a little after its iterator was first advanced.
        """
        async with asyncio.timeout(WAIT_SECONDS * 2):
            while True:
                try:
                    await self.change_of(await write(), timeout=0.2)
                except TimeoutError:
                    continue
                return
