"""The dashboard shows each task's limits, the workers' tasks and the keys at their limit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.processes import RECORDING_APP, ROOT, free_port, stop, wait_healthy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def recording_server(workdir: Path) -> Iterator[str]:
    """``jobqueue dev`` (server and worker) on the recording app, whose tasks set limits."""
    port = free_port()
    log = workdir / "server.log"
    command = [sys.executable, "-m", "jobqueue", "dev", RECORDING_APP, "--port", str(port)]
    environ = {**os.environ, "JOBQUEUE_TEST_LOG": str(workdir / "runs.log")}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--store", f"sqlite:///{workdir / 'x.db'}", "--log-level", "warning"],
            cwd=ROOT,
            env=environ,
            stdout=output,
            stderr=output,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield url
    finally:
        stop(process)


def test_limits_workers_tasks_and_keys_at_their_limit(browser: Browser, tmp_path: Path) -> None:
    with recording_server(tmp_path) as url, httpx.Client(base_url=url, timeout=30) as api:
        body = {"task": "record_keyed", "payload": {"sleep": 60}, "concurrencyKey": "customer-7"}
        held = [api.post("/api/jobs", json=body).json()["jobId"] for _ in range(2)]
        context = browser.new_context(base_url=url)
        page = context.new_page()
        try:
            page.goto("/dashboard")

            keys = page.locator("#busy-keys")
            expect(keys).to_contain_text("customer-7")
            expect(keys).to_contain_text("record_keyed: 1 of 1 running")
            tasks = page.locator("#task-rows")
            expect(tasks.locator("tr", has_text="record_global")).to_contain_text("in all 2")
            expect(tasks.locator("tr", has_text="record_keyed")).to_contain_text("per key 1")
            expect(page.locator("#workers")).to_contain_text(
                "serves jobqueue.webhook, record, record_global, record_keyed"
            )
        finally:
            context.close()
            for job_id in held:
                api.post(f"/api/jobs/{job_id}/cancel")
