"""The submit field ``webhook``: checked strictly, SSRF-guarded at submit, kept with the job.

No worker runs here, so nothing is ever delivered; names resolve through a stub.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import pytest
from fastapi import FastAPI

from jobqueue import AsyncClient, JobQueue
from jobqueue.clock import FakeClock
from jobqueue.models import Webhook
from tests.api.conftest import assert_problem, make_queue, submit

PUBLIC = "https://93.184.215.14/hooks"


async def _resolve(host: str, port: int) -> Sequence[str]:
    return {"receiver.example": ["93.184.215.14"], "inside.example": ["127.0.0.1"]}[host]


@pytest.fixture
def queue(clock: FakeClock) -> JobQueue:
    queue = make_queue(clock)
    queue.webhook_resolver = _resolve
    return queue


async def test_a_webhook_is_kept_with_the_job(client: httpx.AsyncClient, queue: JobQueue):
    hooked = await submit(
        client,
        webhook={"url": "https://receiver.example/h", "events": ["failed", "started", "failed"]},
    )
    defaulted = await submit(client, webhook={"url": PUBLIC})

    assert (await queue.get(hooked)).webhook == Webhook(  # type: ignore[union-attr]
        "https://receiver.example/h", ("started", "failed")
    )
    assert (await queue.get(defaulted)).webhook == Webhook(  # type: ignore[union-attr]
        PUBLIC, ("completed", "failed", "cancelled")
    )


@pytest.mark.parametrize(
    ("webhook", "detail"),
    [
        ({"url": PUBLIC, "secret": "x"}, "webhook.secret"),
        ({"url": PUBLIC, "events": ["finished"]}, "webhook.events.0"),
        ({"url": PUBLIC, "events": []}, "webhook.events"),
        ({"url": PUBLIC, "events": "completed"}, "webhook.events"),
        ({"events": ["completed"]}, "webhook.url"),
        ({"url": 42}, "webhook.url"),
        ("https://93.184.215.14/", "webhook"),
        ({"url": "ftp://receiver.example/"}, "webhook.url: only http and https"),
        ({"url": "http://10.0.0.1/"}, "webhook.url: 10.0.0.1 is not a public address"),
        ({"url": "http://[::ffff:10.0.0.1]/"}, "not a public address"),
        ({"url": "http://0x7f000001/"}, "not a dotted-quad IPv4 address"),
        ({"url": "http://169.254.169.254/latest"}, "not a public address"),
        ({"url": "https://inside.example/"}, "resolves to 127.0.0.1"),
    ],
)
async def test_a_bad_webhook_is_400_and_nothing_is_created(
    client: httpx.AsyncClient, queue: JobQueue, webhook: object, detail: str
):
    response = await client.post("/api/jobs", json={"payload": 1, "webhook": webhook})
    assert_problem(response, 400)
    assert detail in response.json()["detail"]
    assert (await queue.list()).jobs == []


async def test_an_allowed_host_may_be_private(
    client: httpx.AsyncClient, queue: JobQueue, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("JOBQUEUE_WEBHOOK_ALLOW_HOSTS", "inside.example,127.0.0.1")
    job_id = await submit(client, webhook={"url": "http://inside.example:8080/"})
    assert (await queue.get(job_id)).webhook.url == "http://inside.example:8080/"  # type: ignore[union-attr]


async def test_the_webhook_counts_in_the_idempotency_fingerprint(client: httpx.AsyncClient):
    key = {"Idempotency-Key": "order-1"}
    body = {"payload": 1, "webhook": {"url": PUBLIC}}
    first = await client.post("/api/jobs", json=body, headers=key)
    again = await client.post("/api/jobs", json=body, headers=key)
    other = await client.post(
        "/api/jobs", json={**body, "webhook": {"url": PUBLIC, "events": ["started"]}}, headers=key
    )
    assert again.json()["jobId"] == first.json()["jobId"]
    assert other.status_code == 422


async def test_queue_submit_takes_a_webhook(queue: JobQueue):
    job = await queue.submit("echo", 1, webhook=Webhook(PUBLIC, ("completed",)))
    assert job.webhook == Webhook(PUBLIC, ("completed",))
    with pytest.raises(ValueError, match=r"webhook\.url"):
        await queue.submit("echo", 1, webhook={"url": "http://127.0.0.1/"})


async def test_the_python_client_sends_the_webhook(app: FastAPI, queue: JobQueue):
    transport = httpx.ASGITransport(app=app)
    async with AsyncClient("http://testserver", transport=transport) as client:
        job = await client.submit(None, 1, webhook=Webhook(PUBLIC, ("failed",)))
        mapped = await client.submit(None, 2, webhook={"url": PUBLIC})
    assert (await queue.get(job.job_id)).webhook == Webhook(PUBLIC, ("failed",))  # type: ignore[union-attr]
    assert (await queue.get(mapped.job_id)).webhook.events == (  # type: ignore[union-attr]
        "completed",
        "failed",
        "cancelled",
    )
