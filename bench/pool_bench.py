"""W7: the warm process pool. A process task whose start-up takes seconds (a stand-in for
loading a model) runs many short jobs through one worker with a pool of two children.

    python -m bench.pool_bench --variant warm|fresh [--jobs 200] [--job-seconds 0.02]
                               [--startup-seconds 2] [--pool 2]

Every job is queued first; then one ``jobqueue worker bench.pool_bench:queue`` process
starts with ``--concurrency`` = the pool size. Total time runs from that process's start
to the last job's end, so it includes the worker's and its children's start-ups. Process
starts are counted by the start-up hook itself (a line per child in a file).

``warm``: the pool as it is (a child serves job after job). ``fresh``: the same worker
with ``--max-jobs-per-child 1``, so each attempt gets a new child that runs the hook: what
``process=True`` did before the pool (a fresh ``spawn`` child per attempt), plus the hook
that child now runs, which is where the model is loaded either way (before the pool, the
task itself had to load it on every attempt). The hook sleeps in pool children only: the
worker process runs the hooks too, but a model only process tasks use is not loaded there.

Prints JSON: seconds, jobs per second, process starts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jobqueue import JobQueue, JobStatus

STARTUP_ENV = "BENCH_POOL_STARTUP_SECONDS"
STARTS_ENV = "BENCH_POOL_STARTS"

queue = JobQueue()


@queue.on_startup
def load_model() -> None:
    """Take ``BENCH_POOL_STARTUP_SECONDS`` to "load a model" in each pool child; log it."""
    if multiprocessing.parent_process() is None:
        return  # the worker process itself: its tasks never use the model
    time.sleep(float(os.environ.get(STARTUP_ENV, "2")))
    with Path(os.environ[STARTS_ENV]).open("a") as starts:
        starts.write(f"{os.getpid()}\n")


@queue.task(process=True, max_attempts=1)
def infer(payload: dict[str, Any]) -> None:
    """A short job: ``payload["seconds"]`` of work."""
    time.sleep(payload["seconds"])


async def _submit(count: int, seconds: float) -> list[str]:
    jobs = [await queue.submit("infer", {"seconds": seconds}) for _ in range(count)]
    return [job.job_id for job in jobs]


async def _all_done(job_ids: list[str]) -> None:
    for job_id in job_ids:
        done = await queue.wait(job_id, timeout=3600)
        if done.status is not JobStatus.COMPLETED:
            raise RuntimeError(f"job {job_id} ended {done.status}: {done.error}")


async def _drained(job_ids: list[str], worker: subprocess.Popen[bytes]) -> None:
    """Return once every job completed; raise if one did not, or the worker exited."""
    waiting = asyncio.ensure_future(_all_done(job_ids))
    while not waiting.done():
        if worker.poll() is not None:
            waiting.cancel()
            raise RuntimeError(f"the worker exited with code {worker.returncode}")
        await asyncio.wait([waiting], timeout=0.5)
    waiting.result()


def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Queue the jobs, run one worker until they are done; the figures."""
    url = f"sqlite:///{scratch / 'bench.db'}"
    starts = scratch / "starts"
    queue.use_store(url)
    options = ["--concurrency", str(args.pool), "--log-level", "warning"]
    if args.variant == "fresh":
        options += ["--max-jobs-per-child", "1"]
    env = os.environ | {STARTUP_ENV: str(args.startup_seconds), STARTS_ENV: str(starts)}
    with asyncio.Runner() as runner:
        runner.run(queue.open())
        job_ids = runner.run(_submit(args.jobs, args.job_seconds))
        began = time.perf_counter()
        command = [sys.executable, "-m", "jobqueue", "worker", "bench.pool_bench:queue"]
        worker = subprocess.Popen([*command, "--store", url, *options], env=env)
        try:
            runner.run(_drained(job_ids, worker))
            seconds = time.perf_counter() - began
        finally:
            worker.terminate()
            worker.wait(60)
            runner.run(queue.close())
    return {
        "seconds": seconds,
        "jobs_per_s": args.jobs / seconds,
        "process_starts": len(starts.read_text().splitlines()) if starts.exists() else 0,
    }


def main() -> None:
    """Parse the arguments, measure one variant, print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("warm", "fresh"), required=True)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--job-seconds", type=float, default=0.02)
    parser.add_argument("--startup-seconds", type=float, default=2.0)
    parser.add_argument("--pool", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as scratch:
        print(json.dumps(measure(args, Path(scratch))))


if __name__ == "__main__":
    main()
