"""The warm process pool, with real child processes: which child ran each job (pids), how
often the start-up hook ran, recycling, killing and replacing, and children that never
outlive their worker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from jobqueue import JobQueue, JobStatus
from jobqueue.worker import Worker
from tests.support import pool_app
from tests.support.processes import ROOT, stop
from tests.worker.conftest import running

POOL_APP = "tests.support.pool_app:queue"


class PoolLog:
    """The lines `tests.support.pool_app` logs, from the children only (the worker under
    test runs the start-up hook too, in this very process)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _pids(self, event: str) -> list[int]:
        words = pool_app.lines(self.path)
        return [int(w[-1]) for w in words if w[0] == event and int(w[-1]) != os.getpid()]

    def startups(self) -> list[int]:
        """The pid of each child whose start-up hook ran, in order."""
        return self._pids("startup")

    def starts(self) -> list[int]:
        """The pid of the child each attempt started in, in order."""
        return self._pids("start")


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PoolLog:
    monkeypatch.setenv("JOBQUEUE_TEST_LOG", str(tmp_path / "pool.log"))  # children inherit it
    return PoolLog(tmp_path / "pool.log")


@pytest.fixture
def pooled(queue: JobQueue, log: PoolLog) -> JobQueue:
    """*queue* with the pool app's start-up hook and its process task, ``work``."""
    queue.on_startup(pool_app.load)
    queue.task(process=True, name="work", max_attempts=1)(pool_app.work)
    return queue


