"""POST /api/jobs and POST /api/jobs/submit: the happy paths, idempotency and Prefer: wait."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from jobqueue import JobQueue
from jobqueue.wire import JobOut
from tests.api.conftest import Jobs, assert_problem

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def finish_first_job(queue: JobQueue, jobs: Jobs, result: object = None) -> None:
    """Complete the first job submitted, as soon as there is one (as a worker would)."""
    while not (page := await queue.list()).jobs:
        await asyncio.sleep(0.01)
    await jobs.complete(page.jobs[0].job_id, result)


@pytest.mark.parametrize("path", ["/api/jobs", "/api/jobs/submit"])
async def test_submit_answers_202_with_the_queued_job(client: httpx.AsyncClient, path: str):
    response = await client.post(path, json={"payload": {"n": 1}})

    assert response.status_code == 202
    body = response.json()
    JobOut.model_validate(body)
    assert body["status"] == "queued"
    assert body["task"] == "echo"
    assert body["attempts"] == 0
    assert body["progress"] is None
    assert body["result"] is None
    assert body["error"] is None
    assert TIMESTAMP.match(body["createdAt"])
    assert body["startedAt"] is None
    assert body["completedAt"] is None
    assert body["expiresAt"] is None
    assert response.headers["location"] == f"/api/jobs/{body['jobId']}"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["content-type"] == "application/json"


async def test_submitted_job_is_stored_with_its_options(client: httpx.AsyncClient, queue: JobQueue):
    response = await client.post(
        "/api/jobs",
        json={
            "payload": [1, 2],
            "task": "echo",
            "priority": 5,
            "delaySeconds": 30,
            "timeoutSeconds": 2.5,
            "maxAttempts": 7,
            "ttlSeconds": 60,
        },
    )

    assert response.status_code == 202
    job = await queue.get(response.json()["jobId"])
    assert job is not None
    assert (job.payload, job.priority, job.timeout_seconds) == ([1, 2], 5, 2.5)
    assert (job.max_attempts, job.ttl_seconds) == (7, 60)
    assert (job.run_at - job.created_at).total_seconds() == 30
    assert response.json()["maxAttempts"] == 7
    # A delayed job is worth polling when it becomes due, not before.
    assert response.headers["retry-after"] == "30"


async def test_integer_options_may_be_written_as_integral_floats(
    client: httpx.AsyncClient, queue: JobQueue
):
    response = await client.post(
        "/api/jobs", json={"payload": 1, "priority": 2.0, "maxAttempts": 4.0}
    )
    assert response.status_code == 202
    job = await queue.get(response.json()["jobId"])
    assert job is not None
    assert (job.priority, job.max_attempts) == (2, 4)


async def test_job_ids_are_unguessable_uuids(client: httpx.AsyncClient):
    ids = [(await client.post("/api/jobs", json={"payload": i})).json()["jobId"] for i in range(3)]
    assert len(set(ids)) == 3
    assert all(UUID4.match(job_id) for job_id in ids)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=UTF-8", "application/merge-patch+json"]
)
async def test_json_media_types_with_a_utf8_charset_are_accepted(
    client: httpx.AsyncClient, content_type: str
):
    response = await client.post(
        "/api/jobs", content=b'{"payload": 1}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 202


async def test_a_payload_model_is_validated_at_submit(client: httpx.AsyncClient):
    response = await client.post(
        "/api/jobs", json={"task": "resize", "payload": {"url": "x", "width": 10}}
    )
    assert response.status_code == 202


async def test_idempotent_replay_returns_the_first_job(client: httpx.AsyncClient, queue: JobQueue):
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post("/api/jobs", json={"payload": {"a": 1}}, headers=headers)
    again = await client.post("/api/jobs", json={"payload": {"a": 1}}, headers=headers)

    assert first.status_code == 202
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["jobId"] == first.json()["jobId"]
    assert again.headers["location"] == first.headers["location"]
    assert len((await queue.list()).jobs) == 1


async def test_idempotency_key_with_another_body_is_a_conflict(
    client: httpx.AsyncClient, queue: JobQueue
):
    headers = {"Idempotency-Key": "order-43"}
    await client.post("/api/jobs", json={"payload": {"a": 1}}, headers=headers)
    other = await client.post("/api/jobs", json={"payload": {"a": 2}}, headers=headers)
    options = await client.post(
        "/api/jobs", json={"payload": {"a": 1}, "priority": 3}, headers=headers
    )

    assert_problem(other, 422)
    assert_problem(options, 422)
    assert len((await queue.list()).jobs) == 1


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_idempotency_key_must_be_1_to_255_characters(
    client: httpx.AsyncClient, queue: JobQueue, key: str
):
    response = await client.post("/api/jobs", json={"payload": 1}, headers={"Idempotency-Key": key})
    assert_problem(response, 400)
    assert (await queue.list()).jobs == []


async def test_prefer_wait_answers_200_with_the_finished_job(
    client: httpx.AsyncClient, queue: JobQueue, jobs: Jobs
):
    finisher = asyncio.create_task(finish_first_job(queue, jobs, {"done": True}))
    response = await client.post(
        "/api/jobs", json={"payload": 1}, headers={"Prefer": "respond-async, wait=5"}
    )
    await finisher

    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=5"
    assert response.json()["status"] == "completed"
    assert response.json()["result"] == {"done": True}
    assert "retry-after" not in response.headers
    assert response.headers["location"].endswith(response.json()["jobId"])


async def test_prefer_wait_answers_202_when_the_job_does_not_finish_in_time(
    client: httpx.AsyncClient,
):
    response = await client.post("/api/jobs", json={"payload": 1}, headers={"Prefer": "wait=0"})

    assert response.status_code == 202
    assert "preference-applied" not in response.headers
    assert response.json()["status"] == "queued"


async def test_prefer_wait_is_capped_by_the_settings(
    client: httpx.AsyncClient, queue: JobQueue, jobs: Jobs
):
    finisher = asyncio.create_task(finish_first_job(queue, jobs))
    response = await client.post("/api/jobs", json={"payload": 1}, headers={"Prefer": "wait=600"})
    await finisher

    assert response.status_code == 200
    assert response.headers["preference-applied"] == "wait=5"


@pytest.mark.parametrize("prefer", ["wait", "wait=soon", "wait=-1", "handling=lenient"])
async def test_an_unusable_prefer_header_is_ignored(client: httpx.AsyncClient, prefer: str):
    response = await client.post("/api/jobs", json={"payload": 1}, headers={"Prefer": prefer})
    assert response.status_code == 202


async def test_submit_counts_in_the_metrics(client: httpx.AsyncClient):
    await client.post("/api/jobs", json={"payload": 1})
    metrics = (await client.get("/metrics")).text
    assert 'jobqueue_jobs_submitted_total{task="echo"} 1.0' in metrics


async def test_a_concurrency_key_is_taken_and_checked(client) -> None:
    ok = await client.post("/api/jobs", json={"payload": 1, "concurrencyKey": "customer-7"})
    assert ok.status_code == 202

    for bad in ("", "k" * 201, 7):
        refused = await client.post("/api/jobs", json={"payload": 1, "concurrencyKey": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["errors"][0]["field"] == "concurrencyKey"
