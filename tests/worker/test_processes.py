"""Real worker processes: a SIGKILLed worker loses nothing; many workers run each job once."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from jobqueue import JobQueue, JobStatus
from tests.support import recording_app
from tests.support.processes import RECORDING_APP, ROOT, RunLog, stop


class Workers:
    """Starts `jobqueue worker` processes on one store and cleans them up."""

    def __init__(self, store_url: str, log: Path) -> None:
        self.store_url = store_url
        self.log = RunLog(log)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *options: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "JOBQUEUE_STORE": self.store_url,
            "JOBQUEUE_TEST_LOG": str(self.log.path),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "jobqueue", "worker", RECORDING_APP, *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def events(self) -> list[tuple[str, str, int]]:
        """(event, job id, attempt) of each line of the run log."""
        return [(run.event, run.job_id, run.attempt) for run in self.log.runs()]

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            stop(process)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(f"sqlite:///{tmp_path / 'jobs.db'}", tmp_path / "events.log")
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
async def queue(workers: Workers) -> AsyncIterator[JobQueue]:
    recording_app.queue.use_store(workers.store_url)
    await recording_app.queue.open()
    yield recording_app.queue
    await recording_app.queue.close()


async def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_sigkilled_worker_loses_no_job(workers: Workers, queue: JobQueue) -> None:
    victim = workers.start("--lease-seconds", "1", "--concurrency", "1")
    job = await queue.submit("record", {"sleep": 2})
    await _until(lambda: ("start", job.job_id, 1) in workers.events())
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    workers.start("--lease-seconds", "1")

    done = await queue.wait(job.job_id, timeout=30)

    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 2
    assert done.result == 2
    assert workers.events() == [
        ("start", job.job_id, 1),
        ("start", job.job_id, 2),
        ("done", job.job_id, 2),
    ]


@pytest.mark.slow
async def test_many_workers_run_each_job_exactly_once(workers: Workers, queue: JobQueue) -> None:
    for _ in range(3):
        workers.start("--concurrency", "8")
    jobs = [await queue.submit("record", {"sleep": 0.01}) for _ in range(300)]

    for job in jobs:
        done = await queue.wait(job.job_id, timeout=60)
        assert done.status is JobStatus.COMPLETED

    runs = collections.Counter((event, job_id) for event, job_id, _ in workers.events())
    assert {job_id for _, job_id in runs} == {job.job_id for job in jobs}
    assert set(runs.values()) == {1}


@pytest.mark.slow
async def test_sigterm_drains_then_exits(workers: Workers, queue: JobQueue) -> None:
    worker = workers.start("--grace-seconds", "10")
    job = await queue.submit("record", {"sleep": 1})
    await _until(lambda: ("start", job.job_id, 1) in workers.events())
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    done = await queue.get(job.job_id)
    assert done is not None
    assert done.status is JobStatus.COMPLETED
