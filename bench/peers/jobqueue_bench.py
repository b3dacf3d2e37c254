"""jobqueue's adapter: the tasks of `bench.app`, on Redis, PostgreSQL or SQLite (``--store``).

W8 (``--keys K --key-concurrency N``): each job is given one of K concurrency keys in
turn, and the worker's tasks declare ``key_concurrency=N``; the rest as in W1 and W3.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sys
import tempfile
import uuid
from typing import TYPE_CHECKING, ClassVar

from bench.app import queue
from bench.peers._common import (
    KEY_CONCURRENCY_ENV,
    POSTGRES_URL,
    REDIS_URL,
    repeat_async,
    sample_async,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from jobqueue import SubmitOptions


def store_url(store: str, scratch: str) -> str:
    """A store URL of *store* private to one run (a fresh schema or file)."""
    if store == "redis":
        return REDIS_URL  # the driver flushes this database before each run
    if store == "postgres":
        return f"{POSTGRES_URL}?schema=bench_{uuid.uuid4().hex[:12]}"
    if store == "sqlite":
        return f"sqlite:///{scratch}/bench.db"
    raise ValueError(f"unknown store {store!r}")


def drop_schema(url: str) -> None:
    """Remove the PostgreSQL schema a run's URL names."""
    import psycopg

    base, _, schema = url.partition("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Adapter:
    """Submits with `JobQueue.submit`, waits with `JobQueue.wait`; ``jobqueue worker`` runs."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        self.store = args.store
        self.scratch = tempfile.mkdtemp(prefix="bench-jobqueue-")
        self.url = store_url(self.store, self.scratch)
        self.keys = args.keys
        if args.key_concurrency is not None:
            # This process exists for one run: the workers it starts inherit the limit.
            os.environ[KEY_CONCURRENCY_ENV] = str(args.key_concurrency)
        self.runner = asyncio.Runner()
        queue.use_store(self.url)
        self.runner.run(queue.open())

    def close(self) -> None:
        self.runner.run(queue.close())
        self.runner.close()
        if self.store == "postgres":
            drop_schema(self.url)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def enqueue(self, task: str, count: int) -> float:
        options = self._options()
        return self.runner.run(repeat_async(lambda: queue.submit(task, {}, **next(options)), count))

    def _options(self) -> Iterator[SubmitOptions]:
        """Each job's submit options: none, or (W8) the next of the keys, round-robin."""
        if not self.keys:
            return itertools.repeat({})
        return itertools.cycle({"concurrency_key": f"key-{n}"} for n in range(self.keys))

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        command = [sys.executable, "-m", "jobqueue", "worker", "bench.app:queue"]
        command += ["--store", self.url, "--log-level", "warning"]
        if concurrency is not None:
            command += ["--concurrency", str(concurrency)]
        if lease is not None:
            command += ["--lease-seconds", str(lease)]
        return command

    def latencies(self, samples: int, budget: float) -> list[float]:
        return self.runner.run(sample_async(self._round_trip, samples, budget))

    async def _round_trip(self) -> None:
        job = await queue.submit("noop", {})
        await queue.wait(job.job_id, timeout=30)
