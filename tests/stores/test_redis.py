"""What only the Redis store has: key namespacing, script loading, pub/sub between
instances, the counters behind `stats`, the bounded listing scan, and its Lua scripts
driven side by side with the reference memory store.
"""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis

from jobqueue.errors import JobQueueError, QueueFull, StoreUnavailable
from jobqueue.models import (
    Claim,
    Claimant,
    JobFilter,
    JobStatus,
    Lease,
    Progress,
    QueueCap,
    WorkerInfo,
)
from jobqueue.stores import open_store
from jobqueue.stores.memory import MemoryStore
from jobqueue.stores.redis import RedisStore
from jobqueue.stores.redis import _store as redis_store
from tests.conftest import REDIS_URL
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    TASK,
    TTL_SECONDS,
    WAIT_SECONDS,
    Watcher,
    new_job,
    submit,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from jobqueue.clock import FakeClock
    from jobqueue.stores import Store

pytestmark = pytest.mark.redis
on_redis = pytest.mark.parametrize("store_maker", ["redis"], indirect=True)


@pytest.fixture
async def admin() -> AsyncIterator[aioredis.Redis]:
    """A plain client of the test server, for what the store must not be asked to do."""
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


def _prefix(store: Store) -> str:
    assert isinstance(store, RedisStore)
    return store.prefix


async def exercise_every_script(store: Store, clock: FakeClock) -> None:
    """Run every operation of the store (so every Lua script) at least once."""
    keyed = new_job(idempotency_key=str(uuid.uuid4()), fingerprint="print")
    first, _ = await store.create(keyed, clock.now())
    replayed, created = await store.create(keyed, clock.now())
    assert (replayed.job_id, created) == (first.job_id, False)
    delayed = await submit(store, clock, delay_seconds=5, owner="bob")
    for _ in range(5):
        await submit(store, clock)
    next_run_at = await store.next_run_at([TASK], clock.now())
    assert next_run_at is not None
    assert next_run_at <= clock.now()

    done, retried, failed, cancelled, released = await store.claim(
        Claimant("w1", frozenset({TASK}), LEASE_SECONDS), 5, clock.now()
    )
    beat = await store.heartbeat("w1", [done.lease, retried.lease], LEASE_SECONDS, clock.now())
    assert not beat.lost
    await store.record_progress(done.lease, Progress(1, 2, "half"), clock.now())
    await store.complete(done.lease, {"ok": True}, clock.now())
    await store.fail(retried.lease, "boom", clock.now(), clock.now())
    await store.fail(failed.lease, "boom", None, clock.now())
    await store.request_cancel(cancelled.job.job_id, clock.now())
    await store.finish_cancelled(cancelled.lease, clock.now())
    await store.release(released.lease, clock.now())
    await store.request_cancel(delayed.job_id, clock.now())
    await store.retry(failed.job.job_id, clock.now())

    assert await store.claim(Claimant("w1", frozenset({TASK}), LEASE_SECONDS), 1, clock.now())
    clock.advance(LEASE_SECONDS)
    assert await store.reap_expired_leases(clock.now())

    await store.register_worker(WorkerInfo("w1", clock.now(), running=1, host="h", pid=1))
    assert (await store.stats(clock.now())).workers
    await store.unregister_worker("w1")
    where = JobFilter(statuses=frozenset({JobStatus.QUEUED}), tasks=frozenset({TASK}))
    page = await store.list_jobs(where, 1, None, clock.now())
    assert page.next_cursor is not None
    await store.list_jobs(JobFilter(owner="bob"), 10, page.next_cursor, clock.now())

    assert await store.count_hit("submits", clock.now() + timedelta(seconds=5), clock.now()) == 1
    with pytest.raises(QueueFull):
        await store.create(new_job(queue_cap=QueueCap(of_task=1, in_all=1)), clock.now())

    clock.advance(TTL_SECONDS)
    assert await store.purge_expired(clock.now()) > 0


