"""POST /api/jobs/{jobId}/cancel and /retry."""

from __future__ import annotations

import httpx

from jobqueue import JobQueue
from tests.api.conftest import Jobs, assert_problem, submit


async def test_cancelling_a_queued_job_is_immediate(client: httpx.AsyncClient):
    job_id = await submit(client)

    response = await client.post(f"/api/jobs/{job_id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert "retry-after" not in response.headers


async def test_cancelling_a_running_job_asks_the_worker_to_stop(
    client: httpx.AsyncClient, jobs: Jobs, queue: JobQueue
):
    job_id = await submit(client)
    await jobs.start(job_id)

    first = await client.post(f"/api/jobs/{job_id}/cancel")
    again = await client.post(f"/api/jobs/{job_id}/cancel")

    assert first.status_code == again.status_code == 202
    assert first.json()["status"] == "processing"
    assert first.json()["cancelRequested"] is True
    assert first.headers["retry-after"] == "1"
    job = await queue.get(job_id)
    assert job is not None
    assert job.is_cancel_requested


async def test_cancelling_a_finished_job_is_409_with_the_job(client: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(client)
    await jobs.complete(job_id, "done")

    response = await client.post(f"/api/jobs/{job_id}/cancel")

    assert_problem(response, 409)
    assert response.json()["job"]["status"] == "completed"
    assert response.json()["job"]["jobId"] == job_id


async def test_retrying_a_failed_job_queues_it_again(client: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(client, maxAttempts=1)
    failed = await jobs.fail(job_id)

    response = await client.post(f"/api/jobs/{job_id}/retry")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "queued"
    assert body["version"] > failed.version
    assert body["completedAt"] is None


async def test_retrying_a_cancelled_job_queues_it_again(client: httpx.AsyncClient):
    job_id = await submit(client)
    await client.post(f"/api/jobs/{job_id}/cancel")

    response = await client.post(f"/api/jobs/{job_id}/retry")

    assert response.status_code == 200
    assert response.json()["status"] == "queued"


async def test_retrying_a_job_that_did_not_fail_is_409_with_the_job(
    client: httpx.AsyncClient, jobs: Jobs
):
    queued = await submit(client)
    completed = await submit(client)
    await jobs.complete(completed)

    for job_id, status in ((queued, "queued"), (completed, "completed")):
        response = await client.post(f"/api/jobs/{job_id}/retry")
        assert_problem(response, 409)
        assert response.json()["job"]["status"] == status
