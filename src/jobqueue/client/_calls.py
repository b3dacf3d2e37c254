"""The requests of every endpoint of API.md, and how to read and retry their answers.

A `Call` is one request with the parser of its answer; `Calls` builds the call of each
endpoint under one path prefix; `RetryPolicy` decides when a refused call is sent again.
Nothing here does I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import quote

import httpx
import orjson

from jobqueue.client._errors import error_from_response, retry_after_seconds
from jobqueue.errors import ClientError, InvalidRequest
from jobqueue.models import SubmitOptions, Webhook
from jobqueue.wire import parse_job, parse_page, parse_stats, parse_token

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Unpack

    from jobqueue.models import Job, JobStatus, JSONValue, Page, Stats
    from jobqueue.wire import ReadToken

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

    def token(self, job_id: str) -> Call[ReadToken | None]:
        """``POST {prefix}/{id}/token``."""
        path = self.job_path(job_id, "/token")
        return Call("POST", path, parse_token, self._timeout(), job_id=job_id)

    def tag_token(self, tags: Iterable[str], ttl_seconds: float | None) -> Call[ReadToken | None]:
        """``POST {prefix}/tokens``."""
        body: dict[str, JSONValue] = {"tags": list(tags)}
        if ttl_seconds is not None:
            body["ttlSeconds"] = ttl_seconds
        return Call("POST", f"{self.prefix}/tokens", parse_token, self._timeout(), body=body)

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
