"""Model-based: random operation sequences give the same answers on the store as on
`MemoryStore`, the reference.

Answers are compared in full, except versions, where only "changed or not" must agree.
Every created job gets its own ``created_at`` and maintenance runs without a limit, so
no answer depends on how a backend breaks ties the spec leaves open.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobqueue.clock import FakeClock
from jobqueue.errors import InvalidTransition, JobQueueError
from jobqueue.models import (
    Claimant,
    Job,
    JobFilter,
    JobStatus,
    Lease,
    NewJob,
    Page,
    Progress,
    WorkerInfo,
)
from jobqueue.stores import Store
from jobqueue.stores.memory import MemoryStore

_T = TypeVar("_T")

TASKS = ("a", "b")
LEASES = (5.0, 30.0)
TTLS = (10.0, 100.0, 3600.0)
FOREVER = 100_000.0
"""Longer than any lease or TTL used here."""

task_sets = st.frozensets(st.sampled_from(TASKS))


async def _empty(store: Store, clock: FakeClock) -> None:
    """End and purge every job and forget every worker, through the Store API only."""
    active = JobFilter(statuses=frozenset({JobStatus.QUEUED, JobStatus.PROCESSING}))
    page = Page(jobs=[], next_cursor="")
    while page.next_cursor is not None:
        page = await store.list_jobs(active, 100, page.next_cursor or None, clock.now())
        for job in page.jobs:
            await store.request_cancel(job.job_id, clock.now())
    clock.advance(FOREVER)
    while await store.reap_expired_leases(clock.now(), limit=1000):
        pass
    clock.advance(FOREVER)
    while await store.purge_expired(clock.now(), limit=1000):
        pass
    for worker in (await store.stats(clock.now(), worker_horizon_seconds=10 * FOREVER)).workers:
        await store.unregister_worker(worker.worker_id)


class Twins:
    """The store under test and the reference, driven through the same operations."""

    def __init__(self, subject: Store, clock: FakeClock) -> None:
        self.stores: tuple[Store, Store] = (MemoryStore(), subject)
        self.clock = clock
        self.job_ids: list[str] = [str(uuid.uuid4())]  # one that never exists
        self.leases: list[tuple[Lease, Lease]] = []  # per claim: (reference's, subject's)
        self._versions: dict[str, tuple[int, int]] = {}

    async def both(self, action: Callable[[Store, int], Awaitable[_T]]) -> tuple[_T, _T] | None:
        """Run *action* (given the store and its side, 0 or 1) on both; None when both raised."""
        answers: list[_T] = []
        errors: list[JobQueueError | None] = []
        for side, store in enumerate(self.stores):
            try:
                answers.append(await action(store, side))
                errors.append(None)
            except JobQueueError as exc:
                errors.append(exc)
        expected, got = errors
        assert type(got) is type(expected), f"reference raised {expected!r}, store {got!r}"
        if isinstance(expected, InvalidTransition) and isinstance(got, InvalidTransition):
            self.same_job(expected.job, got.job)
        return None if expected is not None else (answers[0], answers[1])

    def same_job(self, expected: Job, got: Job) -> None:
        assert replace(got, version=0) == replace(expected, version=0)
        before = self._versions.get(expected.job_id)
        if before is not None:
            assert (got.version > before[1]) == (expected.version > before[0]), "version"
            assert got.version >= before[1]
        self._versions[expected.job_id] = (expected.version, got.version)

    def same_jobs(self, expected: Sequence[Job], got: Sequence[Job]) -> None:
        assert [job.job_id for job in got] == [job.job_id for job in expected]
        for one, other in zip(expected, got, strict=True):
            self.same_job(one, other)

    # -- operations: each draws its arguments, runs on both stores and compares ---------

    async def create(self, data: st.DataObject) -> None:
        self.clock.advance(0.001)
        new = NewJob(
            job_id=str(uuid.uuid4()),
            task=data.draw(st.sampled_from(TASKS)),
            payload={"n": len(self.job_ids)},
            max_attempts=data.draw(st.integers(1, 3)),
            ttl_seconds=data.draw(st.sampled_from(TTLS)),
            priority=data.draw(st.integers(-1, 2)),
            delay_seconds=data.draw(st.sampled_from((0.0, 0.0, 5.0, 60.0))),
            timeout_seconds=data.draw(st.sampled_from((None, 10.0))),
            idempotency_key=data.draw(st.sampled_from((None, None, "k1", "k2"))),
            fingerprint=data.draw(st.sampled_from(("f1", "f2"))),
            owner=data.draw(st.sampled_from((None, "ann"))),
        )
        now = self.clock.now()
        answers = await self.both(lambda store, _: store.create(new, now))
        if answers is None:
            return  # both refused the key (the conflict is compared already)
        (expected, expected_created), (got, got_created) = answers
        assert got_created == expected_created
        self.same_job(expected, got)
        if expected_created:
            self.job_ids.append(new.job_id)

    async def claim(self, data: st.DataObject) -> None:
        tasks = data.draw(task_sets)
        limit = data.draw(st.integers(1, 3))
        lease_seconds = data.draw(st.sampled_from(LEASES))
        now = self.clock.now()
        answers = await self.both(
            lambda store, _: store.claim(Claimant("w1", tasks, lease_seconds), limit, now)
        )
        assert answers is not None
        expected, got = answers
        self.same_jobs([c.job for c in expected], [c.job for c in got])
        self.leases += [(one.lease, other.lease) for one, other in zip(expected, got, strict=True)]

    async def heartbeat(self, data: st.DataObject) -> None:
        picked = data.draw(st.lists(st.integers(0, max(len(self.leases) - 1, 0)), max_size=3))
        chosen = [self.leases[i] for i in picked if i < len(self.leases)]
        lease_seconds = data.draw(st.sampled_from(LEASES))
        now = self.clock.now()
        answers = await self.both(
            lambda store, side: store.heartbeat(
                "w1", [pair[side] for pair in chosen], lease_seconds, now
            )
        )
        assert answers is not None
        assert answers[1] == answers[0]

    async def worker_write(self, data: st.DataObject) -> None:
        if not self.leases:
            return
        pair = self.leases[data.draw(st.integers(0, len(self.leases) - 1))]
        now = self.clock.now()
        retry_at = now + timedelta(seconds=data.draw(st.sampled_from((0.0, 5.0, 60.0))))
        writes: dict[str, Callable[[Store, Lease], Awaitable[Job]]] = {
            "progress": lambda s, lease: s.record_progress(lease, Progress(1, 2, "m"), now),
            "complete": lambda s, lease: s.complete(lease, {"ok": [1, 2]}, now),
            "fail": lambda s, lease: s.fail(lease, "boom", None, now),
            "retry later": lambda s, lease: s.fail(lease, "again", retry_at, now),
            "cancelled": lambda s, lease: s.finish_cancelled(lease, now),
            "release": lambda s, lease: s.release(lease, now),
        }
        write = writes[data.draw(st.sampled_from(sorted(writes)))]
        answers = await self.both(lambda store, side: write(store, pair[side]))
        if answers is not None:
            self.same_job(*answers)

    async def operator(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self.job_ids))
        is_cancel = data.draw(st.booleans())
        now = self.clock.now()
        answers = await self.both(
            lambda store, _: (
                store.request_cancel(job_id, now) if is_cancel else store.retry(job_id, now)
            )
        )
        if answers is not None:
            self.same_job(*answers)

    async def maintain(self, data: st.DataObject) -> None:
        now = self.clock.now()
        reaped = await self.both(lambda store, _: store.reap_expired_leases(now, limit=10_000))
        assert reaped is not None
        self.same_jobs(
            sorted(reaped[0], key=lambda job: job.job_id),
            sorted(reaped[1], key=lambda job: job.job_id),
        )
        purged = await self.both(lambda store, _: store.purge_expired(now, limit=10_000))
        assert purged is not None
        assert purged[1] == purged[0]

    async def advance(self, data: st.DataObject) -> None:
        self.clock.advance(data.draw(st.sampled_from((0.5, 5.0, 31.0, 200.0, 4000.0))))

    async def read(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self.job_ids))
        now = self.clock.now()
        got = await self.both(lambda store, _: store.get(job_id, now))
        assert got is not None
        assert (got[0] is None) == (got[1] is None)
        if got[0] is not None and got[1] is not None:
            self.same_job(got[0], got[1])
        tasks = data.draw(task_sets)
        next_run = await self.both(lambda store, _: store.next_run_at(tasks, now))
        assert next_run is not None
        assert next_run[1] == next_run[0]

    async def list_jobs(self, data: st.DataObject) -> None:
        where = JobFilter(
            statuses=data.draw(st.frozensets(st.sampled_from(list(JobStatus)))),
            tasks=data.draw(task_sets),
            owner=data.draw(st.sampled_from((None, "ann"))),
        )
        limit = data.draw(st.integers(1, 4))
        now = self.clock.now()
        cursors: list[str | None] = [None, None]
        while True:
            pages = await self.both(
                lambda store, side: store.list_jobs(where, limit, cursors[side], now)
            )
            assert pages is not None
            self.same_jobs(pages[0].jobs, pages[1].jobs)
            cursors[:] = [pages[0].next_cursor, pages[1].next_cursor]
            assert (cursors[0] is None) == (cursors[1] is None)
            if cursors[0] is None:
                return

    async def stats(self, data: st.DataObject) -> None:
        if data.draw(st.booleans()):
            info = WorkerInfo(
                data.draw(st.sampled_from(("w1", "w2"))),
                self.clock.now(),
                running=data.draw(st.integers(0, 3)),
                host="box",
                pid=1,
            )
            await self.both(lambda store, _: store.register_worker(info))
        else:
            worker_id = data.draw(st.sampled_from(("w1", "w2")))
            await self.both(lambda store, _: store.unregister_worker(worker_id))
        now = self.clock.now()
        answers = await self.both(lambda store, _: store.stats(now))
        assert answers is not None
        expected, got = answers
        assert {task: dict(counts) for task, counts in got.tasks.items()} == {
            task: dict(counts) for task, counts in expected.tasks.items()
        }
        by_id = sorted(got.workers, key=lambda w: w.worker_id)
        assert by_id == sorted(expected.workers, key=lambda w: w.worker_id)


OPERATIONS = [
    "create",
    "create",
    "claim",
    "claim",
    "heartbeat",
    "worker_write",
    "worker_write",
    "operator",
    "maintain",
    "advance",
    "read",
    "list_jobs",
    "stats",
]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_the_store_answers_like_the_reference(
    store: Store, clock: FakeClock, data: st.DataObject
) -> None:
    # The fixtures live across examples: start each from an empty store.
    await _empty(store, clock)
    twins = Twins(store, clock)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        operation = data.draw(st.sampled_from(OPERATIONS), label="operation")
        await getattr(twins, operation)(data)
