"""Fixtures for the HTTP contract tests: an app on the memory store, clients, a live server.

Jobs are moved through their states with the store's own worker-side calls (`Jobs`), so
tests decide exactly when a job starts, reports progress and ends, without a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from jobqueue import JobQueue
from jobqueue.api import ApiSettings, create_app
from jobqueue.api.schemas import JSON_INTEGER
from jobqueue.clock import FakeClock
from jobqueue.models import Claimant, Job, Lease, Progress
from jobqueue.stores import Store


class ResizeRequest(BaseModel):
    """A payload with a schema, for the 422 tests."""

    model_config = ConfigDict(strict=True)

    url: str = Field(min_length=1)
    width: Annotated[int, Field(ge=1, le=4096), JSON_INTEGER]


def make_queue(clock: FakeClock | None = None, store: str | Store = "memory://") -> JobQueue:
    """A queue with a default task taking any JSON (`echo`) and one with a model (`resize`)."""
    queue = JobQueue(store, clock=clock)

    @queue.task(default=True)
    async def echo(payload: Any) -> Any:
        return payload

    @queue.task
    async def resize(request: ResizeRequest) -> dict[str, Any]:
        return {"url": request.url, "width": request.width}

    return queue


@dataclass
class Jobs:
    """Moves jobs through their states as a worker would, through the store."""

    queue: JobQueue
    leases: dict[str, Lease] = field(default_factory=dict)

    @property
    def now(self) -> Any:
        return self.queue.clock.now()

    @contextlib.asynccontextmanager
    async def announced(self, job_id: str) -> AsyncIterator[None]:
        """Return once the queue's hub has announced the change the block made to *job_id*:
        the server has then seen it (it answers reads from memory until it does)."""
        with self.queue.hub.watching(job_id) as watch:
            yield
            await watch.changed(timeout=5)

    async def start(self, job_id: str) -> Job:
        """Claim *job_id* (other ready jobs claimed on the way are handed back)."""
        async with self.announced(job_id):
            return await self._claim(job_id)

    async def _claim(self, job_id: str) -> Job:
        job = await self.queue.get(job_id)
        assert job is not None
        store, passed_over = self.queue.store, []
        try:
            while True:
                claims = await store.claim(
                    Claimant("test-worker", frozenset({job.task}), 30.0), 1, self.now
                )
                assert claims, f"job {job_id} is not ready"
                if claims[0].job.job_id == job_id:
                    self.leases[job_id] = claims[0].lease
                    return claims[0].job
                passed_over.append(claims[0])
        finally:
            for claim in passed_over:
                await store.release(claim.lease, self.now)

    async def progress(self, job_id: str, current: float, total: float | None = None) -> Job:
        lease = self.leases[job_id]
        async with self.announced(job_id):
            return await self.queue.store.record_progress(lease, Progress(current, total), self.now)

    async def complete(self, job_id: str, result: Any = None) -> Job:
        if job_id not in self.leases:
            await self.start(job_id)
        async with self.announced(job_id):
            return await self.queue.store.complete(self.leases.pop(job_id), result, self.now)

    async def fail(self, job_id: str, error: str = "boom") -> Job:
        if job_id not in self.leases:
            await self.start(job_id)
        async with self.announced(job_id):
            return await self.queue.store.fail(self.leases.pop(job_id), error, None, self.now)


@pytest.fixture
def settings() -> ApiSettings:
    """Short waits, so tests about waiting stay quick."""
    return ApiSettings(keepalive_seconds=0.2, max_wait_seconds=5.0)


@pytest.fixture
def queue(clock: FakeClock) -> JobQueue:
    return make_queue(clock)


@pytest.fixture
async def app(queue: JobQueue, settings: ApiSettings) -> AsyncIterator[FastAPI]:
    """The standalone app, with its lifespan entered (queue open, metrics listening)."""
    application = create_app(queue, settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@contextlib.asynccontextmanager
async def client_of(application: FastAPI, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of *application*, whose lifespan runs meanwhile."""
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
            yield client


@pytest.fixture
def jobs(queue: JobQueue) -> Jobs:
    return Jobs(queue)


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve *app* (lifespan already entered) with a real uvicorn on a free port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        app.state.jobqueue.close_streams()
        server.should_exit = True
        await task


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app served by a real uvicorn, for streams and long polls."""
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(10.0)) as client,
    ):
        yield client


async def submit(client: httpx.AsyncClient, payload: Any = "hello", **fields: Any) -> str:
    """Submit a job (202 expected) and return its id."""
    response = await client.post("/api/jobs", json={"payload": payload, **fields})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def assert_problem(response: httpx.Response, status: int, error: str | None = None) -> None:
    """*response* is a problem+json error with *status* (and, if given, that error)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["error"] == body["detail"]
    assert body["title"]
    if error is not None:
        assert body["error"] == error
