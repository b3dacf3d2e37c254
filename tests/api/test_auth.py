"""API keys: 401 without one, a job visible only to its key (else 404), admin-only listing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from jobqueue import JobQueue
from jobqueue.api import ApiSettings, create_app
from jobqueue.api.auth import key_owner
from tests.api.conftest import assert_problem

ALICE, BOB, ADMIN = "alice-key", "bob-key", "admin-key"
SECRET = "a-secret-for-the-tests-only"


@pytest.fixture
async def secured(queue: JobQueue) -> AsyncIterator[FastAPI]:
    settings = ApiSettings(api_keys=(ALICE, BOB), admin_api_keys=(ADMIN,), secret=SECRET)
    app = create_app(queue, settings)
    async with app.router.lifespan_context(app):
        yield app


def as_key(app: FastAPI, key: str | None) -> httpx.AsyncClient:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def test_requests_without_a_valid_key_are_401(secured: FastAPI):
    async with as_key(secured, None) as anonymous, as_key(secured, "wrong") as stranger:
        for client in (anonymous, stranger):
            response = await client.post("/api/jobs", json={"payload": 1})
            assert_problem(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
            assert_problem(await client.get("/api/jobs/any"), 401)
        basic = await anonymous.get("/api/jobs/any", headers={"Authorization": "Basic eDp5"})
        assert_problem(basic, 401)


async def test_a_job_is_visible_only_to_the_key_that_submitted_it(
    secured: FastAPI, queue: JobQueue
):
    async with as_key(secured, ALICE) as alice, as_key(secured, BOB) as bob:
        job_id = (await alice.post("/api/jobs", json={"payload": 1})).json()["jobId"]

        assert (await alice.get(f"/api/jobs/{job_id}")).status_code == 200
        assert_problem(await bob.get(f"/api/jobs/{job_id}"), 404, "Job not found")
        assert_problem(await bob.get(f"/api/jobs/{job_id}/events"), 404)
        assert_problem(await bob.post(f"/api/jobs/{job_id}/cancel"), 404)
        assert_problem(await bob.post(f"/api/jobs/{job_id}/retry"), 404)
        assert (await alice.post(f"/api/jobs/{job_id}/cancel")).status_code == 200

    job = await queue.get(job_id)
    assert job is not None
    assert job.owner == key_owner(ALICE)
    assert ALICE not in job.owner  # the key itself is never stored


async def test_only_admin_keys_list_jobs_and_read_stats(secured: FastAPI):
    async with as_key(secured, ALICE) as alice, as_key(secured, ADMIN) as admin:
        job_id = (await alice.post("/api/jobs", json={"payload": 1})).json()["jobId"]

        assert_problem(await alice.get("/api/jobs"), 403)
        assert_problem(await alice.get("/api/jobs/stats"), 403)
        listed = await admin.get("/api/jobs")
        assert [job["jobId"] for job in listed.json()["jobs"]] == [job_id]
        assert (await admin.get("/api/jobs/stats")).status_code == 200
        assert (await admin.get(f"/api/jobs/{job_id}")).status_code == 200


async def test_idempotency_keys_are_per_api_key(secured: FastAPI):
    async with as_key(secured, ALICE) as alice, as_key(secured, BOB) as bob:
        headers = {"Idempotency-Key": "same"}
        first = await alice.post("/api/jobs", json={"payload": 1}, headers=headers)
        other = await bob.post("/api/jobs", json={"payload": 2}, headers=headers)
        replay = await alice.post("/api/jobs", json={"payload": 1}, headers=headers)

    assert first.status_code == 202
    assert other.status_code == 202  # Bob's own job: he learns nothing of Alice's key
    assert other.json()["jobId"] != first.json()["jobId"]
    assert replay.status_code == 200
    assert replay.json()["jobId"] == first.json()["jobId"]


async def test_healthz_stays_open(secured: FastAPI):
    async with as_key(secured, None) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200


async def test_openapi_declares_the_bearer_scheme(secured: FastAPI):
    async with as_key(secured, None) as anonymous:
        document = (await anonymous.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "401" in document["paths"]["/api/jobs"]["post"]["responses"]


async def test_only_admin_keys_read_the_metrics(secured: FastAPI, app: FastAPI):
    async with (
        as_key(secured, None) as anonymous,
        as_key(secured, ALICE) as alice,
        as_key(secured, ADMIN) as admin,
        as_key(app, None) as open_service,
    ):
        assert_problem(await anonymous.get("/metrics"), 401)
        assert_problem(await alice.get("/metrics"), 403, "Only admin API keys may read the metrics")
        assert (await admin.get("/metrics")).status_code == 200
        assert (await anonymous.get("/healthz")).status_code == 200
        assert (await open_service.get("/metrics")).status_code == 200
