"""GET /api/jobs (list with filters and cursors) and GET /api/jobs/stats."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from jobqueue.clock import FakeClock
from jobqueue.stores.codec import encode_cursor
from jobqueue.wire import JobPage, StatsOut
from tests.api.conftest import Jobs, assert_problem, submit


async def submit_spaced(client: httpx.AsyncClient, clock: FakeClock, count: int) -> list[str]:
    """Submit *count* echo jobs a second apart; their ids, oldest first."""
    ids = []
    for n in range(count):
        clock.advance(1)
        ids.append(await submit(client, n))
    return ids


async def test_list_is_newest_first(client: httpx.AsyncClient, clock: FakeClock):
    ids = await submit_spaced(client, clock, 3)

    response = await client.get("/api/jobs")

    assert response.status_code == 200
    JobPage.model_validate(response.json())
    assert [job["jobId"] for job in response.json()["jobs"]] == ids[::-1]
    assert response.json()["nextCursor"] is None
    assert response.headers["cache-control"] == "no-cache"  # revalidated by its ETag


async def test_list_pages_with_the_cursor(client: httpx.AsyncClient, clock: FakeClock):
    ids = await submit_spaced(client, clock, 5)

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/jobs", params=params)).json()
        assert len(page["jobs"]) <= 2
        seen += [job["jobId"] for job in page["jobs"]]
        if (cursor := page["nextCursor"]) is None:
            break
        await submit(client, "newer")  # pages stay stable while newer jobs arrive

    assert seen == ids[::-1]


async def test_list_filters_by_repeated_status_and_task(
    client: httpx.AsyncClient, clock: FakeClock, jobs: Jobs
):
    queued, done, failed = await submit_spaced(client, clock, 3)
    await jobs.complete(done)
    await jobs.fail(failed)
    resized = await submit(client, {"url": "u", "width": 1}, task="resize")

    async def listed(query: str) -> set[str]:
        return {job["jobId"] for job in (await client.get(f"/api/jobs?{query}")).json()["jobs"]}

    assert await listed("status=completed&status=failed") == {done, failed}
    assert await listed("task=resize") == {resized}
    assert await listed("task=echo&status=queued") == {queued}
    assert await listed("task=echo&task=resize&status=queued") == {queued, resized}


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=501",
        "limit=ten",
        "status=done",
        "cursor=",
        "cursor=garbage",
        "cursor=0",
        "cursor=1_not-a-job-id",
        "cursor=" + "x" * 1001,
    ],
)
async def test_bad_list_parameters_are_400(client: httpx.AsyncClient, query: str):
    assert_problem(await client.get(f"/api/jobs?{query}"), 400)


async def test_issued_cursors_have_the_declared_form(client: httpx.AsyncClient, clock: FakeClock):
    await submit_spaced(client, clock, 2)
    document = (await client.get("/openapi.json")).json()
    parameters = document["paths"]["/api/jobs"]["get"]["parameters"]
    pattern = next(p["schema"] for p in parameters if p["name"] == "cursor")["anyOf"][0]["pattern"]

    cursor = (await client.get("/api/jobs?limit=1")).json()["nextCursor"]

    assert re.fullmatch(pattern, cursor)


async def test_a_cursor_where_no_job_is_starts_the_page_there(
    client: httpx.AsyncClient, clock: FakeClock
):
    older, newer = await submit_spaced(client, clock, 2)
    created = (await client.get(f"/api/jobs/{newer}")).json()["createdAt"]
    between = datetime.fromisoformat(created) - timedelta(milliseconds=500)
    cursor = encode_cursor(between, str(uuid.uuid4()))

    response = await client.get("/api/jobs", params={"cursor": cursor})

    assert response.status_code == 200
    assert [job["jobId"] for job in response.json()["jobs"]] == [older]


async def test_stats_count_per_task_and_status(
    client: httpx.AsyncClient, clock: FakeClock, jobs: Jobs
):
    _, done, failed = await submit_spaced(client, clock, 3)
    await jobs.complete(done)
    await jobs.fail(failed)

    response = await client.get("/api/jobs/stats")

    assert response.status_code == 200
    body = response.json()
    StatsOut.model_validate(body)
    zero = {"queued": 0, "processing": 0, "completed": 0, "failed": 0, "cancelled": 0}
    assert body["tasks"]["echo"] == zero | {"queued": 1, "completed": 1, "failed": 1}
    assert body["tasks"]["resize"] == zero  # registered tasks show even without jobs
    assert body["totals"] == body["tasks"]["echo"]
    assert body["workers"] == []
