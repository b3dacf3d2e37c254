"""GET /api/jobs/events: one event stream for many jobs (by ids or by tag), on every store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jobqueue import JobQueue
from jobqueue.api import ApiSettings, create_app
from jobqueue.clock import FakeClock
from tests.api.conftest import Jobs, assert_problem, make_queue, serving, submit
from tests.api.test_events import CountingStore, EventReader
from tests.conftest import StoreMaker

ALICE, BOB = "alice-key", "bob-key"
KEYED = ApiSettings(
    api_keys=(ALICE, BOB), secret="a-secret-for-the-tests-only", keepalive_seconds=0.2
)


@pytest.fixture
def queue(clock: FakeClock, store_maker: StoreMaker) -> JobQueue:
    """The API tests' queue, on each backend."""
    return make_queue(clock, store_maker())


@contextlib.asynccontextmanager
async def live_app(queue: JobQueue, settings: ApiSettings) -> AsyncIterator[str]:
    app: FastAPI = create_app(queue, settings)
    async with app.router.lifespan_context(app), serving(app) as url:
        yield url


@pytest.fixture
async def live(queue: JobQueue, settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with live_app(queue, settings) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


class JobSetReader(EventReader):
    """Reads a stream of many jobs: each event's job, and the id the stream gave it."""

    last_id: str | None = None

    async def next_job(self) -> dict[str, Any]:
        while (block := await self.next()) is not None:
            if "data" in block:
                assert block["event"] == "job"
                assert re.fullmatch("[0-9a-f]{16}", block["id"])
                self.last_id = block["id"]
                data: dict[str, Any] = json.loads(block["data"])
                return data
        raise AssertionError("the stream ended")

    async def states(self, count: int) -> dict[str, str]:
        """The statuses of the next *count* events, by job id."""
        return {
            job["jobId"]: job["status"] for job in [await self.next_job() for _ in range(count)]
        }

    async def until(self, job_id: str, status: str) -> set[str]:
        """Read up to the event where *job_id* has *status* (a job's versions may come
        one by one or only the latest); the ids of the jobs seen on the way."""
        job = await self.next_job()
        seen = {job["jobId"]}
        while (job["jobId"], job["status"]) != (job_id, status):
            job = await self.next_job()
            seen.add(job["jobId"])
        return seen

    async def assert_ended(self) -> None:
        while (block := await self.next()) is not None:
            assert "data" not in block, block


@contextlib.asynccontextmanager
async def stream(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: str
) -> AsyncIterator[JobSetReader]:
    async with client.stream("GET", "/api/jobs/events", params=params, headers=headers) as answer:
        assert answer.status_code == 200, await answer.aread()
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["cache-control"] == "no-store"
        yield JobSetReader(answer)


async def test_listed_jobs_stream_their_states_and_changes_then_close(
    live: httpx.AsyncClient, jobs: Jobs
):
    first, second = await submit(live, 1), await submit(live, 2)
    async with stream(live, ids=f"{first},{second}") as events:
        assert await events.states(2) == {first: "queued", second: "queued"}
        await jobs.start(first)
        assert await events.states(1) == {first: "processing"}
        await jobs.complete(second, "two")
        assert await events.until(second, "completed") == {second}
        await jobs.complete(first)
        assert await events.states(1) == {first: "completed"}
        await events.assert_ended()


async def test_finished_jobs_are_sent_once_and_the_stream_closes(
    live: httpx.AsyncClient, jobs: Jobs
):
    failed, running = await submit(live), await submit(live)
    await jobs.fail(failed, "no luck")
    async with stream(live, ids=f"{failed},{running}") as events:
        assert await events.states(2) == {failed: "failed", running: "queued"}
        await jobs.complete(running)
        assert await events.until(running, "completed") == {running}
        await events.assert_ended()


async def test_a_tag_streams_its_jobs_and_the_ones_submitted_later(
    live: httpx.AsyncClient, jobs: Jobs
):
    early = await submit(live, tags=["batch"])
    await submit(live, tags=["other"])
    async with stream(live, tag="batch") as events:
        assert await events.states(1) == {early: "queued"}
        await submit(live, tags=["other"])
        later = await submit(live, tags=["x", "batch"])
        assert await events.states(1) == {later: "queued"}
        await jobs.complete(early)
        assert await events.until(early, "completed") == {early}
        await jobs.fail(later)
        assert await events.until(later, "failed") == {later}
        # The stream stays open: a job of the tag queued again comes back.
        assert (await live.post(f"/api/jobs/{later}/retry")).status_code == 200
        assert await events.states(1) == {later: "queued"}
        assert await events.next() == {"comment": "keep-alive"}


async def test_jobs_of_another_key_are_left_out_like_missing_ones(queue: JobQueue):
    async with (
        live_app(queue, KEYED) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ALICE}"}) as alice,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {BOB}"}) as bob,
    ):
        mine = await submit(alice, tags=["shared"])
        theirs = await submit(bob, tags=["shared"])
        async with stream(alice, ids=f"{theirs},missing,{mine}") as events:
            assert await events.states(1) == {mine: "queued"}
            worker = Jobs(queue)
            await worker.start(mine)
            assert await events.states(1) == {mine: "processing"}
            await worker.complete(theirs)
            await worker.complete(mine)
            assert await events.until(mine, "completed") == {mine}
            await events.assert_ended()
        async with stream(alice, tag="shared") as events:
            assert await events.states(1) == {mine: "completed"}
            await submit(bob, tags=["shared"])
            later = await submit(alice, tags=["shared"])
            assert await events.states(1) == {later: "queued"}
        # Nothing to show at all: the same answer whether hidden or missing.
        for ids in (theirs, "missing"):
            assert (await alice.get("/api/jobs/events", params={"ids": ids})).status_code == 204


