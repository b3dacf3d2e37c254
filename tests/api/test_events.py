"""GET /api/jobs/{jobId}/events: Server-Sent Events over a real uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api import ApiSettings, create_app
from jobqueue.clock import FakeClock
from jobqueue.models import Job
from jobqueue.stores.memory import MemoryStore
from tests.api.conftest import Jobs, assert_problem, make_queue, serving, submit


class EventReader:
    """Reads an event stream block by block (comments are blocks too)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> dict[str, str] | None:
        """The next block as {field: value}, or None when the stream has ended."""
        block: dict[str, str] = {}
        async with asyncio.timeout(5):
            async for line in self._lines:
                if not line:
                    if block:
                        return block
                    continue
                field, _, value = line.partition(":")
                block[field or "comment"] = value.removeprefix(" ")
        return block or None

    async def next_job(self) -> dict[str, object]:
        """The next job event's data (skipping comments)."""
        while (block := await self.next()) is not None:
            if "data" in block:
                assert block["event"] == "job"
                data: dict[str, object] = json.loads(block["data"])
                assert block["id"] == str(data["version"])
                return data
        raise AssertionError("the stream ended")


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, job_id: str, **headers: str
) -> AsyncIterator[EventReader]:
    """The open event stream of *job_id*, after checking its status and headers."""
    async with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        yield EventReader(response)


async def test_the_stream_sends_the_state_then_every_change_then_closes(
    live: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(live, {"n": 1})
    async with stream(live, job_id) as events:
        first = await events.next()
        assert first is not None
        assert first["retry"].isdigit()
        assert json.loads(first["data"])["status"] == "queued"

        await jobs.start(job_id)
        assert (await events.next_job())["status"] == "processing"
        await jobs.progress(job_id, 3, 10)
        assert (await events.next_job())["progress"] == {"current": 3, "total": 10, "message": None}
        await jobs.complete(job_id, {"answer": 42})
        done = await events.next_job()
        assert done["status"] == "completed"
        assert done["result"] == {"answer": 42}
        assert await events.next() is None


async def test_the_retry_field_is_only_in_the_first_event(live: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(live)
    async with stream(live, job_id) as events:
        assert "retry" in (await events.next() or {})
        await jobs.start(job_id)
        second = await events.next()
        while second is not None and "data" not in second:
            second = await events.next()
        assert second is not None
        assert "retry" not in second


async def test_an_idle_stream_sends_keep_alive_comments(live: httpx.AsyncClient):
    job_id = await submit(live)
    async with stream(live, job_id) as events:
        await events.next()
        assert await events.next() == {"comment": "keep-alive"}
        assert await events.next() == {"comment": "keep-alive"}


async def test_a_terminal_job_streams_one_event_and_closes(live: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(live)
    await jobs.fail(job_id, "no luck")
    async with stream(live, job_id) as events:
        only = await events.next_job()
        assert only["status"] == "failed"
        assert only["error"] == "no luck"
        assert await events.next() is None


async def test_reconnecting_with_an_older_id_gets_the_current_state_at_once(
    live: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(live)
    await jobs.start(job_id)
    async with stream(live, job_id, **{"Last-Event-ID": "1"}) as events:
        current = await events.next_job()
        assert current["status"] == "processing"


async def test_reconnecting_with_the_current_id_waits_for_the_next_change(
    live: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(live)
    started = await jobs.start(job_id)
    async with stream(live, job_id, **{"Last-Event-ID": str(started.version)}) as events:
        first = await events.next()
        assert first is not None
        assert "retry" in first
        assert "data" not in first
        await jobs.progress(job_id, 1)
        assert (await events.next_job())["version"] == started.version + 1


async def test_reconnecting_to_a_finished_stream_is_204(live: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(live)
    done = await jobs.complete(job_id)

    response = await live.get(
        f"/api/jobs/{job_id}/events", headers={"Last-Event-ID": str(done.version)}
    )

    assert response.status_code == 204


@pytest.mark.parametrize("last_event_id", ["", "abc", "-3"])
async def test_a_foreign_last_event_id_is_ignored(
    live: httpx.AsyncClient, jobs: Jobs, last_event_id: str
):
    job_id = await submit(live)
    await jobs.complete(job_id)
    async with stream(live, job_id, **{"Last-Event-ID": last_event_id}) as events:
        assert (await events.next_job())["status"] == "completed"


async def test_an_unknown_job_is_404_json_not_a_stream(live: httpx.AsyncClient):
    assert_problem(await live.get("/api/jobs/missing/events"), 404, "Job not found")


async def test_many_quick_progress_reports_end_with_the_latest(live: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(live)
    await jobs.start(job_id)
    async with stream(live, job_id) as events:
        await events.next_job()
        for current in range(1, 101):
            await jobs.progress(job_id, current, 100)
        seen = [await events.next_job()]
        while seen[-1]["progress"] != {"current": 100, "total": 100, "message": None}:
            seen.append(await events.next_job())
        versions = [int(str(event["version"])) for event in seen]
        assert versions == sorted(versions)


async def test_every_subscriber_gets_the_change(live: httpx.AsyncClient, jobs: Jobs):
    job_id = await submit(live)

    async def follow() -> str:
        async with stream(live, job_id) as events:
            status = (await events.next_job())["status"]
            while status != "completed":
                status = (await events.next_job())["status"]
            assert await events.next() is None
            return str(status)

    followers = [asyncio.create_task(follow()) for _ in range(50)]
    await asyncio.sleep(0.2)  # most have subscribed; a late one gets the final state at once
    await jobs.complete(job_id)

    assert await asyncio.gather(*followers) == ["completed"] * 50


class CountingStore(MemoryStore):
    """A memory store that counts reads of single jobs."""

    reads = 0

    async def get(self, job_id: str, now: datetime) -> Job | None:
        self.reads += 1
        return await super().get(job_id, now)


async def test_streams_of_one_job_share_one_store_read_per_change(clock: FakeClock):
    store = CountingStore()
    queue = make_queue(clock, store)
    jobs = Jobs(queue)
    app = create_app(queue, ApiSettings(keepalive_seconds=5))
    async with (
        app.router.lifespan_context(app),
        serving(app) as url,
        httpx.AsyncClient(base_url=url) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        job_id = await submit(client)
        readers = [await stack.enter_async_context(stream(client, job_id)) for _ in range(20)]
        for reader in readers:
            await reader.next_job()
        await asyncio.sleep(0.1)  # every stream is following the feed now
        before = store.reads
        await jobs.start(job_id)
        for reader in readers:
            assert (await reader.next_job())["status"] == "processing"
        reads = store.reads - before - 1  # minus the read `jobs.start` makes itself

    # The feed reads on the change and again as it resumes waiting; the metrics look the
    # job's task up once. Not one read per stream.
    assert reads <= 3


async def test_closing_the_router_ends_open_streams(live: httpx.AsyncClient, app: FastAPI):
    job_id = await submit(live)
    async with stream(live, job_id) as events:
        await events.next_job()
        app.state.jobqueue.close_streams()
        block = await events.next()
        while block is not None:
            block = await events.next()
