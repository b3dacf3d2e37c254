"""Throughput: N no-op jobs enqueued by one client, then drained by worker processes.

    python -m bench.throughput --store sqlite --jobs 10000 [--processes 1] [--concurrency 50]

Enqueue rate is the client's one-job-at-a-time `submit`; processing rate is measured
from the first job's start to the last job's end, from the jobs' own timestamps, so
worker start-up does not count. The memory store cannot be shared between processes,
so its worker runs in the client's process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.app import queue
from jobqueue import JobStatus
from jobqueue.worker import Worker

ROOT = Path(__file__).resolve().parents[1]
STORES = {
    "memory": "memory://",
    "sqlite": "sqlite:///{tmp}/bench.db",
    "postgres": "postgresql://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379/0",
}


async def _enqueue(jobs: int) -> tuple[list[str], float]:
    started = time.perf_counter()
    ids = [(await queue.submit("noop", {"i": i})).job_id for i in range(jobs)]
    return ids, time.perf_counter() - started


async def _drained(ids: list[str], timeout: float) -> float:
    """Processing seconds: first start to last completion of the given jobs."""
    await queue.wait(ids[-1], timeout=timeout)
    jobs = [await queue.get(job_id) for job_id in ids]
    for job in jobs:
        assert job is not None
        if not job.is_terminal:
            job = await queue.wait(job.job_id, timeout=timeout)
        assert job.status is JobStatus.COMPLETED, job
    starts = [job.started_at for job in jobs if job and job.started_at]
    ends = [job.completed_at for job in jobs if job and job.completed_at]
    return (max(ends) - min(starts)).total_seconds()


async def run(store: str, jobs: int, processes: int, concurrency: int) -> dict[str, float]:
    """Enqueue then drain; returns the rates in jobs per second."""
    with tempfile.TemporaryDirectory() as tmp:
        url = STORES[store].format(tmp=tmp)
        queue.use_store(url)
        await queue.open()
        try:
            ids, enqueue_seconds = await _enqueue(jobs)
            if store == "memory":
                worker = Worker(queue, concurrency=concurrency)
                running = asyncio.create_task(worker.run())
                seconds = await _drained(ids, timeout=600)
                worker.stop()
                await running
            else:
                env = {**os.environ, "JOBQUEUE_STORE": url}
                command = [sys.executable, "-m", "jobqueue", "worker", "bench.app:queue"]
                command += ["--concurrency", str(concurrency), "--log-level", "warning"]
                workers = [subprocess.Popen(command, cwd=ROOT, env=env) for _ in range(processes)]
                try:
                    seconds = await _drained(ids, timeout=600)
                finally:
                    for worker_process in workers:
                        worker_process.terminate()
                        worker_process.wait(30)
        finally:
            await queue.close()
    return {"enqueue_per_s": jobs / enqueue_seconds, "process_per_s": jobs / seconds}


def main() -> None:
    """Parse the arguments, run, print one line of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=sorted(STORES), default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    if args.store == "redis":
        STORES["redis"] += f"?prefix=bench-{uuid.uuid4().hex[:8]}:"
    rates = asyncio.run(run(args.store, args.jobs, args.processes, args.concurrency))
    print(
        f"{args.store:8} jobs={args.jobs} processes={args.processes} "
        f"concurrency={args.concurrency}  enqueue {rates['enqueue_per_s']:,.0f} jobs/s  "
        f"processing {rates['process_per_s']:,.0f} jobs/s"
    )


if __name__ == "__main__":
    main()