async def test_a_tag_token_streams_its_owners_jobs_of_its_tags(queue: JobQueue):
    async with (
        live_app(queue, KEYED) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ALICE}"}) as alice,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {BOB}"}) as bob,
        httpx.AsyncClient(base_url=url) as browser,
    ):
        minted = await alice.post("/api/jobs/tokens", json={"tags": ["gallery"]})
        token = minted.json()["token"]
        mine = await submit(alice, tags=["gallery"])
        untagged = await submit(alice)
        await submit(bob, tags=["gallery"])
        async with stream(browser, tag="gallery", token=token) as events:
            assert await events.states(1) == {mine: "queued"}
            later = await submit(alice, tags=["gallery"])
            assert await events.states(1) == {later: "queued"}
        async with stream(browser, ids=f"{mine},{untagged}", token=token) as events:
            assert await events.states(1) == {mine: "queued"}  # the untagged one is left out


async def test_reconnecting_with_the_last_id_sends_only_what_changed(
    live: httpx.AsyncClient, jobs: Jobs
):
    first, second = await submit(live), await submit(live)
    async with stream(live, ids=f"{first},{second}") as events:
        await events.states(2)
        last = events.last_id
    assert last is not None
    async with stream(live, {"Last-Event-ID": last}, ids=f"{first},{second}") as events:
        opening = await events.next()
        assert opening is not None
        assert "retry" in opening
        assert "data" not in opening
        await jobs.complete(first)
        assert await events.until(first, "completed") == {first}
        last = events.last_id
    # Missed changes (or an unknown id): the current state of every job again.
    await jobs.start(second)
    for resume in (last, "0123456789abcdef", "garbage"):
        assert resume is not None
        async with stream(live, {"Last-Event-ID": resume}, ids=f"{first},{second}") as events:
            assert await events.states(2) == {first: "completed", second: "processing"}


async def test_reconnecting_to_a_finished_stream_is_204(live: httpx.AsyncClient, jobs: Jobs):
    first, second = await submit(live), await submit(live)
    await jobs.complete(first)
    await jobs.complete(second)
    async with stream(live, ids=f"{first},{second}") as events:
        await events.states(2)
        await events.assert_ended()
    headers = {"Last-Event-ID": str(events.last_id)}

    answer = await live.get(
        "/api/jobs/events", params={"ids": f"{first},{second}"}, headers=headers
    )

    assert answer.status_code == 204


async def test_a_tag_stream_resumes_without_resending(live: httpx.AsyncClient):
    tagged = await submit(live, tags=["t"])
    async with stream(live, tag="t") as events:
        await events.states(1)
        last = str(events.last_id)
    async with stream(live, {"Last-Event-ID": last}, tag="t") as events:
        opening = await events.next()
        assert opening is not None
        assert "data" not in opening
        later = await submit(live, tags=["t"])
        assert await events.states(1) == {later: "queued"}
    assert tagged != later


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"ids": "a", "tag": "t"},
        {"ids": ""},
        {"ids": " , "},
        {"ids": ",".join(f"job{n}" for n in range(101))},
        {"ids": "a,,b"},
        {"ids": "a b"},
        {"tag": "not a tag"},
    ],
)
async def test_a_malformed_query_is_400(client: httpx.AsyncClient, params: dict[str, str]):
    assert_problem(await client.get("/api/jobs/events", params=params), 400)


async def test_many_streams_of_the_same_jobs_share_their_store_reads(clock: FakeClock):
    store = CountingStore()
    queue = make_queue(clock, store)
    jobs = Jobs(queue)
    async with (
        live_app(queue, ApiSettings(keepalive_seconds=5)) as url,
        httpx.AsyncClient(base_url=url) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        first, second = await submit(client, tags=["t"]), await submit(client, tags=["t"])
        listed = [stream(client, ids=f"{first},{second}") for _ in range(10)]
        tagged = [stream(client, tag="t") for _ in range(10)]
        readers = [await stack.enter_async_context(opened) for opened in listed + tagged]
        for reader in readers:
            await reader.states(2)
        await asyncio.sleep(0.1)  # every stream is following the feeds now
        before = store.reads
        await jobs.start(first)
        for reader in readers:
            assert await reader.states(1) == {first: "processing"}
        change_reads = store.reads - before - 1  # minus the read `jobs.start` makes itself
        before = store.reads
        later = await submit(client, tags=["t"])
        for reader in readers[len(listed) :]:
            assert await reader.states(1) == {later: "queued"}
        new_job_reads = store.reads - before

    # As for streams of one job: the job's feed reads on the change and as it resumes
    # waiting, the metrics look the task up. The tag's feed reads a new job once.
    assert change_reads <= 3
    assert new_job_reads <= 3


async def test_a_tag_stream_finds_jobs_whose_notification_was_lost(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    queue = make_queue(clock)
    async with (
        live_app(queue, ApiSettings(keepalive_seconds=0.2)) as url,
        httpx.AsyncClient(base_url=url) as client,
        stream(client, tag="t") as events,
    ):
        opening = await events.next()  # the tag has no job yet
        assert opening is not None
        assert "data" not in opening
        with monkeypatch.context() as patch:
            patch.setattr(queue.hub, "dispatch", lambda change: None)
            lost = await submit(client, tags=["t"])
        queue.hub.wake_all()  # what the hub does when its subscription comes back
        assert await events.states(1) == {lost: "queued"}
