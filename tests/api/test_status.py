"""GET /api/jobs/{jobId}: the representation, caching headers, 304, 404 and the long poll."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.clock import FakeClock
from jobqueue.wire import JobOut
from tests.api.conftest import Jobs, assert_problem, submit


async def test_status_has_the_job_and_its_caching_headers(client: httpx.AsyncClient):
    job_id = await submit(client, {"x": 1})

    response = await client.get(f"/api/jobs/{job_id}")

    assert response.status_code == 200
    JobOut.model_validate(response.json())
    assert response.json()["jobId"] == job_id
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["etag"]
    assert response.headers["retry-after"] == "1"


async def test_the_etag_changes_exactly_when_the_version_does(
    client: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(client)
    first = await client.get(f"/api/jobs/{job_id}")
    same = await client.get(f"/api/jobs/{job_id}")
    await jobs.start(job_id)
    changed = await client.get(f"/api/jobs/{job_id}")

    assert first.headers["etag"] == same.headers["etag"]
    assert changed.headers["etag"] != first.headers["etag"]
    assert changed.json()["version"] > first.json()["version"]


async def test_if_none_match_answers_304_until_the_job_changes(
    client: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(client)
    etag = (await client.get(f"/api/jobs/{job_id}")).headers["etag"]

    cached = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})
    listed = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": f'"other", {etag}'})
    await jobs.start(job_id)
    changed = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})

    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert cached.headers["cache-control"] == "no-store"
    assert listed.status_code == 304
    assert changed.status_code == 200


async def test_a_terminal_job_has_no_retry_after_and_an_expiry(
    client: httpx.AsyncClient, jobs: Jobs, clock: FakeClock
):
    job_id = await submit(client, ttlSeconds=60)
    await jobs.complete(job_id, {"ok": True})

    response = await client.get(f"/api/jobs/{job_id}")

    body = response.json()
    assert body["status"] == "completed"
    assert body["result"] == {"ok": True}
    assert body["completedAt"] is not None
    assert body["startedAt"] is not None
    assert body["expiresAt"] == "2026-01-01T00:01:00.000Z"
    assert "retry-after" not in response.headers


async def test_an_expired_job_is_404(client: httpx.AsyncClient, jobs: Jobs, clock: FakeClock):
    job_id = await submit(client, ttlSeconds=60)
    await jobs.complete(job_id)
    clock.advance(61)

    assert_problem(await client.get(f"/api/jobs/{job_id}"), 404, "Job not found")


@pytest.mark.parametrize(
    "job_id",
    ["nope", "00000000-0000-4000-8000-000000000000", "%20", "x" * 200, "%E2%9C%93"],
)
async def test_unknown_ids_are_404_problems(client: httpx.AsyncClient, job_id: str):
    assert_problem(await client.get(f"/api/jobs/{job_id}"), 404, "Job not found")
    assert_problem(await client.post(f"/api/jobs/{job_id}/cancel"), 404)
    assert_problem(await client.post(f"/api/jobs/{job_id}/retry"), 404)
    assert_problem(await client.get(f"/api/jobs/{job_id}/events"), 404)


async def test_an_overlong_id_is_a_400_problem(client: httpx.AsyncClient):
    assert_problem(await client.get(f"/api/jobs/{'x' * 201}"), 400)


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient):
    assert_problem(await client.get("/api/nothing"), 404)
    response = await client.delete("/api/jobs/abc")
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET"
    both = await client.put("/api/jobs")
    assert_problem(both, 405)
    assert both.headers["allow"] == "GET, POST"  # from two routes
    # A literal path is its own resource: no job is called "submit".
    assert (await client.put("/api/jobs/submit")).headers["allow"] == "POST"


async def test_long_poll_answers_when_the_job_changes(client: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(client)

    async def start_soon() -> None:
        await asyncio.sleep(0.05)
        await jobs.start(job_id)

    starter = asyncio.create_task(start_soon())
    response = await client.get(f"/api/jobs/{job_id}", params={"wait": 5})
    await starter

    assert response.status_code == 200
    assert response.json()["status"] == "processing"


async def test_long_poll_with_since_answers_at_once_when_newer(
    client: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(client)
    await jobs.start(job_id)

    async with asyncio.timeout(2):  # far below the wait: it must not hold the request
        response = await client.get(f"/api/jobs/{job_id}", params={"wait": 30, "since": 1})

    assert response.json()["version"] > 1


async def test_long_poll_gives_up_after_the_wait(client: httpx.AsyncClient):
    job_id = await submit(client)
    etag = (await client.get(f"/api/jobs/{job_id}")).headers["etag"]

    plain = await client.get(f"/api/jobs/{job_id}", params={"wait": 0.1})
    cached = await client.get(
        f"/api/jobs/{job_id}", params={"wait": 0.1}, headers={"If-None-Match": etag}
    )

    assert plain.status_code == 200
    assert plain.json()["version"] == 1
    assert cached.status_code == 304


async def test_long_poll_on_a_terminal_job_answers_at_once(client: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(client)
    await jobs.fail(job_id, "broken")

    async with asyncio.timeout(2):
        response = await client.get(f"/api/jobs/{job_id}", params={"wait": 30, "since": 99})

    assert response.json()["status"] == "failed"
    assert response.json()["error"] == "broken"


async def test_long_poll_after_the_streams_close_answers_at_once(
    app: FastAPI, client: httpx.AsyncClient
):
    job_id = await submit(client)
    app.state.jobqueue.close_streams()  # as the server does when it begins to shut down

    response = await client.get(f"/api/jobs/{job_id}", params={"wait": 30})

    assert response.status_code == 200
    assert response.json()["version"] == 1


@pytest.mark.parametrize(
    "params", [{"wait": -1}, {"wait": 61}, {"wait": "soon"}, {"since": -1}, {"since": "x"}]
)
async def test_bad_long_poll_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str | int]
):
    job_id = await submit(client)
    assert_problem(await client.get(f"/api/jobs/{job_id}", params=params), 400)


async def test_long_poll_over_a_real_server(live: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(live)

    async def soon(change: Awaitable[object]) -> None:
        await asyncio.sleep(0.1)
        await change

    starter = asyncio.create_task(soon(jobs.start(job_id)))
    started = await live.get(f"/api/jobs/{job_id}", params={"wait": 5})
    await starter
    reporter = asyncio.create_task(soon(jobs.progress(job_id, 1, 10)))
    progressed = await live.get(
        f"/api/jobs/{job_id}", params={"wait": 5, "since": started.json()["version"]}
    )
    await reporter

    assert started.json()["status"] == "processing"
    assert progressed.json()["progress"] == {"current": 1, "total": 10, "message": None}


async def test_run_at_says_when_a_waiting_job_may_start(
    client: httpx.AsyncClient, jobs: Jobs, clock: FakeClock
):
    delayed = await submit(client, delaySeconds=90)
    body = (await client.get(f"/api/jobs/{delayed}")).json()
    created = datetime.fromisoformat(body["createdAt"])
    assert datetime.fromisoformat(body["runAt"]) == created + timedelta(seconds=90)

    clock.advance(90)
    await jobs.start(delayed)
    assert (await client.get(f"/api/jobs/{delayed}")).json()["runAt"] is None

    backing_off = await submit(client, maxAttempts=2)
    await jobs.start(backing_off)
    retry_at = jobs.now + timedelta(seconds=42)
    await jobs.queue.store.fail(jobs.leases.pop(backing_off), "boom", retry_at, jobs.now)
    body = (await client.get(f"/api/jobs/{backing_off}")).json()
    assert body["status"] == "queued"
    assert datetime.fromisoformat(body["runAt"]) == retry_at


async def test_parameters_read_by_hand_are_refused_as_fastapi_would(client: httpx.AsyncClient):
    """The status and submit routes read their parameters without FastAPI's solver
    (`jobqueue.api.by_hand`); a bad one still gets the 400 naming it."""
    cases = [
        (await client.get("/api/jobs/any?wait=61"), "query.wait"),
        (await client.get("/api/jobs/any?since=-1"), "query.since"),
        (await client.get("/api/jobs/any?wait=soon"), "query.wait"),
        (await client.get("/api/jobs/" + "x" * 201), "path.jobId"),
        (
            await client.post(
                "/api/jobs", json={"payload": 1}, headers={"Idempotency-Key": "k" * 256}
            ),
            "header.Idempotency-Key",
        ),
    ]
    for response, field in cases:
        assert_problem(response, 400)
        assert [error["field"] for error in response.json()["errors"]] == [field]
