"""The HTTP calls the acceptance tests make, as a client of API.md would make them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

TASK = "record"
POLL_SECONDS = 0.2


async def submit(client: httpx.AsyncClient, base_url: str, payload: dict[str, Any]) -> str:
    """Submit one job of the app's task; it must be accepted. Returns its id."""
    answer = await client.post(f"{base_url}/api/jobs", json={"task": TASK, "payload": payload})
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["jobId"]
    return job_id


async def submit_many(
    client: httpx.AsyncClient,
    base_urls: list[str],
    count: int,
    payload: dict[str, Any],
    *,
    concurrency: int,
) -> list[str]:
    """Submit *count* jobs, *concurrency* at a time, spread evenly over the servers."""
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        async with gate:
            return await submit(client, base_urls[n % len(base_urls)], payload)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def wait_until_completed(
    client: httpx.AsyncClient, base_url: str, count: int, timeout: float
) -> None:
    """Return once *count* jobs are ``completed`` (``GET /api/jobs/stats``); a failed job
    ends the wait at once. A 503 or a refused connection means "not yet": the store or the
    server is recovering.
    """
    async with asyncio.timeout(timeout):
        while True:
            try:
                answer = await client.get(f"{base_url}/api/jobs/stats")
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code != 503:
                assert answer.status_code == 200, answer.text
                counts = answer.json()["totals"]
                assert counts["failed"] == 0, counts
                if counts["completed"] >= count:
                    return
            await asyncio.sleep(POLL_SECONDS)


async def all_jobs(client: httpx.AsyncClient, base_url: str) -> dict[str, dict[str, Any]]:
    """Every job of the app's task by id, read page by page (``GET /api/jobs``)."""
    jobs: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"task": TASK, "limit": 500}
        if cursor is not None:
            params["cursor"] = cursor
        answer = await client.get(f"{base_url}/api/jobs", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        jobs.update((job["jobId"], job) for job in page["jobs"])
        cursor = page["nextCursor"]
        if cursor is None:
            return jobs