@on_redis
async def test_every_key_and_channel_starts_with_the_prefix(
    store: Store, clock: FakeClock, admin: aioredis.Redis
) -> None:
    # A user that may touch nothing else: any other key or channel would fail the workload.
    prefix = _prefix(store)
    user, password = f"jqtest-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    await admin.acl_setuser(
        user,
        enabled=True,
        passwords=[f"+{password}"],
        keys=[f"{prefix}*"],
        channels=[f"{prefix}*"],
        categories=["+@all"],
        reset_channels=True,
    )
    parts = urlsplit(REDIS_URL)
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    confined_url = urlunsplit(parts._replace(netloc=netloc))
    confined, sibling = (
        RedisStore(confined_url, prefix=prefix),
        RedisStore(confined_url, prefix=prefix),
    )
    try:
        await confined.open()
        await sibling.open()
        async with Watcher(confined) as watcher:
            await watcher.prime(lambda: submit(sibling, clock))
            await exercise_every_script(confined, clock)
    finally:
        await confined.close()
        await sibling.close()
        await admin.acl_deluser(user)
    assert [key async for key in admin.scan_iter(match=f"{prefix}*")]


@on_redis
async def test_scripts_are_loaded_again_after_the_script_cache_is_flushed(
    store: Store, clock: FakeClock, admin: aioredis.Redis
) -> None:
    await exercise_every_script(store, clock)
    await admin.script_flush()
    await exercise_every_script(store, clock)


@on_redis
async def test_changes_made_by_another_instance_reach_changes(
    store: Store, clock: FakeClock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    other = await open_sibling()
    async with Watcher(store) as watcher:
        await watcher.prime(lambda: submit(other, clock))
        job = await submit(other, clock)
        assert (await watcher.change_of(job)).status is JobStatus.QUEUED
        [claim] = await other.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, clock.now())
        done = await other.complete(claim.lease, None, clock.now())
        change = await watcher.change_of(done)
        assert (change.version, change.status) == (done.version, JobStatus.COMPLETED)


@on_redis
async def test_worker_changes_leave_out_claims_progress_and_ends(
    store: Store, clock: FakeClock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    # A worker follows `worker_changes`: it must not be sent every step of every job.
    other = await open_sibling()
    async with Watcher(store, worker_changes=True) as watcher:
        await watcher.prime(lambda: submit(other, clock))
        job = await submit(other, clock)
        [claim] = await other.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, clock.now())
        await other.record_progress(claim.lease, Progress(1, 2), clock.now())
        await other.complete(claim.lease, None, clock.now())
        [lost] = await other.complete_many([(claim.lease, None)], clock.now())
        later = await submit(other, clock)
        seen = await watcher.changes_until(later)
    assert lost is not None
    assert [(change.job_id, change.status) for change in seen] == [
        (job.job_id, JobStatus.QUEUED),
        (later.job_id, JobStatus.QUEUED),
    ]


@on_redis
async def test_iterators_share_one_subscription_that_ends_with_the_last(
    store: Store,
    clock: FakeClock,
    open_sibling: Callable[[], Awaitable[Store]],
    admin: aioredis.Redis,
) -> None:
    other = await open_sibling()
    channel = f"{_prefix(store)}changes"
    async with Watcher(store) as first, Watcher(store) as second:
        await first.prime(lambda: submit(other, clock))
        job = await submit(other, clock)
        await second.change_of(job)
        assert await admin.pubsub_numsub(channel) == [(channel, 1)]
    async with asyncio.timeout(WAIT_SECONDS):
        while await admin.pubsub_numsub(channel) != [(channel, 0)]:
            await asyncio.sleep(0.01)


