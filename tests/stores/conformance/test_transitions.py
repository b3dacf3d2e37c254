"""The state machine: every legal transition happens through its operation, bumping the
version; everything else is refused, and terminal jobs never change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from jobqueue.errors import InvalidTransition, LeaseLost
from jobqueue.models import TRANSITIONS, Job, JobStatus, Progress
from jobqueue.stores import Store
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    TTL_SECONDS,
    claim_one,
    claimant,
    current,
    job_in,
    running,
)

Q, P, C, F, X = (
    JobStatus.QUEUED,
    JobStatus.PROCESSING,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)


async def _claim(store: Store, clock, job: Job) -> Job:
    return (await claim_one(store, clock)).job


async def _cancel(store: Store, clock, job: Job) -> Job:
    return await store.request_cancel(job.job_id, clock.now())


async def _retry(store: Store, clock, job: Job) -> Job:
    return await store.retry(job.job_id, clock.now())


async def _reap(store: Store, clock, job: Job) -> Job:
    clock.advance(LEASE_SECONDS)
    [reaped] = await store.reap_expired_leases(clock.now())
    return reaped


# (source, target) → the operations that move a job along that edge.
OPERATIONS: dict[tuple[JobStatus, JobStatus], list[str]] = {
    (Q, P): ["claim"],
    (Q, X): ["request_cancel"],
    (P, Q): ["fail_with_retry", "release", "reap"],
    (P, C): ["complete"],
    (P, F): ["fail"],
    (P, X): ["finish_cancelled"],
    (F, Q): ["retry"],
    (X, Q): ["retry"],
}

EDGES = [(edge, name) for edge, names in OPERATIONS.items() for name in names]


def test_the_operations_cover_the_state_machine() -> None:
    legal = {(source, target) for source, targets in TRANSITIONS.items() for target in targets}
    assert set(OPERATIONS) == legal


@pytest.mark.parametrize(("edge", "name"), EDGES, ids=[f"{e[0]}-{e[1]}-{n}" for e, n in EDGES])
async def test_each_legal_transition(
    store: Store, clock, edge: tuple[JobStatus, JobStatus], name: str
) -> None:
    source, target = edge
    claim = await job_in(store, clock, source)
    lease, job = claim.lease, claim.job
    clock.advance(1)
    worker_ops: dict[str, Callable[[], Awaitable[Job]]] = {
        "fail_with_retry": lambda: store.fail(lease, "boom", clock.now(), clock.now()),
        "release": lambda: store.release(lease, clock.now()),
        "complete": lambda: store.complete(lease, 42, clock.now()),
        "fail": lambda: store.fail(lease, "boom", None, clock.now()),
        "finish_cancelled": lambda: store.finish_cancelled(lease, clock.now()),
    }
    other_ops = {"claim": _claim, "request_cancel": _cancel, "retry": _retry, "reap": _reap}
    if name in worker_ops:
        moved = await worker_ops[name]()
    else:
        moved = await other_ops[name](store, clock, job)

    assert moved.job_id == job.job_id
    assert moved.status is target
    assert moved.version > job.version
    assert await current(store, clock, job.job_id) == moved


@pytest.mark.parametrize("status", [Q, C, F, X])
async def test_worker_writes_need_a_processing_job(store: Store, clock, status: JobStatus) -> None:
    claim = await job_in(store, clock, status)
    lease, now = claim.lease, clock.now()
    for write in (
        store.record_progress(lease, Progress(1), now),
        store.complete(lease, None, now),
        store.fail(lease, "x", None, now),
        store.fail(lease, "x", now, now),
        store.finish_cancelled(lease, now),
        store.release(lease, now),
    ):
        with pytest.raises(LeaseLost):
            await write
    heartbeat = await store.heartbeat("worker-1", [lease], LEASE_SECONDS, now)
    assert heartbeat.lost == {claim.job.job_id}
    assert await current(store, clock, claim.job.job_id) == claim.job


@pytest.mark.parametrize("status", [C, F, X])
async def test_terminal_jobs_never_change(store: Store, clock, status: JobStatus) -> None:
    job = (await job_in(store, clock, status)).job

    with pytest.raises(InvalidTransition):
        await store.request_cancel(job.job_id, clock.now())
    clock.advance(TTL_SECONDS - 1)  # past any lease, short of the expiry
    assert await store.reap_expired_leases(clock.now()) == []
    assert await store.claim(claimant("worker-1"), 10, clock.now()) == []
    assert await store.purge_expired(clock.now()) == 0

    assert await current(store, clock, job.job_id) == job


async def test_every_mutation_increases_the_version(store: Store, clock) -> None:
    claim = await running(store, clock)
    versions = [claim.job.version]

    async def note(job: Job) -> Job:
        versions.append(job.version)
        assert (await current(store, clock, job.job_id)).version == job.version
        return job

    await note(await store.record_progress(claim.lease, Progress(1), clock.now()))
    await note(await store.release(claim.lease, clock.now()))
    claim = await claim_one(store, clock)
    await note(claim.job)
    await note(await store.fail(claim.lease, "boom", clock.now(), clock.now()))
    claim = await claim_one(store, clock)
    await note(claim.job)
    await note(await store.request_cancel(claim.job.job_id, clock.now()))
    await note(await store.finish_cancelled(claim.lease, clock.now()))
    await note(await store.retry(claim.job.job_id, clock.now()))
    claim = await claim_one(store, clock)
    await note(claim.job)
    clock.advance(LEASE_SECONDS)
    [reaped] = await store.reap_expired_leases(clock.now())
    await note(reaped)
    claim = await claim_one(store, clock)
    await note(claim.job)
    await note(await store.complete(claim.lease, None, clock.now()))

    assert versions == sorted(set(versions))
