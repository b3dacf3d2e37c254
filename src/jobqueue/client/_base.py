"""What the sync and async clients share: every decision between their I/O steps.

The clients themselves only move bytes and sleep. Long-poll deadlines, paging and
resuming an event stream are decided here, once, by small state objects the clients
consult between I/O steps; the requests themselves are built by `_calls`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Generic, TypeVar

import httpx
import orjson

from jobqueue.client._calls import (
    DEFAULT_SERVER,
    MAX_WAIT_SECONDS,
    Call,
    Calls,
    RetryPolicy,
)
from jobqueue.client._errors import error_from_response
from jobqueue.client._sse import SSEDecoder
from jobqueue.errors import ClientError
from jobqueue.wire import parse_job

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from jobqueue.models import Job, JobStatus, Page

T = TypeVar("T")


class LongPoll:
    """The decisions of `wait`: the next long poll, and whether the deadline has passed."""

    def __init__(self, calls: Calls, job_id: str, timeout: float | None) -> None:
        self._calls = calls
        self._job_id = job_id
        self._timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._version: int | None = None

    def next_call(self) -> Call[Job]:
        """The next poll: held until the job changes, the server's limit, or the deadline."""
        wait: float = MAX_WAIT_SECONDS
        if self._deadline is not None:
            wait = min(wait, max(0.0, self._deadline - time.monotonic()))
        return self._calls.get(self._job_id, wait=wait, since=self._version)

    def is_done(self, job: Job) -> bool:
        """True when *job* is terminal; raises `TimeoutError` when the deadline has passed."""
        if job.is_terminal:
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise TimeoutError(f"Job {job.job_id} is still {job.status} after {self._timeout} s")
        self._version = job.version
        return False


class Pager:
    """The decisions of `list`: the next page's request, and when to stop."""

    def __init__(
        self,
        calls: Calls,
        statuses: Iterable[JobStatus | str],
        tasks: Iterable[str],
        tag: str | None,
        page_size: int,
        limit: int | None,
    ) -> None:
        self._calls = calls
        self._statuses = tuple(statuses)
        self._tasks = tuple(tasks)
        self._tag = tag
        self._page_size = page_size
        self._left = limit
        self._cursor: str | None = None
        self._is_done = limit is not None and limit <= 0

    def next_call(self) -> Call[Page] | None:
        """The request for the next page, or None when the listing is complete."""
        if self._is_done:
            return None
        size = self._page_size if self._left is None else min(self._page_size, self._left)
        return self._calls.page(self._statuses, self._tasks, self._tag, size, self._cursor)

    def take(self, page: Page) -> Sequence[Job]:
        """The jobs of *page* to hand out."""
        jobs = page.jobs if self._left is None else page.jobs[: self._left]
        if self._left is not None:
            self._left -= len(jobs)
        self._cursor = page.next_cursor
        self._is_done = page.next_cursor is None or self._left == 0
        return jobs


class EventStream:
    """The decisions of `stream`: which request opens the stream, what its lines mean,
    and when and how often a dropped connection is resumed with ``Last-Event-ID``.

    A connection that ends before the job is terminal, or fails, counts as a drop;
    more than *retries* drops in a row with no event between them raise `ClientError`.
    """

    def __init__(self, calls: Calls, job_id: str, retry: RetryPolicy) -> None:
        self._calls = calls
        self._job_id = job_id
        self._retry = retry
        self._decoder = SSEDecoder()
        self._version = 0
        self._drops = 0
        self._refusals = 0
        self.pause = 0.0
        """Seconds to wait before the next connection."""
        self.is_done = False
        """True once the terminal state was delivered (or the server said there is no more)."""

    def next_call(self) -> Call[None]:
        """The request that (re)opens the stream, resuming after the last event seen."""
        self._decoder.reset()
        return self._calls.events(self._job_id, self._decoder.last_event_id)

    def opened(self, response: httpx.Response) -> bool:
        """Whether to read *response*'s lines. An error answer must have been read already.

        ``204`` ends the stream; a ``429``/``503`` the policy allows is retried after
        ``Retry-After``; any other error raises its `jobqueue.errors` class.
        """
        if response.status_code == 204:
            self.is_done = True
            return False
        if response.is_error:
            delay = self._retry.delay(response, self._refusals)
            if delay is None:
                raise error_from_response(response, self._job_id)
            self._refusals += 1
            self.pause = delay
            return False
        self._refusals = 0
        return True

    def feed(self, line: str) -> Job | None:
        """Take one line of the stream; return a job state newer than any handed out so far."""
        event = self._decoder.feed(line)
        if event is None or event.event != "job":
            return None
        self._drops = 0
        try:
            data = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise ClientError(f"Unexpected event from the server: {event.data[:200]!r}") from None
        job = parse_job(data)
        if job.version <= self._version:
            return None
        self._version = job.version
        self.is_done = job.is_terminal
        return job

    def dropped(self, cause: Exception | None = None) -> None:
        """Note that the connection ended before the terminal state; raises past the budget."""
        self._drops += 1
        if self._drops > self._retry.retries:
            raise ClientError(
                f"The event stream of job {self._job_id} dropped {self._drops} times in a row"
                + (f": {cause}" if cause else "")
            ) from cause
        retry_ms = self._decoder.retry_ms
        self.pause = min(1.0 if retry_ms is None else retry_ms / 1000, self._retry.max_wait)


HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
TransportT = TypeVar("TransportT", httpx.BaseTransport, httpx.AsyncBaseTransport)


class BaseClient(Generic[HttpT, TransportT]):
    """What `Client` and `AsyncClient` share: their arguments and configuration.

    Args:
        server: the service's base URL.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        prefix: the path the job endpoints are mounted under.
        timeout: seconds to connect, and to wait for an ordinary answer.
        retries: how often an answer of ``429``/``503`` is retried, and how often in a
            row a dropped event stream is resumed.
        max_retry_wait: the longest ``Retry-After`` waited for; a longer one raises at once.
        transport: an httpx transport to send requests through (tests, proxies).
    """

    _http_class: Callable[..., HttpT]
    """``httpx.Client`` or ``httpx.AsyncClient``: what moves the bytes."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        *,
        api_key: str | None = None,
        prefix: str = "/api/jobs",
        timeout: float = 10.0,
        retries: int = 3,
        max_retry_wait: float = 30.0,
        transport: TransportT | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self._calls = Calls(prefix, timeout)
        self._retry = RetryPolicy(retries, max_retry_wait)
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http: HttpT = self._http_class(
            base_url=self.server, headers=headers, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.server!r})"
