"""The original pattern's client works unchanged against the demo: submit ``{payload}`` to
``/api/jobs/submit``, then poll ``/api/jobs/{jobId}`` every 2 seconds until completed or failed."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.slow

POLL_SECONDS = 2


def test_submit_then_poll_every_two_seconds(demo_server: str) -> None:
    with httpx.Client(base_url=demo_server, timeout=10) as http:
        submitted = http.post("/api/jobs/submit", json={"payload": {"prompt": "an old client"}})
        assert submitted.status_code == 202
        body = submitted.json()
        job_id, status = body["jobId"], body["status"]
        assert status == "queued"
        job = body

        polls = 0
        while status not in {"completed", "failed"}:
            time.sleep(POLL_SECONDS)
            polls += 1
            assert polls < 30, "the job never finished"
            job = http.get(f"/api/jobs/{job_id}").raise_for_status().json()
            status = job["status"]

    assert status == "completed"
    assert job["result"]["image"].startswith("data:image/png;base64,")
    assert job["result"]["prompt"] == "an old client"
