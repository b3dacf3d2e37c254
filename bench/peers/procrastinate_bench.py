"""Procrastinate's adapter (PostgreSQL): async tasks, the ``procrastinate worker``.

Procrastinate keeps no results, so W2 waits by reading the job's status every 1 ms
(``JobManager.get_job_status_async``), which is what an application would do. Each run
starts from a fresh schema in the benchmark database.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, ClassVar

import procrastinate
import psycopg

from bench.peers._common import (
    POSTGRES_URL,
    SLEEP_SECONDS,
    hold_attempt,
    mark,
    repeat_async,
    sample_async,
)

if TYPE_CHECKING:
    import argparse

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=POSTGRES_URL))


@app.task(name="noop")
async def noop() -> None:
    mark(time.time())


@app.task(name="sleep")
async def sleep() -> None:
    started = time.time()
    await asyncio.sleep(SLEEP_SECONDS)
    mark(started)


@app.task(name="hold")
async def hold() -> None:
    if hold_attempt():
        await asyncio.sleep(3600)


TASKS = {"noop": noop, "sleep": sleep, "hold": hold}


class Adapter:
    """Enqueues with ``Task.defer_async``."""

    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, args: argparse.Namespace) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
        self.runner = asyncio.Runner()
        self.runner.run(self._open())

    async def _open(self) -> None:
        await app.open_async()
        await app.schema_manager.apply_schema_async()

    def close(self) -> None:
        self.runner.run(app.close_async())
        self.runner.close()

    def enqueue(self, task: str, count: int) -> float:
        return self.runner.run(repeat_async(TASKS[task].defer_async, count))

    def worker_command(self, concurrency: int | None, lease: float | None) -> list[str]:
        app_path = "bench.peers.procrastinate_bench.app"
        command = [f"{sys.prefix}/bin/procrastinate", "--app", app_path, "worker"]
        if concurrency is not None:
            command += ["--concurrency", str(concurrency)]
        return command

    def latencies(self, samples: int, budget: float) -> list[float]:
        return self.runner.run(sample_async(self._round_trip, samples, budget))

    async def _round_trip(self) -> None:
        job_id = await noop.defer_async()
        status = app.job_manager.get_job_status_async
        while await status(job_id) != procrastinate.jobs.Status.SUCCEEDED:
            await asyncio.sleep(0.001)
