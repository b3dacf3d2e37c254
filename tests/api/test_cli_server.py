"""``jobqueue serve``, ``dev`` and ``demo`` as real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, free_port, wait_healthy

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def jobqueue(
    *args: str, tmp_path: Path, **env: str
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """Run ``jobqueue ARGS --port P`` until it answers /healthz; a client of it, and the process."""
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jobqueue", *args, "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=30)
    try:
        wait_healthy(url, process, tmp_path / "server.log")
        yield client, process
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def test_serve_runs_the_api_without_a_worker(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    with jobqueue("serve", "tests.api.app:queue", "--store", store, tmp_path=tmp_path) as (
        client,
        _,
    ):
        submitted = client.post("/api/jobs", json={"payload": 1}, headers={"Prefer": "wait=1"})
        assert submitted.status_code == 202
        assert submitted.json()["status"] == "queued"  # nobody runs it


def test_dev_runs_a_worker_and_stops_cleanly_with_a_stream_open(tmp_path: Path):
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    args = ("dev", "tests.api.app:queue", "--store", store, "--grace-seconds", "0.2")
    with jobqueue(*args, tmp_path=tmp_path) as (client, process):
        finished = client.post("/api/jobs", json={"payload": 3}, headers={"Prefer": "wait=20"})
        assert finished.status_code == 200
        assert finished.json()["result"] == 3

        long_job = client.post("/api/jobs", json={"payload": 1000}).json()["jobId"]
        with client.stream("GET", f"/api/jobs/{long_job}/events") as events:
            lines = events.iter_lines()
            assert next(lines).startswith("retry:")
            process.send_signal(signal.SIGINT)
            for _ in lines:  # the server ends the stream as it shuts down
                pass
        assert process.wait(30) == 0


def test_demo_generates_an_image(tmp_path: Path):
    with jobqueue(
        "demo", "--store", "memory://", tmp_path=tmp_path, JOBQUEUE_DEMO_STEP_SECONDS="0"
    ) as (client, _):
        document = client.get("/openapi.json").json()
        assert "generate_image" in str(document["paths"]["/api/jobs"]["post"]["requestBody"])
        done = client.post(
            "/api/jobs",
            json={"payload": {"prompt": "a red dragon", "width": 64, "height": 64}},
            headers={"Prefer": "wait=30"},
        )
        assert done.status_code == 200, done.text
        assert done.json()["result"]["image"].startswith("data:image/png;base64,")