@on_redis
async def test_a_random_workload_gives_the_memory_stores_results_and_true_counts(
    store: Store, clock: FakeClock
) -> None:
    # The memory store is the reference: every call goes to both stores, and the results
    # (jobs, errors, pages, counts) must be equal. Leases and cursors are per store.
    reference = MemoryStore()
    rng = random.Random(20260101)
    tasks = ["a", "b", "c"]
    ids: list[str] = []
    leases: list[tuple[Lease, Lease]] = []
    own = object()  # an argument that `both` takes from *per_store*

    async def both(
        method: str, *args: object, per_store: tuple[object, object] = (None, None)
    ) -> tuple[Any, Any]:
        results = []
        for target, mine in zip((reference, store), per_store, strict=True):
            try:
                results.append(
                    await getattr(target, method)(*(mine if a is own else a for a in args))
                )
            except JobQueueError as exc:
                results.append((type(exc), getattr(exc, "job", None)))
        expected, actual = results
        if isinstance(expected, list) and expected and isinstance(expected[0], Claim):
            assert [claim.job for claim in expected] == [claim.job for claim in actual]
        else:
            assert expected == actual, method
        return expected, actual

    async def check_counts() -> None:
        # The counters behind stats agree with the jobs themselves.
        jobs = [await store.get(job_id, clock.now()) for job_id in ids]
        actual = Counter((job.task, job.status) for job in jobs if job is not None)
        stats = await store.stats(clock.now())
        counted = Counter(
            {
                (task, status): n
                for task, counts in stats.tasks.items()
                for status, n in counts.items()
            }
        )
        assert +counted == actual
        assert all(any(counts.values()) for counts in stats.tasks.values())

    for step in range(300):
        now = clock.now()
        action = rng.random()
        if action < 0.25:
            key = rng.choice([None, None, "k1", "k2"])
            new = new_job(
                task=rng.choice(tasks),
                priority=rng.randint(-1, 2),
                delay_seconds=rng.choice([0, 0, 2]),
                ttl_seconds=rng.choice([3, 30]),
                max_attempts=rng.randint(1, 3),
                idempotency_key=key,
                fingerprint=key and rng.choice(["f", "g"]),
                owner=rng.choice([None, "o"]),
            )
            await both("create", new, now)
            ids.append(new.job_id)
        elif action < 0.4:
            picked = rng.sample(tasks, rng.randint(1, 3))
            claimed = await both(
                "claim", Claimant("w", frozenset(picked), 5), rng.randint(1, 3), now
            )
            leases += [(a.lease, b.lease) for a, b in zip(*claimed, strict=True)]
        elif action < 0.6 and leases:
            held = rng.choice(leases)
            finishes: list[tuple[str, tuple[object, ...]]] = [
                ("complete", ([step],)),
                ("fail", ("boom", None)),
                ("fail", ("boom", now + timedelta(seconds=rng.choice([0, 1])))),
                ("finish_cancelled", ()),
                ("release", ()),
                ("record_progress", (Progress(step, 300, "on"),)),
            ]
            method, extra = rng.choice(finishes)
            await both(method, own, *extra, now, per_store=held)
            await both("heartbeat", "w", own, 5, now, per_store=([held[0]], [held[1]]))
        elif action < 0.7 and ids:
            await both(rng.choice(["request_cancel", "retry"]), rng.choice(ids), now)
        elif action < 0.78:
            await both("reap_expired_leases", now, 1000)
        elif action < 0.85:
            await both("purge_expired", now, 1000)
        elif action < 0.92:
            where = JobFilter(
                statuses=frozenset(rng.sample(list(JobStatus), rng.randint(0, 2))),
                tasks=frozenset(rng.sample(tasks, rng.randint(0, 1))),
                owner=rng.choice([None, "o"]),
            )
            cursors: tuple[object, object] = (None, None)
            while True:
                pages = await both("list_jobs", where, 3, own, now, per_store=cursors)
                if pages[0].next_cursor is None:
                    break
                cursors = (pages[0].next_cursor, pages[1].next_cursor)
            await both("stats", now)
            await both("next_run_at", tasks, now)
            await check_counts()
        else:
            clock.advance(rng.choice([1, 2, 5, 30]))
        if ids and rng.random() < 0.2:
            await both("get", rng.choice(ids), now)
    await check_counts()


