"""What the sync and async clients share: request building, answer reading, and every decision.

The clients themselves only move bytes and sleep. Retrying after ``Retry-After``,
long-poll deadlines, paging and resuming an event stream are decided here, once, by
small state objects the clients consult between I/O steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import quote

import httpx
import orjson

from jobqueue.client._errors import error_from_response, retry_after_seconds
from jobqueue.client._sse import SSEDecoder
from jobqueue.errors import ClientError, InvalidRequest
from jobqueue.models import SubmitOptions, Webhook
from jobqueue.wire import parse_job, parse_page, parse_stats

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Unpack

    from jobqueue.models import Job, JobStatus, JSONValue, Page, Stats

T = TypeVar("T")


class ClientSubmitOptions(SubmitOptions, total=False):
    """`SubmitOptions`, and *wait*: seconds (at most 60) the server may hold the answer
    until the job is terminal, so a short job needs no second request.
    """

    wait: float | None


DEFAULT_SERVER = "http://127.0.0.1:8000"
#: The longest hold the API grants a long poll or a ``Prefer: wait``.
MAX_WAIT_SECONDS = 60
#: An event stream silent for this long is dead: the server comments every 15 s.
STREAM_IDLE_SECONDS = 45.0
_NO_BODY = object()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[JSONValue], T]
    timeout: httpx.Timeout
    params: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: object = _NO_BODY
    job_id: str | None = None

    def request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request, with *http*'s base URL, authorization and timeouts applied."""
        headers = dict(self.headers)
        content = None
        if self.body is not _NO_BODY:
            content = orjson.dumps(self.body)
            headers["Content-Type"] = "application/json"
        return http.build_request(
            self.method,
            self.path,
            params=list(self.params),
            headers=headers,
            content=content,
            timeout=self.timeout,
        )

    def read(self, response: httpx.Response) -> T:
        """The parsed answer; raises the `jobqueue.errors` class an error answer stands for."""
        if response.is_error:
            raise error_from_response(response, self.job_id)
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ClientError(
                f"The server answered {response.status_code} without JSON",
                status=response.status_code,
            ) from None
        return self.parse(data)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When an answer of ``429`` or ``503`` is retried: at most *retries* times, and
    only after a ``Retry-After`` of at most *max_wait* seconds (1 s when it has none).
    """

    retries: int = 3
    max_wait: float = 30.0

    def delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying after *response* (attempt 0 is the first), or None."""
        if response.status_code not in (429, 503) or attempt >= self.retries:
            return None
        delay = retry_after_seconds(response)
        delay = 1.0 if delay is None else delay
        return delay if delay <= self.max_wait else None


class Calls:
    """Builds the `Call` of every endpoint of API.md under one path prefix."""

    def __init__(self, prefix: str = "/api/jobs", timeout: float = 10.0) -> None:
        self.prefix = "/" + prefix.strip("/")
        self.timeout = timeout

    def job_path(self, job_id: str, suffix: str = "") -> str:
        """The path of one job's resource (the id quoted, so it can never name another)."""
        if not job_id:
            raise InvalidRequest("A job id is required")
        return f"{self.prefix}/{quote(job_id, safe='')}{suffix}"

    def submit(
        self, task: str | None, payload: JSONValue, **options: Unpack[ClientSubmitOptions]
    ) -> Call[Job]:
        """``POST {prefix}``; with *wait*, ``Prefer: wait=<seconds>`` (at most 60)."""
        fields = {
            "task": task,
            "priority": options.get("priority"),
            "delaySeconds": options.get("delay_seconds"),
            "timeoutSeconds": options.get("timeout_seconds"),
            "maxAttempts": options.get("max_attempts"),
            "ttlSeconds": options.get("ttl_seconds"),
            "concurrencyKey": options.get("concurrency_key"),
            "tags": list(tags) if (tags := options.get("tags")) else None,
            "webhook": hook.to_json()
            if isinstance(hook := options.get("webhook"), Webhook)
            else hook,
        }
        body: dict[str, JSONValue] = {"payload": payload}
        body.update({k: v for k, v in fields.items() if v is not None})
        headers = {}
        if (idempotency_key := options.get("idempotency_key")) is not None:
            headers["Idempotency-Key"] = idempotency_key
        held = 0
        if (wait := options.get("wait")) is not None:
            held = self._wait_seconds(wait)
            headers["Prefer"] = f"wait={held}"
        return Call("POST", self.prefix, parse_job, self._timeout(held), headers=headers, body=body)

    def get(self, job_id: str, *, wait: float | None = None, since: int | None = None) -> Call[Job]:
        """``GET {prefix}/{id}``; with *wait*, a long poll for a version newer than *since*."""
        params: list[tuple[str, str]] = []
        held = 0
        if wait is not None:
            held = self._wait_seconds(wait)
            params.append(("wait", str(held)))
        if since is not None:
            params.append(("since", str(since)))
        path = self.job_path(job_id)
        return Call("GET", path, parse_job, self._timeout(held), params=params, job_id=job_id)

    def cancel(self, job_id: str) -> Call[Job]:
        """``POST {prefix}/{id}/cancel``."""
        path = self.job_path(job_id, "/cancel")
        return Call("POST", path, parse_job, self._timeout(), job_id=job_id)

    def retry(self, job_id: str) -> Call[Job]:
        """``POST {prefix}/{id}/retry``."""
        path = self.job_path(job_id, "/retry")
        return Call("POST", path, parse_job, self._timeout(), job_id=job_id)

    def page(
        self,
        statuses: Iterable[JobStatus | str],
        tasks: Iterable[str],
        tag: str | None,
        limit: int,
        cursor: str | None,
    ) -> Call[Page]:
        """``GET {prefix}``: one page of the listing."""
        params = [("status", str(s)) for s in statuses] + [("task", t) for t in tasks]
        if tag is not None:
            params.append(("tag", tag))
        params.append(("limit", str(limit)))
        if cursor is not None:
            params.append(("cursor", cursor))
        return Call("GET", self.prefix, parse_page, self._timeout(), params=params)

    def stats(self) -> Call[Stats]:
        """``GET {prefix}/stats``."""
        return Call("GET", f"{self.prefix}/stats", parse_stats, self._timeout())

    def events(self, job_id: str, last_event_id: str | None) -> Call[None]:
        """``GET {prefix}/{id}/events``, resuming after *last_event_id*; read by `EventStream`."""
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        # Reads only time out when the server's keep-alive comments stop coming.
        timeout = httpx.Timeout(self.timeout, read=STREAM_IDLE_SECONDS)
        path = self.job_path(job_id, "/events")
        return Call("GET", path, lambda _: None, timeout, headers=headers, job_id=job_id)

    def _timeout(self, held: float = 0) -> httpx.Timeout:
        # An answer the server holds (long poll, Prefer: wait) may take that much longer.
        return httpx.Timeout(self.timeout, read=self.timeout + held)

    @staticmethod
    def _wait_seconds(wait: float) -> int:
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise InvalidRequest(f"wait must be between 0 and {MAX_WAIT_SECONDS} seconds")
        return math.ceil(wait)


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
