"""queuePosition and estimatedStartAt: in a waiting job's status (the position with its
ETag) and in its event stream, which reads them again while the job waits."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from jobqueue.api import streams
from jobqueue.clock import FakeClock
from jobqueue.wire import timestamp
from tests.api.conftest import Jobs, submit
from tests.api.test_events import stream


async def test_the_status_says_how_many_jobs_go_first(client: httpx.AsyncClient, jobs: Jobs):
    first, second, third = [await submit(client, {"n": n}) for n in range(3)]
    urgent = (await client.post("/api/jobs", json={"payload": {}, "priority": 5})).json()["jobId"]
    later = (await client.post("/api/jobs", json={"payload": {}, "delaySeconds": 60})).json()

    positions = [
        (await client.get(f"/api/jobs/{job_id}")).json()["queuePosition"]
        for job_id in (urgent, first, second, third, later["jobId"])
    ]
    await jobs.start(urgent)
    running = (await client.get(f"/api/jobs/{urgent}")).json()

    assert positions == [0, 1, 2, 3, None]
    assert later["queuePosition"] is None  # the submit answer does not count
    assert running["queuePosition"] is None
    assert (await client.get(f"/api/jobs/{third}")).json()["queuePosition"] == 2


async def test_the_status_estimates_the_start_from_the_recent_starts(
    client: httpx.AsyncClient, jobs: Jobs, clock: FakeClock
):
    unknown = (await client.get(f"/api/jobs/{await submit(client)}")).json()
    await jobs.complete(unknown["jobId"])
    for _ in range(3):  # four starts in the last minute: one each fifteen seconds
        clock.advance(5)
        await jobs.complete(await submit(client))
    ahead = [await submit(client) for _ in range(2)]
    job = (await client.get(f"/api/jobs/{await submit(client)}")).json()
    first = (await client.get(f"/api/jobs/{ahead[0]}")).json()
    await jobs.start(ahead[0])
    running = (await client.get(f"/api/jobs/{ahead[0]}")).json()

    assert unknown["estimatedStartAt"] is None  # nothing started lately
    assert (job["queuePosition"], first["queuePosition"]) == (2, 0)
    assert job["estimatedStartAt"] == timestamp(clock.now() + timedelta(seconds=45))
    assert first["estimatedStartAt"] == timestamp(clock.now() + timedelta(seconds=15))
    assert running["estimatedStartAt"] is None


async def test_a_move_in_the_queue_changes_the_etag(client: httpx.AsyncClient, jobs: Jobs):
    ahead = await submit(client)
    job_id = await submit(client)
    etag = (await client.get(f"/api/jobs/{job_id}")).headers["etag"]

    same = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})
    await jobs.start(ahead)
    moved = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})

    assert same.status_code == 304
    assert moved.status_code == 200
    assert moved.json()["queuePosition"] == 0
    assert moved.json()["version"] == 1


async def test_a_moved_estimate_changes_the_etag(
    client: httpx.AsyncClient, jobs: Jobs, clock: FakeClock
):
    await jobs.complete(await submit(client))
    job_id = await submit(client)
    etag = (await client.get(f"/api/jobs/{job_id}")).headers["etag"]

    same = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})
    clock.advance(10)  # nothing started meanwhile: the start is ten seconds further
    moved = await client.get(f"/api/jobs/{job_id}", headers={"If-None-Match": etag})

    assert same.status_code == 304
    assert moved.status_code == 200
    assert moved.json()["estimatedStartAt"] == timestamp(clock.now() + timedelta(seconds=60))


async def test_the_stream_sends_a_new_position_while_the_job_waits(
    live: httpx.AsyncClient, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(streams, "POSITION_REFRESH_SECONDS", 0.05)
    ahead = [await submit(live) for _ in range(2)]
    job_id = await submit(live)

    async with stream(live, job_id) as events:
        assert (await events.next_job())["queuePosition"] == 2
        await jobs.start(ahead[0])
        moved = await events.next_job()
        await jobs.start(ahead[1])
        next_in_line = await events.next_job()
        await jobs.start(job_id)
        started = await events.next_job()

    assert (moved["queuePosition"], moved["version"]) == (1, 1)
    assert (next_in_line["queuePosition"], next_in_line["version"]) == (0, 1)
    assert (started["status"], started["queuePosition"]) == ("processing", None)


async def test_the_stream_sends_a_new_estimate_while_the_job_waits(
    live: httpx.AsyncClient, jobs: Jobs, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(streams, "POSITION_REFRESH_SECONDS", 0.05)
    for _ in range(2):  # two starts in the last minute: one each thirty seconds
        await jobs.complete(await submit(live))
    job_id = await submit(live)

    async with stream(live, job_id) as events:
        first = await events.next_job()
        clock.advance(10)  # nothing started meanwhile: the start is ten seconds further
        later = await events.next_job()
        clock.advance(60)  # nothing started in the last minute: no estimate
        unknown = await events.next_job()
        await jobs.start(job_id)
        started = await events.next_job()

    start = clock.now() - timedelta(seconds=70)
    assert first["estimatedStartAt"] == timestamp(start + timedelta(seconds=30))
    assert later["estimatedStartAt"] == timestamp(start + timedelta(seconds=40))
    assert (later["queuePosition"], later["version"]) == (0, 1)
    assert (unknown["estimatedStartAt"], unknown["queuePosition"]) == (None, 0)
    assert (started["status"], started["estimatedStartAt"]) == ("processing", None)
