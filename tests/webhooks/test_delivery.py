"""Deliveries end to end: a real worker POSTs to a real receiver on 127.0.0.1, retrying
until it answers 2xx; the API lists the deliveries and sends one again."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import standardwebhooks
from fastapi import FastAPI

from jobqueue import Backoff, Fail, JobQueue
from jobqueue.api import create_app
from jobqueue.webhooks import DeliverySchedule, delivery
from jobqueue.worker import Worker
from tests.webhooks.receiver import HOLD, Received, receiving

SECRET = "whsec_" + base64.b64encode(b"the receiver's key, 32 bytes....").decode()
QUICK = DeliverySchedule(Backoff(base_seconds=0.01, cap_seconds=0.05, jitter=0.0), 4)


@pytest.fixture(autouse=True)
def _webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")


def _queue(url: str, schedule: DeliverySchedule) -> JobQueue:
    q = JobQueue(url, webhook_schedule=schedule)

    @q.task
    async def echo(payload: Any) -> Any:
        return payload

    @q.task(max_attempts=1)
    async def broken(payload: Any) -> None:
        raise Fail("broken on purpose")

    return q


@pytest.fixture(params=["memory://", "sqlite"])
async def queue(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[JobQueue]:
    url = request.param if request.param != "sqlite" else f"sqlite:///{tmp_path / 'jobs.db'}"
    async with _queue(url, QUICK) as q:
        yield q


@pytest.fixture
async def api(queue: JobQueue) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(queue)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture
async def worker(queue: JobQueue) -> AsyncIterator[Worker]:
    running = Worker(queue, concurrency=4)
    task = asyncio.create_task(running.run())
    yield running
    running.stop()
    await asyncio.wait_for(task, 15)


def _verified(request: Received) -> Any:
    return standardwebhooks.Webhook(SECRET).verify(request.body, request.headers)


async def _submit(api: httpx.AsyncClient, task: str, webhook: dict[str, Any]) -> str:
    response = await api.post("/api/jobs", json={"task": task, "payload": 1, "webhook": webhook})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


async def _deliveries(api: httpx.AsyncClient, job_id: str) -> list[dict[str, Any]]:
    deliveries: list[dict[str, Any]] = (await api.get(f"/api/jobs/{job_id}/deliveries")).json()[
        "deliveries"
    ]
    return deliveries


async def _settled(
    api: httpx.AsyncClient, queue: JobQueue, job_id: str, count: int = 1
) -> list[dict[str, Any]]:
    """The job's deliveries once there are *count* and none is pending any more (each is
    created right after its event, so it may come a moment after the job's change)."""
    await queue.wait(job_id, timeout=20)
    async with asyncio.timeout(20):
        while True:
            deliveries = await _deliveries(api, job_id)
            if len(deliveries) >= count and all(d["status"] != "pending" for d in deliveries):
                return list(deliveries)
            await asyncio.sleep(0.02)


@pytest.mark.usefixtures("worker")
async def test_a_failing_receiver_gets_the_message_again_until_it_answers_2xx(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    async with receiving(500, 302, 204) as receiver:
        job_id = await _submit(api, "echo", {"url": receiver.url + "hooks"})
        [delivery] = await _settled(api, queue, job_id)
        requests = await receiver.wait_for(3)

    assert [r.path for r in receiver.received] == ["/hooks"] * 3  # the redirect not followed
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    messages = [_verified(r) for r in requests]
    assert messages[0] == messages[2]
    assert messages[0]["type"] == "job.completed"
    assert messages[0]["data"]["jobId"] == job_id
    assert messages[0]["data"]["status"] == "completed"
    assert messages[0]["data"]["result"] == 1
    assert delivery["webhookId"] == requests[0].headers["webhook-id"]
    assert delivery["type"] == "job.completed"
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["lastStatusCode"] == 204
    assert delivery["lastError"] is None
    assert delivery["deliveredAt"] is not None
    assert delivery["nextAttemptAt"] is None


@pytest.mark.usefixtures("worker")
async def test_a_receiver_slower_than_the_answer_timeout_gets_the_message_again(
    api: httpx.AsyncClient, queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delivery, "ANSWER_TIMEOUT_SECONDS", 0.2)
    async with receiving(HOLD, 204) as receiver:
        job_id = await _submit(api, "echo", {"url": receiver.url})
        [settled] = await _settled(api, queue, job_id)
        requests = await receiver.wait_for(2)

    assert settled["status"] == "delivered"
    assert settled["attempts"] == 2
    assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]


async def test_a_receiver_down_for_a_while_gets_the_message_once_it_is_back(
    tmp_path: Any,
) -> None:
    patient = DeliverySchedule(Backoff(base_seconds=0.1, cap_seconds=0.2, jitter=0.0), 100)
    queue = _queue(f"sqlite:///{tmp_path / 'jobs.db'}", patient)
    app: FastAPI = create_app(queue)
    async with (
        queue,
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as api,
    ):
        await _down_then_back(queue, api)


async def _down_then_back(queue: JobQueue, api: httpx.AsyncClient) -> None:
    with socket.socket() as probe:  # a port nothing listens on until the receiver starts
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = Worker(queue, concurrency=2)
    working = asyncio.create_task(running.run())
    try:
        job_id = await _submit(api, "echo", {"url": f"http://127.0.0.1:{port}/"})
        async with asyncio.timeout(20):
            while not (refused := await _deliveries(api, job_id)) or not refused[0]["lastError"]:
                await asyncio.sleep(0.02)
        async with receiving(204, port=port) as receiver:
            [settled] = await _settled(api, queue, job_id)
            [request] = await receiver.wait_for(1)
    finally:
        running.stop()
        await asyncio.wait_for(working, 15)

    assert refused[0]["status"] == "pending"
    assert settled["status"] == "delivered"
    assert settled["attempts"] >= 2
    assert _verified(request)["data"]["jobId"] == job_id


