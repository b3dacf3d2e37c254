"""A dropped event stream resumes with Last-Event-ID; 503 answers are retried after Retry-After.

The failures are real: a loopback proxy in front of the live server cuts connections
mid-stream or answers 503 itself.
"""

from __future__ import annotations

import re
from contextlib import aclosing

import pytest

from jobqueue import AsyncClient, Client, ClientError, JobStatus, StoreUnavailable
from tests.client.live import Proxy

SLOW = {"steps": 20, "delay": 0.05}


def resumed_from(proxy: Proxy) -> list[int]:
    """The Last-Event-ID of every stream request that went through *proxy*."""
    sent = b"".join(proxy.sent).decode()
    return [int(v) for v in re.findall(r"(?im)^last-event-id: (\d+)\r$", sent)]


def test_a_dropped_stream_resumes_where_it_left_off(proxy: Proxy) -> None:
    with Client(proxy.url) as client:
        job = client.submit("slow", SLOW)
        states = []
        for state in client.stream(job.job_id):
            states.append(state)
            if len(states) == 3:
                proxy.cut()
    versions = [state.version for state in states]
    assert versions == sorted(set(versions))
    assert states[-1].status is JobStatus.COMPLETED
    assert resumed_from(proxy) == [versions[2]]


async def test_a_dropped_async_stream_resumes_where_it_left_off(proxy: Proxy) -> None:
    async with AsyncClient(proxy.url) as client:
        job = await client.submit("slow", SLOW)
        states = []
        async with aclosing(client.stream(job.job_id)) as stream:
            async for state in stream:
                states.append(state)
                if len(states) == 3:
                    proxy.cut()
    versions = [state.version for state in states]
    assert versions == sorted(set(versions))
    assert states[-1].status is JobStatus.COMPLETED
    assert resumed_from(proxy) == [versions[2]]


def test_a_stream_that_cannot_be_resumed_gives_up_after_its_retries(proxy: Proxy) -> None:
    with Client(proxy.url, retries=1) as client:
        job = client.submit("slow", SLOW)
        stream = client.stream(job.job_id)
        next(stream)
        proxy.close()  # the server is gone for good: every reconnect is refused
        with pytest.raises(ClientError, match="dropped 2 times in a row"):
            list(stream)


def test_503_is_retried_after_retry_after(proxy: Proxy) -> None:
    # The proxy refuses connections, so each client (a fresh connection) meets one 503.
    proxy.refuse(1, retry_after=1)
    with Client(proxy.url) as client:
        job = client.submit("echo", "through", wait=30)
    proxy.refuse(1, retry_after=1)
    with Client(proxy.url) as client:
        streamed = list(client.stream(job.job_id))
    assert job.status is JobStatus.COMPLETED
    assert streamed == [job]
    assert proxy.refused == 2


async def test_async_503_is_retried_after_retry_after(proxy: Proxy) -> None:
    proxy.refuse(1, retry_after=1)
    async with AsyncClient(proxy.url) as client:
        job = await client.submit("echo", "through", wait=30)
    assert job.result == "through"
    assert proxy.refused == 1


@pytest.mark.parametrize(("retry_after", "refused"), [(0, 3), (120, 1)])
def test_503_raises_once_the_budget_is_spent(proxy: Proxy, retry_after: int, refused: int) -> None:
    # Two retries at most, and never a wait longer than 30 s.
    proxy.refuse(5, retry_after=retry_after)
    with Client(proxy.url, retries=2, max_retry_wait=30) as client, pytest.raises(StoreUnavailable):
        client.stats()
    assert proxy.refused == refused
