"""A thousand browsers opening a job's event stream at the same moment, on one server
process: every one gets its stream and the job's state, and then the job's next change.

On Redis this failed for about a third of them while each request took a connection of
its own from the driver's pool: past its bound a call failed at once, or a burst of
connects timed out together, and the stream was answered 503.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
import pytest

from tests.acceptance.processes import Processes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WATCHERS = 1000
WAIT_SECONDS = 60.0


async def _watch(
    client: httpx.AsyncClient, url: str, connected: asyncio.Event
) -> tuple[int, list[str]]:
    """The stream's status and the statuses of the job it sent, up to the first change
    after *connected* is set."""
    statuses: list[str] = []
    async with client.stream("GET", url) as answer:
        if answer.status_code != 200:
            return answer.status_code, statuses
        async for line in answer.aiter_lines():
            if line.startswith("data:"):
                statuses.append(json.loads(line.removeprefix("data:"))["status"])
                if len(statuses) == 1:
                    connected.set()
                if statuses[-1] != "queued":
                    break
    return answer.status_code, statuses


async def _until_each_has_the_first_state(
    seen: list[asyncio.Event], watchers: list[asyncio.Task[tuple[int, list[str]]]]
) -> None:
    while not all(
        event.is_set() or task.done() for event, task in zip(seen, watchers, strict=True)
    ):
        await asyncio.sleep(0.05)


async def test_a_thousand_watchers_connecting_at_once_all_get_their_stream(
    processes: Processes,
) -> None:
    server = await processes.serve()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=server.base_url, limits=limits, timeout=WAIT_SECONDS
    ) as http:
        submitted = await http.post("/api/jobs", json={"task": "record", "payload": {}})
        events = f"/api/jobs/{submitted.json()['jobId']}/events"
        seen = [asyncio.Event() for _ in range(WATCHERS)]
        watchers = [asyncio.create_task(_watch(http, events, each)) for each in seen]
        async with asyncio.timeout(WAIT_SECONDS):
            await _until_each_has_the_first_state(seen, watchers)
        cancelled = await http.post(f"/api/jobs/{submitted.json()['jobId']}/cancel")
        async with asyncio.timeout(WAIT_SECONDS):
            answers = await asyncio.gather(*watchers)

    assert cancelled.status_code == 200
    assert Counter(status for status, _ in answers) == {200: WATCHERS}
    assert {tuple(statuses) for _, statuses in answers} == {("queued", "cancelled")}