@pytest.mark.usefixtures("worker")
async def test_a_receiver_that_never_accepts_leaves_a_failed_delivery(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    async with receiving(301) as receiver:
        job_id = await _submit(api, "echo", {"url": receiver.url})
        [delivery] = await _settled(api, queue, job_id)

    assert len(receiver.received) == QUICK.max_attempts
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == QUICK.max_attempts
    assert delivery["lastStatusCode"] == 301
    assert delivery["lastError"] == "DeliveryFailed: HTTP 301 (a redirect, which is not followed)"


@pytest.mark.usefixtures("worker")
async def test_each_subscribed_event_is_one_message_in_order(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    async with receiving(200) as receiver:
        job_id = await _submit(
            api, "broken", {"url": receiver.url, "events": ["started", "failed"]}
        )
        deliveries = await _settled(api, queue, job_id, count=2)
        requests = await receiver.wait_for(2)

    assert [d["type"] for d in deliveries] == ["job.started", "job.failed"]
    assert sorted(_verified(r)["type"] for r in requests) == ["job.failed", "job.started"]
    failed = next(_verified(r) for r in requests if _verified(r)["type"] == "job.failed")
    assert failed["data"]["error"] == "Fail: broken on purpose"


async def test_cancelling_a_queued_job_announces_it(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    async with receiving(200) as receiver:
        job_id = await _submit(api, "echo", {"url": receiver.url})
        assert (await api.post(f"/api/jobs/{job_id}/cancel")).status_code == 200
        [pending] = (await api.get(f"/api/jobs/{job_id}/deliveries")).json()["deliveries"]
        assert (pending["type"], pending["status"], pending["attempts"]) == (
            "job.cancelled",
            "pending",
            0,
        )
        assert pending["nextAttemptAt"] is not None
        worker = Worker(queue, tasks=["jobqueue.webhook"])
        running = asyncio.create_task(worker.run())
        [request] = await receiver.wait_for(1)
        worker.stop()
        await asyncio.wait_for(running, 15)
    assert _verified(request)["data"]["status"] == "cancelled"


@pytest.mark.usefixtures("worker")
async def test_redeliver_sends_the_same_message_again(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    async with receiving(200) as receiver:
        job_id = await _submit(api, "echo", {"url": receiver.url})
        [first] = await _settled(api, queue, job_id)
        answer = await api.post(f"/api/jobs/{job_id}/deliveries/{first['id']}/redeliver")
        assert answer.status_code == 202
        again = answer.json()
        assert (again["status"], again["webhookId"]) == ("pending", first["webhookId"])
        listed = await _settled(api, queue, job_id, count=2)
        requests = await receiver.wait_for(2)

    assert [d["id"] for d in listed] == [first["id"], again["id"]]
    assert all(d["status"] == "delivered" for d in listed)
    assert requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"]
    assert _verified(requests[0]) == _verified(requests[1])


async def test_the_guard_runs_again_at_delivery(
    api: httpx.AsyncClient, queue: JobQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with receiving(200) as receiver:
        job_id = await _submit(api, "echo", {"url": receiver.url})
        monkeypatch.delenv("JOBQUEUE_WEBHOOK_ALLOW_HOSTS")
        worker = Worker(queue)
        running = asyncio.create_task(worker.run())
        try:
            [delivery] = await _settled(api, queue, job_id)
        finally:
            worker.stop()
            await asyncio.wait_for(running, 15)

    assert receiver.received == []
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1
    assert "127.0.0.1 is not a public address" in delivery["lastError"]
    assert delivery["lastStatusCode"] is None


async def test_the_delivery_endpoints_refuse_what_is_not_there(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    plain = (await api.post("/api/jobs", json={"task": "echo", "payload": 1})).json()["jobId"]
    other = await _submit(api, "echo", {"url": "http://127.0.0.1:9/"})
    await api.post(f"/api/jobs/{other}/cancel")
    [foreign] = (await api.get(f"/api/jobs/{other}/deliveries")).json()["deliveries"]

    assert (await api.get(f"/api/jobs/{plain}/deliveries")).json() == {"deliveries": []}
    assert (await api.get("/api/jobs/nope/deliveries")).status_code == 404
    assert (
        await api.post(f"/api/jobs/{plain}/deliveries/{foreign['id']}/redeliver")
    ).status_code == 404
    assert (await api.post(f"/api/jobs/{plain}/deliveries/{plain}/redeliver")).status_code == 404
    assert (
        await api.post(f"/api/jobs/nope/deliveries/{foreign['id']}/redeliver")
    ).status_code == 404


async def test_no_submit_may_name_the_delivery_task(
    api: httpx.AsyncClient, queue: JobQueue
) -> None:
    body = {"task": "jobqueue.webhook", "payload": {"url": "http://127.0.0.1:9/"}}
    response = await api.post("/api/jobs", json=body)
    assert response.status_code == 400
    assert response.json()["detail"] == "Unknown task: 'jobqueue.webhook'"
    assert (await queue.list()).jobs == []
    assert "jobqueue.webhook" not in (await api.get("/openapi.json")).text