async def _run(queue: JobQueue, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Submit one ``work`` job, wait for it; its result (it must complete)."""
    job = await queue.submit("work", payload or {})
    done = await queue.wait(job.job_id, timeout=60)
    assert done.status is JobStatus.COMPLETED, done.error
    assert isinstance(done.result, dict)
    return done.result


async def _until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def is_gone(pid: int) -> bool:
    """Whether process *pid* has exited (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _exported(name: str, reason: str | None = None) -> float:
    labels = None if reason is None else {"reason": reason}
    return REGISTRY.get_sample_value(f"jobqueue_pool_{name}_total", labels) or 0.0


async def test_one_child_runs_the_hook_once_and_keeps_its_state(
    pooled: JobQueue, log: PoolLog
) -> None:
    async with running(pooled, concurrency=1) as worker:
        results = [await _run(pooled) for _ in range(5)]
        [pid] = worker.pool.pids

    assert [r["pid"] for r in results] == [pid] * 5
    assert [r["loaded_by"] for r in results] == [pid] * 5
    assert [r["jobs"] for r in results] == [1, 2, 3, 4, 5]  # ctx.state lives on
    assert log.startups() == [pid]
    assert worker.pool.counts.starts == 1


async def test_a_child_is_recycled_after_max_jobs(pooled: JobQueue, log: PoolLog) -> None:
    exported = _exported("process_starts"), _exported("recycles", "jobs")
    async with running(pooled, concurrency=1, max_jobs_per_child=2) as worker:
        pids = [(await _run(pooled))["pid"] for _ in range(5)]

    first, second, third = pids[0], pids[2], pids[4]
    assert pids == [first, first, second, second, third]
    assert len({first, second, third}) == 3
    assert log.startups() == [first, second, third]
    assert worker.pool.counts.starts == 3
    assert worker.pool.counts.recycles == {"jobs": 2}
    assert (_exported("process_starts"), _exported("recycles", "jobs")) == (
        exported[0] + 3,
        exported[1] + 2,
    )


async def test_a_child_is_recycled_above_the_memory_limit(pooled: JobQueue, log: PoolLog) -> None:
    async with running(pooled, concurrency=1, max_child_memory_mb=150) as worker:
        light = await _run(pooled)
        heavy = await _run(pooled, {"allocate_mb": 200})
        after = await _run(pooled)

    assert light["resident_mb"] < 150  # the limit is above a fresh child's own size
    assert heavy["pid"] == light["pid"]  # measured between jobs, not during one
    assert heavy["resident_mb"] > 150
    assert after["pid"] != heavy["pid"]
    assert after["jobs"] == 1
    assert log.startups() == [light["pid"], after["pid"]]
    assert worker.pool.counts.recycles == {"memory": 1}


async def test_a_timed_out_child_is_killed_and_the_next_job_gets_a_fresh_one(
    queue: JobQueue, log: PoolLog
) -> None:
    queue.on_startup(pool_app.load)
    queue.task(process=True, name="work", timeout=1, max_attempts=1)(pool_app.work)
    async with running(queue, concurrency=1) as worker:
        before = await _run(queue)
        job = await queue.submit("work", {"sleep": 60})
        timed_out = await queue.wait(job.job_id, timeout=60)
        after = await _run(queue)

    assert timed_out.status is JobStatus.FAILED
    assert timed_out.error == "Timed out after 1s"
    assert is_gone(before["pid"])
    assert after["pid"] != before["pid"]
    assert log.startups() == [before["pid"], after["pid"]]  # the hook ran again
    assert worker.pool.counts.kills == {"timeout": 1}


async def test_a_cancelled_child_is_killed_and_the_next_job_gets_a_fresh_one(
    pooled: JobQueue, log: PoolLog
) -> None:
    async with running(pooled, concurrency=1) as worker:
        job = await pooled.submit("work", {"sleep": 60})
        await _until(lambda: len(log.starts()) == 1)
        [victim] = log.starts()
        await pooled.cancel(job.job_id)
        cancelled = await pooled.wait(job.job_id, timeout=60)
        after = await _run(pooled)

    assert cancelled.status is JobStatus.CANCELLED
    assert is_gone(victim)
    assert after["pid"] != victim
    assert log.startups() == [victim, after["pid"]]
    assert worker.pool.counts.kills == {"cancel": 1}


async def test_a_crashed_child_fails_its_job_and_is_replaced(
    pooled: JobQueue, log: PoolLog
) -> None:
    async with running(pooled, concurrency=1) as worker:
        job = await pooled.submit("work", {"crash": True})
        crashed = await pooled.wait(job.job_id, timeout=60)
        after = await _run(pooled)

    assert crashed.status is JobStatus.FAILED
    assert crashed.error == "The task's process exited with code 3"
    victim = log.starts()[0]
    assert after["pid"] != victim
    assert worker.pool.counts.kills == {"crashed": 1}


async def test_a_hook_failing_in_the_child_fails_the_job_with_its_error(
    queue: JobQueue, log: PoolLog
) -> None:
    queue.on_startup(pool_app.fail_in_children)
    queue.task(process=True, name="work", max_attempts=1)(pool_app.work)
    async with running(queue, concurrency=1):
        job = await queue.submit("work", {})
        done = await queue.wait(job.job_id, timeout=60)

    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.startswith("A start-up hook failed: RuntimeError: no GPU here")
    assert log.starts() == []


async def test_a_hook_the_children_cannot_import_fails_the_job_saying_so(
    queue: JobQueue, log: PoolLog
) -> None:
    queue.on_startup(lambda: None)
    queue.task(process=True, name="work", max_attempts=1)(pool_app.work)
    async with running(queue, concurrency=1) as worker:
        job = await queue.submit("work", {})
        done = await queue.wait(job.job_id, timeout=60)

    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert "each hook must be importable by name" in done.error
    assert worker.pool.counts.starts == 0


async def test_progress_from_a_child_reaches_the_store_while_it_runs(
    pooled: JobQueue, tmp_path: Path
) -> None:
    flag = tmp_path / "go-on"
    async with running(pooled, concurrency=1):
        job = await pooled.submit("work", {"progress_until": str(flag)})
        async for seen in pooled.watch(job.job_id):
            if seen.progress is not None:
                break
        flag.touch()
        done = await pooled.wait(job.job_id, timeout=60)

    assert seen.status is JobStatus.PROCESSING
    assert seen.progress is not None
    assert (seen.progress.current, seen.progress.total, seen.progress.message) == (
        1,
        2,
        "half way",
    )
    assert done.status is JobStatus.COMPLETED
    assert isinstance(done.result, dict)
    assert done.result["met"] is True


async def test_two_process_jobs_at_once_run_in_two_children(pooled: JobQueue, log: PoolLog) -> None:
    async with running(pooled, concurrency=2) as worker:
        # Each waits until both have started: in one child they would run one after the other.
        jobs = [await pooled.submit("work", {"rendezvous": 2}) for _ in range(2)]
        results = [(await pooled.wait(job.job_id, timeout=60)).result for job in jobs]

    assert all(isinstance(r, dict) and r["met"] for r in results)
    pids = {r["pid"] for r in results if isinstance(r, dict)}
    assert len(pids) == 2
    assert set(log.startups()) == pids
    assert worker.pool.counts.starts == 2


async def test_the_heartbeat_renews_the_lease_while_a_child_computes(pooled: JobQueue) -> None:
    async with running(pooled, concurrency=1, lease_seconds=0.5, maintenance_seconds=0.05):
        job = await pooled.submit("work", {"sleep": 2})  # four leases long, in the child
        done = await pooled.wait(job.job_id, timeout=60)

    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1


async def test_children_stop_with_their_worker(pooled: JobQueue) -> None:
    async with running(pooled, concurrency=2) as worker:
        jobs = [await pooled.submit("work", {"rendezvous": 2}) for _ in range(2)]
        for job in jobs:
            await pooled.wait(job.job_id, timeout=60)
        pids = worker.pool.pids
    assert len(pids) == 2
    assert all(is_gone(pid) for pid in pids)
    assert worker.pool.pids == []


def test_the_pool_limits_are_checked() -> None:
    queue = JobQueue("memory://")
    with pytest.raises(ValueError, match="max_jobs_per_child"):
        Worker(queue, max_jobs_per_child=0)
    with pytest.raises(ValueError, match="max_child_memory_mb"):
        Worker(queue, max_child_memory_mb=0)


# -- `jobqueue worker` processes ---------------------------------------------------


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
async def app_queue(store_url: str, log: PoolLog) -> AsyncIterator[JobQueue]:
    pool_app.queue.use_store(store_url)
    async with pool_app.queue:
        yield pool_app.queue


@pytest.fixture
def start_worker(store_url: str) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "jobqueue", "worker", POOL_APP, *options]
        env = {**os.environ, "JOBQUEUE_STORE": store_url}
        started.append(subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL))
        return started[-1]

    yield start
    for process in started:
        stop(process)


@pytest.mark.slow
async def test_a_sigkilled_worker_leaves_no_child_behind(
    app_queue: JobQueue, start_worker: Callable[..., subprocess.Popen[bytes]], log: PoolLog
) -> None:
    worker = start_worker("--concurrency", "2")
    for _ in range(2):
        await app_queue.submit("work", {"sleep": 60})
    await _until(lambda: len(log.starts()) == 2)  # both children busy, mid-job
    children = log.starts()
    assert worker.pid not in children

    worker.send_signal(signal.SIGKILL)
    worker.wait(10)

    await _until(lambda: all(is_gone(pid) for pid in children), timeout=10)


@pytest.mark.slow
async def test_the_worker_command_recycles_after_max_jobs_per_child(
    app_queue: JobQueue, start_worker: Callable[..., subprocess.Popen[bytes]], log: PoolLog
) -> None:
    start_worker("--concurrency", "1", "--max-jobs-per-child", "2")
    pids = [(await _run(app_queue))["pid"] for _ in range(3)]

    assert pids[0] == pids[1] != pids[2]
    assert log.startups()[-2:] == [pids[0], pids[2]]  # the worker's own run comes first
