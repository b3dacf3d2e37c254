"""``jobqueue worker``: which tasks it serves, and what it says at start and at SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from jobqueue import JobQueue, JobStatus
from jobqueue.cli import cli
from jobqueue.cli.worker import served_tasks
from jobqueue.stores.urls import redacted
from jobqueue.worker import Worker
from tests.support.processes import RECORDING_APP, ROOT, STOP_SECONDS

WAIT_SECONDS = 20.0


def test_unknown_or_excluded_away_tasks_are_usage_errors() -> None:
    runner = CliRunner()

    unknown = runner.invoke(cli, ["worker", RECORDING_APP, "--tasks", "record,nope"])
    nothing_left = runner.invoke(
        cli, ["worker", RECORDING_APP, "--tasks", "record", "--exclude-tasks", "record"]
    )

    assert unknown.exit_code == 2
    assert (
        "no such task: nope (the tasks are: jobqueue.webhook, record, record_global, record_keyed)"
        in unknown.output
    )
    assert nothing_left.exit_code == 2
    assert "that leaves no task to serve" in nothing_left.output


def test_a_worker_delivers_webhooks_unless_told_not_to() -> None:
    queue = JobQueue("memory://")
    queue.task(name="record")(lambda payload: None)

    assert served_tasks(queue, [], []) == ("jobqueue.webhook", "record")
    assert served_tasks(queue, [], ["jobqueue.webhook"]) == ("record",)
    assert served_tasks(queue, ["record"], []) == ("record",)
    assert Worker(queue).task_names == ["jobqueue.webhook", "record"]


def test_a_password_never_reaches_the_log() -> None:
    assert redacted("postgresql://app:s3cret@db:5432/jobs") == "postgresql://app:***@db:5432/jobs"
    assert redacted("redis://:s3cret@cache/0") == "redis://:***@cache/0"
    assert redacted("sqlite:///jobs.db") == "sqlite:///jobs.db"


def test_the_start_line_names_the_store_tasks_limits_concurrency_and_lease() -> None:
    queue = JobQueue("postgresql://app:s3cret@127.0.0.1/jobs")

    @queue.task(cost=2, key_concurrency=1)
    async def render(payload: Any) -> None:
        return None

    @queue.task
    async def ping(payload: Any) -> None:
        return None

    line = Worker(queue, concurrency=4, lease_seconds=20, tasks=["render", "ping"]).describe()

    assert "s3cret" not in line
    assert "serving postgresql://app:***@127.0.0.1/jobs" in line
    assert "tasks render (cost 2, key_concurrency 1), ping;" in line
    assert line.endswith("concurrency 4, lease 20s")


async def test_sigterm_says_what_it_drains_and_what_it_hands_back(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    output = tmp_path / "worker.log"
    queue = JobQueue(store)
    queue.task(name="record")(lambda payload: None)
    async with queue:
        job = await queue.submit("record", {"sleep": 60})
        command = [sys.executable, "-m", "jobqueue", "worker", RECORDING_APP, "--store", store]
        with output.open("wb") as sink:
            worker = subprocess.Popen(
                [*command, "--grace-seconds", "0.2", "--concurrency", "3", "--tasks", "record"],
                cwd=ROOT,
                env={**os.environ, "JOBQUEUE_TEST_LOG": str(tmp_path / "runs.log")},
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while (await queue.get(job.job_id)).status is not JobStatus.PROCESSING:  # type: ignore[union-attr]
                    await asyncio.sleep(0.05)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(STOP_SECONDS) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
        handed_back = await queue.get(job.job_id)

    log = output.read_text()
    assert f"serving {store}: tasks record; concurrency 3, lease 30s" in log
    assert "stopping: draining 1 running jobs for up to 0.2s" in log
    assert "Handing 1 unfinished jobs back to the queue" in log
    assert handed_back is not None
    assert handed_back.status is JobStatus.QUEUED


def test_help_names_the_routing_options() -> None:
    shown = CliRunner().invoke(cli, ["worker", "--help"]).output
    assert "--tasks A,B" in shown
    assert "--exclude-tasks A,B" in shown
