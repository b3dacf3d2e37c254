"""`Client`: the blocking Python client of a jobqueue server, on httpx."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

import httpx

from jobqueue.client._base import BaseClient, EventStream, LongPoll, Pager
from jobqueue.client._errors import unreachable

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable
    from types import TracebackType
    from typing import Unpack

    from jobqueue.client._calls import Call, ClientSubmitOptions
    from jobqueue.models import Job, JobStatus, JSONValue, Stats
    from jobqueue.wire import ReadToken

T = TypeVar("T")


class Client(BaseClient[httpx.Client, httpx.BaseTransport]):
    """Submit, follow and manage jobs on a jobqueue server (API.md) from blocking code.

    Every method raises the `jobqueue.errors` class of an error answer (`JobNotFound`,
    `InvalidTransition`, `InvalidRequest`, ...) with the server's message, or
    `ClientError` for the rest and when the server cannot be reached. Answers of
    ``429`` and ``503`` are retried after their ``Retry-After``, within the bounds the
    constructor sets. Use it as a context manager, or call `close`.

    Takes the arguments of `BaseClient`.
    """

    _http_class = httpx.Client

    def submit(
        self, task: str | None, payload: JSONValue, **options: Unpack[ClientSubmitOptions]
    ) -> Job:
        """Submit a job and return it (``queued``; or terminal, see *wait*).

        *task* None runs the server's default task. Options left None take the
        task's defaults. A repeated *idempotency_key* with the same request returns
        the first job; with a different request it raises `IdempotencyConflict`.
        *wait* (at most 60 s) asks the server to hold the answer until the job is
        terminal or the time is up, so a short job needs no second request.
        """
        return self._send(self._calls.submit(task, payload, **options))

    def get(self, job_id: str) -> Job:
        """The job as it is now; `JobNotFound` when unknown or expired."""
        return self._send(self._calls.get(job_id))

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it is terminal, by long polling; `TimeoutError` after *timeout* s."""
        poll = LongPoll(self._calls, job_id, timeout)
        while True:
            job = self._send(poll.next_call())
            if poll.is_done(job):
                return job

    def stream(self, job_id: str) -> Generator[Job, None, None]:
        """The job now, then every change pushed by the server, ending with its terminal state.

        A dropped connection is resumed with ``Last-Event-ID``; no state is handed
        out twice. Intermediate versions may be skipped, the latest never is.
        """
        events = EventStream(self._calls, job_id, self._retry)
        while not events.is_done:
            time.sleep(events.pause)  # 0 before the first connection
            call = events.next_call()
            try:
                response = self._http.send(call.request(self._http), stream=True)
                try:
                    if response.is_error:
                        response.read()
                    if events.opened(response):
                        for line in response.iter_lines():
                            if (job := events.feed(line)) is not None:
                                yield job
                                if job.is_terminal:
                                    return
                        events.dropped()
                finally:
                    response.close()
            except httpx.TransportError as exc:
                events.dropped(exc)

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job, or ask a running one to stop; `InvalidTransition` if terminal."""
        return self._send(self._calls.cancel(job_id))

    def retry(self, job_id: str) -> Job:
        """Queue a ``failed`` or ``cancelled`` job again, with a fresh attempt budget."""
        return self._send(self._calls.retry(job_id))

    def token(self, job_id: str) -> ReadToken | None:
        """A read token for *job_id*, to hand to a browser instead of the key: it reads
        that job (status, long poll, events) until the job would expire. None when the
        server has no API keys (the id alone grants access there)."""
        return self._send(self._calls.token(job_id))

    def tag_token(self, tags: Iterable[str], ttl_seconds: float | None = None) -> ReadToken | None:
        """A read token for this key's jobs carrying any of *tags*, for *ttl_seconds*
        (default 1 h, at most 7 days); None when the server has no API keys."""
        return self._send(self._calls.tag_token(tags, ttl_seconds))

    def stats(self) -> Stats:
        """Counts of jobs per task and status, and the workers seen lately."""
        return self._send(self._calls.stats())

    def list(
        self,
        *,
        statuses: Iterable[JobStatus | str] = (),
        tasks: Iterable[str] = (),
        tag: str | None = None,
        page_size: int = 50,
        limit: int | None = None,
    ) -> Generator[Job, None, None]:
        """Jobs newest first, fetching pages of *page_size* as the iteration goes.

        *statuses*, *tasks* and *tag* filter (empty: all); *limit* stops after that many.
        """
        pager = Pager(self._calls, statuses, tasks, tag, page_size, limit)
        while (call := pager.next_call()) is not None:
            yield from pager.take(self._send(call))

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.send(call.request(self._http))
            except httpx.TransportError as exc:
                raise unreachable(exc, self.server) from exc
            delay = self._retry.delay(response, attempt)
            if delay is None:
                return call.read(response)
            attempt += 1
            time.sleep(delay)
