"""A flood of submits at ten times the rate limit, for 30 s, against two server processes
on one store: the limit holds for the deployment, every answer is 202 or 429, every 202
is a job and no job lacks one, and both servers stay healthy throughout."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter

import httpx
import pytest

from tests.acceptance.processes import Processes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

LIMIT_PER_SECOND = 20
FLOOD_SECONDS = 30.0
PACE_SECONDS = 1 / (10 * LIMIT_PER_SECOND)
"""One submit every 5 ms: ten times the limit."""
IN_FLIGHT = 50


async def _flood(client: httpx.AsyncClient, servers: list[str]) -> tuple[Counter[int], int]:
    """Submit at the pace for `FLOOD_SECONDS`, alternating servers; the answers' statuses
    and how many of those were 202."""
    statuses: Counter[int] = Counter()
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def submit(url: str, n: int) -> None:
        async with slots:
            answer = await client.post(
                f"{url}/api/jobs", json={"task": "record", "payload": {"n": n}}
            )
            statuses[answer.status_code] += 1

    sent: list[asyncio.Task[None]] = []
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < FLOOD_SECONDS:
        n = len(sent)
        sent.append(asyncio.create_task(submit(servers[n % len(servers)], n)))
        await asyncio.sleep(max(0.0, (n + 1) * PACE_SECONDS - elapsed))
    await asyncio.gather(*sent)
    return statuses, len(sent)


async def _watch_health(
    client: httpx.AsyncClient, servers: list[str], done: asyncio.Event
) -> list[int]:
    answers = []
    while not done.is_set():
        for url in servers:
            answers.append((await client.get(f"{url}/healthz")).status_code)
        await asyncio.sleep(0.5)
    return answers


async def _jobs_in_store(client: httpx.AsyncClient, url: str) -> int:
    count, cursor = 0, None
    while True:
        params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{url}/api/jobs", params=params)).json()
        count += len(page["jobs"])
        if not (cursor := page.get("nextCursor")):
            return count


async def test_the_rate_limit_holds_for_the_deployment_under_a_flood(
    processes: Processes, client: httpx.AsyncClient
) -> None:
    limit = {"JOBQUEUE_RATE_LIMIT": f"{LIMIT_PER_SECOND}/second"}
    servers = [(await processes.serve(**limit)).base_url for _ in range(2)]
    done = asyncio.Event()
    health = asyncio.create_task(_watch_health(client, servers, done))

    first_window = math.floor(time.time())
    statuses, sent = await _flood(client, servers)
    windows = math.floor(time.time()) - first_window + 1
    done.set()

    assert set(statuses) <= {202, 429}, statuses
    assert sum(statuses.values()) == sent
    assert 0 < statuses[202] <= LIMIT_PER_SECOND * windows
    assert statuses[429] > statuses[202]  # the flood was refused, not absorbed
    assert await _jobs_in_store(client, servers[0]) == statuses[202]
    assert set(await health) == {200}
