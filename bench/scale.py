"""W5: does claiming get slower with many jobs waiting? One claim+complete, per store.

    python -m bench.scale --store postgres [--small 10000] [--large 1000000] [--cycles 300]

Fills the store with queued jobs by bulk inserts straight into its tables (or, on
Redis, a script built from the store's own Lua helpers) — far faster than submitting a
million jobs, and acceptable in a benchmark — then times ``claim`` + ``complete`` of one
job at a time through the `Store` interface, at the small size and again at the large.
Prints JSON: median microseconds per cycle for each run at each size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from bench.peers._common import REDIS_URL
from bench.peers.jobqueue_bench import drop_schema, store_url
from jobqueue.models import Claimant, NewJob
from jobqueue.stores import open_store

if TYPE_CHECKING:
    from jobqueue.stores import Store

TASK = "noop"
_REDIS_CHUNK = 10_000  # jobs per script call: keeps each call short on a shared server

_SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO jobs (
    job_id, task, status, payload, created_at, run_at, max_attempts, ttl_seconds, ttl_us,
    version, priority, attempts, is_cancel_requested, seq
)
SELECT lower(hex(randomblob(16))), :task, 'queued', '{}', :now_us - i, :now_us - i, 3,
       86400.0, 86400000000, 1, 0, 0, 0, 0
FROM n
"""

_POSTGRES_FILL = """
INSERT INTO jobs (job_id, task, status, payload, created_at, run_at, max_attempts, ttl_seconds)
SELECT md5(random()::text || g), %(task)s, 'queued', '{}', t, t, 3, 86400
FROM (
    SELECT g, %(now)s::timestamptz - g * interval '1 microsecond' AS t
    FROM generate_series(1, %(count)s) AS g
) AS fill
"""

# Appended to the store's own _lib.lua: queue `count` copies of a template job's fields.
_REDIS_FILL = """
local id_prefix, n = ARGV[3], tonumber(ARGV[4])
local job = {task = ARGV[5], created_at = ARGV[6], priority = ARGV[7]}
for i = 1, n do
  local id = id_prefix .. int(i)
  redis.call('HSET', job_key(id), 'job_id', id, unpack(ARGV, 8))
  count(job.task, 'queued', 1)
  redis.call('ZADD', prefix .. 'jobs', 0, index_member(id, job))
  enqueue(id, job, now)
end
return n
"""


class Filler:
    """Adds queued jobs of `TASK` to one store's data, in bulk."""

    def __init__(self, store_name: str, url: str, store: Store) -> None:
        self.store_name, self.url, self.store = store_name, url, store

    async def add(self, count: int) -> None:
        """Queue *count* more jobs, older than any queued so far."""
        now = datetime.now(UTC)
        if self.store_name == "sqlite":
            await asyncio.to_thread(self._sqlite, count, now)
        elif self.store_name == "postgres":
            await asyncio.to_thread(self._postgres, count, now)
        else:
            await self._redis(count)

    def _sqlite(self, count: int, now: datetime) -> None:
        path = self.url.removeprefix("sqlite:///")
        now_us = int(now.timestamp() * 1_000_000)
        with sqlite3.connect(path, timeout=60) as conn:
            conn.execute(_SQLITE_FILL, {"count": count, "task": TASK, "now_us": now_us})

    def _postgres(self, count: int, now: datetime) -> None:
        import psycopg

        base, _, schema = self.url.partition("?schema=")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            # Bulk load without the per-row change notification trigger.
            conn.execute("SET session_replication_role = replica")
            conn.execute(_POSTGRES_FILL, {"count": count, "task": TASK, "now": now})
            conn.execute("ANALYZE jobs")  # as autovacuum would after a load this size

    async def _redis(self, count: int) -> None:
        from redis.asyncio import Redis

        from jobqueue.stores.redis import RedisStore

        assert isinstance(self.store, RedisStore)
        template_id = await _submit(self.store)
        lib = resources.files("jobqueue.stores.redis").joinpath("lua", "_lib.lua").read_text()
        async with Redis.from_url(REDIS_URL, decode_responses=True) as redis:
            prefix = self.store.prefix
            fields = await redis.hgetall(f"{prefix}job:{template_id}")
            script = redis.register_script(lib + _REDIS_FILL)
            rest = [
                item
                for key, value in fields.items()
                if key not in {"job_id", "queue_member"}
                for item in (key, value)
            ]
            head = [fields["task"], fields["created_at"], fields["priority"]]
            for start in range(0, count, _REDIS_CHUNK):
                n = min(_REDIS_CHUNK, count - start)
                now_us = str(time.time_ns() // 1000)
                id_prefix = f"fill{uuid.uuid4().hex[:8]}-"
                await script(args=[prefix, now_us, id_prefix, n, *head, *rest])


async def _submit(store: Store) -> str:
    new = NewJob(job_id=uuid.uuid4().hex, task=TASK, payload={}, max_attempts=3, ttl_seconds=86400)
    job, _ = await store.create(new, datetime.now(UTC))
    return job.job_id


async def cycle_seconds(store: Store, cycles: int, budget: float) -> list[float]:
    """Seconds of each claim (of one job) and its completion, one after another.

    Stops after *cycles*, or after *budget* seconds once a few are measured.
    """
    durations: list[float] = []
    deadline = time.monotonic() + budget
    while len(durations) < cycles and (len(durations) < 5 or time.monotonic() < deadline):
        started = time.perf_counter()
        now = datetime.now(UTC)
        (claim,) = await store.claim(Claimant("bench-scale", frozenset({TASK}), 30.0), 1, now)
        await store.complete(claim.lease, None, now)
        durations.append(time.perf_counter() - started)
    return durations


async def measure(
    store_name: str, small: int, large: int, cycles: int, runs: int, budget: float
) -> Any:
    """Median microseconds per claim+complete, per run, with *small* then *large* waiting."""
    scratch = tempfile.mkdtemp(prefix="bench-scale-")
    url = store_url(store_name, scratch)
    store = open_store(url)
    await store.open()
    try:
        filler = Filler(store_name, url, store)
        result: dict[str, Any] = {"small": small, "large": large, "cycles": cycles}
        waiting = 0
        for label, size in (("small_us", small), ("large_us", large)):
            await filler.add(size - waiting)
            waiting = size
            waiting -= len(await cycle_seconds(store, 5, budget))  # warm caches, connections
            result[label] = []
            for _ in range(runs):
                durations = await cycle_seconds(store, cycles, budget)
                waiting -= len(durations)
                result[label].append(statistics.median(durations) * 1e6)
        return result
    finally:
        await store.close()
        if store_name == "postgres":
            drop_schema(url)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    """Parse the arguments, measure, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["redis", "postgres", "sqlite"], required=True)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per run at most")
    args = parser.parse_args()
    result = asyncio.run(
        measure(args.store, args.small, args.large, args.cycles, args.runs, args.budget)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
