"""`AsyncClient`: the asyncio Python client of a jobqueue server, on httpx."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TypeVar

import httpx

from jobqueue.client._base import BaseClient, EventStream, LongPoll, Pager
from jobqueue.client._errors import unreachable

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterable
    from types import TracebackType
    from typing import Unpack

    from jobqueue.client._calls import Call, ClientSubmitOptions
    from jobqueue.models import Job, JobStatus, JSONValue, Stats
    from jobqueue.wire import ReadToken

T = TypeVar("T")


class AsyncClient(BaseClient[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """`Client`'s asyncio twin: the same methods, awaited, with the same guarantees.

    `stream` and `list` are async generators: when leaving one early, close it (for
    example with ``contextlib.aclosing``) so its connection is released at once.

    Takes the arguments of `BaseClient`.
    """

    _http_class = httpx.AsyncClient

    async def submit(
        self, task: str | None, payload: JSONValue, **options: Unpack[ClientSubmitOptions]
    ) -> Job:
        """Submit a job and return it; see `Client.submit`."""
        return await self._send(self._calls.submit(task, payload, **options))

    async def get(self, job_id: str) -> Job:
        """The job as it is now; `JobNotFound` when unknown or expired."""
        return await self._send(self._calls.get(job_id))

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it is terminal, by long polling; `TimeoutError` after *timeout* s."""
        poll = LongPoll(self._calls, job_id, timeout)
        while True:
            job = await self._send(poll.next_call())
            if poll.is_done(job):
                return job

    async def stream(self, job_id: str) -> AsyncGenerator[Job, None]:
        """The job now, then every change, ending with its terminal state; see `Client.stream`."""
        events = EventStream(self._calls, job_id, self._retry)
        while not events.is_done:
            await asyncio.sleep(events.pause)  # 0 before the first connection
            call = events.next_call()
            try:
                response = await self._http.send(call.request(self._http), stream=True)
                try:
                    if response.is_error:
                        await response.aread()
                    if events.opened(response):
                        async for line in response.aiter_lines():
                            if (job := events.feed(line)) is not None:
                                yield job
                                if job.is_terminal:
                                    return
                        events.dropped()
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                events.dropped(exc)

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued job, or ask a running one to stop; `InvalidTransition` if terminal."""
        return await self._send(self._calls.cancel(job_id))

    async def retry(self, job_id: str) -> Job:
        """Queue a ``failed`` or ``cancelled`` job again, with a fresh attempt budget."""
        return await self._send(self._calls.retry(job_id))

    async def token(self, job_id: str) -> ReadToken | None:
        """A read token for *job_id*, to hand to a browser instead of the key: it reads
        that job (status, long poll, events) until the job would expire. None when the
        server has no API keys (the id alone grants access there)."""
        return await self._send(self._calls.token(job_id))

    async def tag_token(
        self, tags: Iterable[str], ttl_seconds: float | None = None
    ) -> ReadToken | None:
        """A read token for this key's jobs carrying any of *tags*, for *ttl_seconds*
        (default 1 h, at most 7 days); None when the server has no API keys."""
        return await self._send(self._calls.tag_token(tags, ttl_seconds))

    async def stats(self) -> Stats:
        """Counts of jobs per task and status, and the workers seen lately."""
        return await self._send(self._calls.stats())

    async def list(
        self,
        *,
        statuses: Iterable[JobStatus | str] = (),
        tasks: Iterable[str] = (),
        tag: str | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> AsyncGenerator[Job, None]:
        """Jobs newest first, fetching pages as the iteration goes; see `Client.list`."""
        pager = Pager(self._calls, statuses, tasks, tag, page_size, limit)
        while (call := pager.next_call()) is not None:
            for job in pager.take(await self._send(call)):
                yield job

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.send(call.request(self._http))
            except httpx.TransportError as exc:
                raise unreachable(exc, self.server) from exc
            delay = self._retry.delay(response, attempt)
            if delay is None:
                return call.read(response)
            attempt += 1
            await asyncio.sleep(delay)
