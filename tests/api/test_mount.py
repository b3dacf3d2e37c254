"""The router mounted into an existing FastAPI application (the documented example)."""

from __future__ import annotations

from fastapi import FastAPI

from jobqueue.api import ApiSettings, create_router
from tests.api.conftest import assert_problem, client_of, make_queue


def host_app() -> FastAPI:
    """An application of its own, with the job API included under /v1."""
    app = FastAPI(title="shop")

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    app.include_router(create_router(make_queue(), ApiSettings()), prefix="/v1")
    return app


async def test_the_mounted_router_serves_the_job_api():
    async with client_of(host_app()) as client:
        submitted = await client.post("/v1/api/jobs", json={"payload": 1})
        job_id = submitted.json()["jobId"]
        status = await client.get(submitted.headers["location"])
        hello = await client.get("/hello")

    assert submitted.status_code == 202
    assert submitted.headers["location"] == f"/v1/api/jobs/{job_id}"
    assert status.json()["jobId"] == job_id
    assert hello.json() == {"hello": "world"}


async def test_the_mounted_router_keeps_its_problem_errors():
    async with client_of(host_app()) as client:
        assert_problem(await client.get("/v1/api/jobs/missing"), 404, "Job not found")
        assert_problem(await client.post("/v1/api/jobs", json={}), 400, "Payload required")
        assert_problem(await client.get("/v1/api/jobs?limit=0"), 400)


async def test_the_host_openapi_shows_the_job_api():
    async with client_of(host_app()) as client:
        document = (await client.get("/openapi.json")).json()
    post = document["paths"]["/v1/api/jobs"]["post"]
    assert "anyOf" in post["requestBody"]["content"]["application/json"]["schema"]
    assert "/hello" in document["paths"]


async def test_the_service_routes_can_be_mounted_too():
    from jobqueue.api import create_service_router

    queue = make_queue()
    router = create_router(queue, ApiSettings())
    app = FastAPI()
    app.include_router(router)
    app.include_router(create_service_router(queue, router.metrics), prefix="/ops")
    async with client_of(app) as client:
        await client.post("/api/jobs", json={"payload": 1})
        health = await client.get("/ops/healthz")
        metrics = await client.get("/ops/metrics")

    assert health.json() == {"status": "ok"}
    assert 'jobqueue_jobs_submitted_total{task="echo"} 1.0' in metrics.text