@on_redis
async def test_listing_continues_past_the_scan_budget(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_store, "_LIST_SCAN_BUDGET", 3)
    owned = [await submit(store, clock, owner="alice") for _ in range(4)]
    for _ in range(10):
        clock.advance(1)
        await submit(store, clock, owner="bob")

    where = JobFilter(owner="alice")
    first = await store.list_jobs(where, 3, None, clock.now())
    assert first.next_cursor is not None
    rest = await store.list_jobs(where, 3, first.next_cursor, clock.now())
    listed = [job.job_id for job in [*first.jobs, *rest.jobs]]
    assert listed == sorted((job.job_id for job in owned), reverse=True)
    assert rest.next_cursor is None


@on_redis
async def test_a_job_ready_by_its_creators_clock_waits_for_a_claimer_whose_clock_is_behind(
    store: Store, clock: FakeClock
) -> None:
    job = await submit(store, clock)
    behind = clock.now() - timedelta(seconds=1)
    assert await store.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, behind) == []
    assert await store.next_run_at([TASK], behind) == job.run_at
    [claim] = await store.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 1, clock.now())
    assert claim.job.job_id == job.job_id


@on_redis
async def test_jobs_not_yet_due_to_the_claimer_do_not_use_up_its_batch(
    store: Store, clock: FakeClock
) -> None:
    # claim reads each ready set a batch at a time: the two best entries are not due by
    # the claimer's clock, and the claim reads on to the one that is.
    due = await submit(store, clock, priority=0)
    clock.advance(5)
    early = [await submit(store, clock, priority=10) for _ in range(2)]
    behind = clock.now() - timedelta(seconds=1)
    claims = await store.claim(Claimant("w", frozenset({TASK, "other"}), LEASE_SECONDS), 2, behind)
    assert [claim.job.job_id for claim in claims] == [due.job_id]
    claims = await store.claim(Claimant("w", frozenset({TASK}), LEASE_SECONDS), 2, clock.now())
    assert [claim.job.job_id for claim in claims] == [job.job_id for job in early]


@on_redis
async def test_the_url_may_choose_the_prefix(store: Store, clock: FakeClock) -> None:
    separator = "&" if "?" in REDIS_URL else "?"
    url = f"{REDIS_URL}{separator}prefix={quote(_prefix(store))}"
    assert RedisStore.from_url(url, prefix="mine:").prefix == "mine:"
    same = open_store(url)
    await same.open()
    try:
        job = await submit(same, clock)
    finally:
        await same.close()
    assert await store.get(job.job_id, clock.now()) == job


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_server_raises_store_unavailable(clock: FakeClock) -> None:
    store = RedisStore(f"redis://127.0.0.1:{_closed_port()}/0", prefix="jqtest:unreachable:")
    with pytest.raises(StoreUnavailable) as raised:
        await store.open()
    assert raised.value.__cause__ is not None
    with pytest.raises(StoreUnavailable):
        await store.create(new_job(), clock.now())
    await store.close()


@on_redis
async def test_a_rate_window_expires_by_itself_after_it_ends(store: Store, clock: FakeClock):
    await store.count_hit("k", clock.now() + timedelta(seconds=10), clock.now())

    client = aioredis.from_url(REDIS_URL)
    try:
        (key,) = [key async for key in client.scan_iter(match="*rate:k:*")]
        assert 10_000 < await client.pttl(key) <= 11_000
    finally:
        await client.aclose()


@on_redis
async def test_calls_beyond_the_pool_wait_for_a_connection(store: Store, clock: FakeClock) -> None:
    job = await submit(store, clock)
    separator = "&" if "?" in REDIS_URL else "?"
    url = f"{REDIS_URL}{separator}max_connections=2&prefix={quote(_prefix(store))}"
    small = open_store(url)
    await small.open()
    try:
        reads = await asyncio.gather(*(small.get(job.job_id, clock.now()) for _ in range(200)))
    finally:
        await small.close()
    assert reads == [job] * 200
