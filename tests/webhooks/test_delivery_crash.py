"""A worker killed in the middle of a delivery: another worker sends the same message
once the lease runs out, and the receiver sees one webhook-id twice (at least once)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import standardwebhooks

from jobqueue import JobQueue
from jobqueue.webhooks.deliveries import deliveries_of, delivery_to_wire
from tests.support.processes import RECORDING_APP, ROOT, stop
from tests.webhooks.receiver import HOLD, receiving

SECRET = "whsec_" + base64.b64encode(b"a crash-test key of 32 bytes....").decode()

pytestmark = pytest.mark.slow


def _worker(store: str, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JOBQUEUE_TEST_LOG": str(tmp_path / "runs.log"),
        "JOBQUEUE_WEBHOOK_SECRET": SECRET,
        "JOBQUEUE_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    }
    command = [sys.executable, "-m", "jobqueue", "worker", RECORDING_APP, "--store", store]
    with (tmp_path / f"{name}.log").open("wb") as sink:
        return subprocess.Popen(
            [*command, "--lease-seconds", "2"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def test_a_delivery_outlives_the_worker_that_was_sending_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    queue = JobQueue(store)
    queue.task(name="record")(lambda payload: None)
    async with queue, receiving(HOLD, 200) as receiver:
        first = _worker(store, tmp_path, "first")
        try:
            job = await queue.submit("record", {}, webhook={"url": receiver.url})
            await receiver.wait_for(1)  # the first worker is sending it now
            first.send_signal(signal.SIGKILL)
            first.wait()
        finally:
            stop(first)
        second = _worker(store, tmp_path, "second")
        try:
            held, resent = await receiver.wait_for(2)
            async with asyncio.timeout(20):
                while (delivery := delivery_to_wire((await deliveries_of(queue, job.job_id))[0]))[
                    "status"
                ] == "pending":
                    await asyncio.sleep(0.05)
        finally:
            stop(second)

    assert held.headers["webhook-id"] == resent.headers["webhook-id"]
    assert held.body == resent.body
    message = standardwebhooks.Webhook(SECRET).verify(resent.body, resent.headers)
    assert (message["type"], message["data"]["jobId"]) == ("job.completed", job.job_id)
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
