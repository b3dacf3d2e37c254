"""The job endpoints of API.md as a FastAPI router; each handler parses, calls the queue, renders.

`JobsRouter` is what `create_app` serves and what an existing FastAPI application
includes (``app.include_router(create_router(queue))``): errors, metrics, the queue's
lifecycle and the per-task OpenAPI schemas all travel with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from jobqueue.api import openapi
from jobqueue.api.auth import Principal, authenticator
from jobqueue.api.body import parse_submit, read_json
from jobqueue.api.events import Streams, job_events, long_poll, wait_until_terminal
from jobqueue.api.handling import route_class
from jobqueue.api.metrics import ChangeCounter, Metrics
from jobqueue.api.responses import (
    etag,
    etag_matches,
    job_response,
    json_response,
    not_modified,
)
from jobqueue.api.schemas import JobOut, JobPage, StatsOut
from jobqueue.api.settings import ApiSettings
from jobqueue.errors import StoreError
from jobqueue.models import JobStatus
from jobqueue.wire import job_to_wire, stats_to_wire

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from fastapi import FastAPI

    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)

#: How often a server reaps lost leases and purges expired jobs.
MAINTENANCE_SECONDS = 5.0

JobId = Annotated[str, Path(alias="jobId", description="The job's id.", max_length=200)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a submit safely: the same key and body return the first job.",
    ),
]
Prefer = Annotated[
    str | None,
    Header(
        alias="Prefer",
        description="`wait=<seconds>` (at most 60): answer 200 with the finished job if it "
        "finishes in time.",
    ),
]
Wait = Annotated[
    float | None,
    Query(ge=0, le=60, description="Long poll: hold the request up to this many seconds."),
]
Since = Annotated[
    int | None,
    Query(ge=0, description="Long poll: answer once the version exceeds this (default: now)."),
]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="The id (version) of the last event received."),
]
Statuses = Annotated[list[JobStatus] | None, Query(description="Only these statuses.")]
Tasks = Annotated[list[str] | None, Query(description="Only these tasks.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Jobs per page.")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=1000, description="`nextCursor` of the previous page."),
]

_JOB_HEADERS = {
    "ETag": openapi.header("Changes exactly when the job's version does.", True),
    "Cache-Control": openapi.header("no-store", True),
    "Retry-After": openapi.header(
        "While the job is not finished: when to poll again.", False, integer=True
    ),
}


def _job_answer(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"model": JobOut, "description": description, "headers": _JOB_HEADERS | (headers or {})}


class JobsRouter(APIRouter):
    """The job API under ``settings.prefix``, bound to one queue.

    Its lifespan opens the queue (tolerating an unreachable store: requests answer 503
    until it is back) and closes it; `close_streams` ends open event streams and long
    polls, for a prompt shutdown.
    """

    def __init__(
        self, queue: JobQueue, settings: ApiSettings, metrics: Metrics | None = None
    ) -> None:
        self.queue = queue
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.streams = Streams(queue)
        super().__init__(
            prefix=settings.prefix,
            tags=["jobs"],
            route_class=route_class(self.metrics),
            lifespan=self._lifespan,
        )

    def close_streams(self) -> None:
        """End every open event stream and long poll now."""
        self.streams.close()

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        try:
            await self.queue.open()
        except StoreError as exc:
            logger.warning(
                "The store is unavailable at start-up (%s); answering 503 meanwhile", exc
            )
        counter = ChangeCounter(self.queue, self.metrics)
        counter.start()
        # Servers reap lost leases and purge expired jobs too (DESIGN.md), slowly:
        # workers do it every second, and stores make concurrent passes safe.
        stopping = asyncio.Event()
        maintenance = asyncio.create_task(
            self.queue.maintain(stopping, interval=MAINTENANCE_SECONDS)
        )
        try:
            yield
        finally:
            self.streams.close()
            stopping.set()
            await maintenance
            await counter.stop()
            await self.queue.close()


def create_router(
    queue: JobQueue, settings: ApiSettings | None = None, *, metrics: Metrics | None = None
) -> JobsRouter:
    """The job endpoints for *queue*, to serve alone (`create_app`) or include in an app.

    Register the queue's tasks before calling it: their payload schemas are written
    into the OpenAPI document here. *settings* default to the ``JOBQUEUE_*`` variables.
    """
    settings = settings or ApiSettings.from_env()
    router = JobsRouter(queue, settings, metrics)
    auth = authenticator(settings)
    clock = queue.clock
    guarded = (401, 403) if settings.has_auth else ()
    poll_after = settings.poll_after_seconds
    streams = router.streams

    locations: dict[str, str] = {}

    def location_of(request: Request, job_id: str) -> str:
        # Where the status route is mounted only depends on the root path; url_for is
        # slow enough to matter on every submit, so its answer is kept.
        root = request.scope.get("root_path", "")
        if root not in locations:
            locations[root] = request.url_for("jobqueue_get", jobId="_").path[:-1]
        return locations[root] + job_id

    def max_wait(seconds: float) -> float:
        return min(seconds, settings.max_wait_seconds)

    async def submit(
        request: Request,
        idempotency_key: IdempotencyKey = None,
        prefer: Prefer = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        body = await read_json(
            request, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
        )
        payload, options = parse_submit(body)
        new = queue.build(
            options.task,
            payload,
            priority=options.priority or 0,
            delay_seconds=options.delaySeconds,
            timeout_seconds=options.timeoutSeconds,
            max_attempts=options.maxAttempts,
            ttl_seconds=options.ttlSeconds,
            idempotency_key=idempotency_key,
            owner=principal.owner,
        )
        submission = await queue.enqueue(new)
        job = submission.job
        headers = {"Location": location_of(request, job.job_id)}
        if submission.created:
            router.metrics.submitted.labels(job.task).inc()
        else:
            headers["Idempotent-Replayed"] = "true"
        wait = prefer_wait(prefer)
        if wait is not None:
            job = await wait_until_terminal(queue, job, max_wait(wait), streams)
            if job.is_terminal:
                headers["Preference-Applied"] = f"wait={max_wait(wait):g}"
                return job_response(job, clock.now(), poll_after, headers=headers)
        status = 202 if submission.created else 200
        return job_response(job, clock.now(), poll_after, status_code=status, headers=headers)

    location = openapi.header("The job's status resource.", True)
    submit_docs: dict[str, Any] = {
        "status_code": 202,
        "response_model": None,
        "openapi_extra": {"requestBody": openapi.submit_request_body(queue)},
        "responses": {
            202: _job_answer(
                "Accepted: the job is queued.",
                {
                    "Location": location,
                    "Retry-After": openapi.header("When to poll first.", True, integer=True),
                },
            ),
            200: _job_answer(
                "An idempotent replay (`Idempotent-Replayed: true`), or the finished job "
                "when `Prefer: wait` was given and it finished in time "
                "(`Preference-Applied`).",
                {
                    "Location": location,
                    "Idempotent-Replayed": openapi.header("`true` on a replay."),
                    "Preference-Applied": openapi.header("`wait=<seconds>` when it finished."),
                },
            ),
            **openapi.problems(
                400,
                *guarded,
                413,
                415,
                422,
                503,
                descriptions={
                    400: "Payload required, malformed JSON, unknown task, or a field of "
                    "the wrong type or out of range.",
                    413: "The body is larger than the limit.",
                    415: "The body is not declared as JSON.",
                    422: "The payload fails the task's schema (`errors` says where), or "
                    "the Idempotency-Key was used with another body.",
                    503: "The store is unavailable.",
                },
            ),
        },
    }
    router.add_api_route(
        "",
        submit,
        methods=["POST"],
        name="jobqueue_submit",
        summary="Submit a job",
        **submit_docs,
    )
    router.add_api_route(
        "/submit",
        submit,
        methods=["POST"],
        name="jobqueue_submit_original",
        summary="Submit a job (the original pattern's path)",
        **submit_docs,
    )

    async def list_jobs(
        status: Statuses = None,
        task: Tasks = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        principal.require_admin("list jobs")
        page = await queue.list(statuses=status or (), tasks=task or (), limit=limit, cursor=cursor)
        body = {"jobs": [job_to_wire(job) for job in page.jobs], "nextCursor": page.next_cursor}
        return json_response(body, headers={"Cache-Control": "no-store"})

    router.add_api_route(
        "",
        list_jobs,
        methods=["GET"],
        name="jobqueue_list",
        summary="List jobs, newest first",
        response_model=None,
        responses={
            200: {"model": JobPage, "description": "A page of jobs."},
            **openapi.problems(400, *guarded, 503),
        },
    )

    async def stats(principal: Principal = Depends(auth)) -> Response:
        principal.require_admin("read stats")
        body = stats_to_wire(await queue.stats(), queue.tasks.names)
        return json_response(body, headers={"Cache-Control": "no-store"})

    router.add_api_route(
        "/stats",
        stats,
        methods=["GET"],
        name="jobqueue_stats",
        summary="Count jobs per task and status",
        response_model=None,
        responses={
            200: {"model": StatsOut, "description": "The counts."},
            **openapi.problems(*guarded, 503),
        },
    )

    async def get_job(
        job_id: JobId,
        wait: Wait = None,
        since: Since = None,
        if_none_match: IfNoneMatch = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        job = principal.check_visible(await queue.get(job_id), job_id)
        if wait:
            job = await long_poll(queue, job, since, max_wait(wait), streams)
        if etag_matches(if_none_match, etag(job)):
            return not_modified(job, clock.now(), poll_after)
        return job_response(job, clock.now(), poll_after)

    router.add_api_route(
        "/{jobId}",
        get_job,
        methods=["GET"],
        name="jobqueue_get",
        summary="A job's status (optionally a long poll)",
        response_model=None,
        responses={
            200: _job_answer("The job."),
            304: {"description": "Not modified: the `If-None-Match` ETag is current."},
            **openapi.problems(400, *guarded, 404, 503),
        },
    )

    async def events(
        job_id: JobId,
        last_event_id: LastEventId = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        job = principal.check_visible(await queue.get(job_id), job_id)
        last = parse_event_id(last_event_id)
        if last is not None and job.is_terminal and last >= job.version:
            return Response(status_code=204)
        stream = job_events(
            job,
            last,
            retry_ms=settings.sse_retry_ms,
            keepalive_seconds=settings.keepalive_seconds,
            streams=streams,
        )
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    router.add_api_route(
        "/{jobId}/events",
        events,
        methods=["GET"],
        name="jobqueue_events",
        summary="Follow a job (Server-Sent Events)",
        description="`event: job` with `id: <version>` and the job as one line of JSON, "
        "for the current state and every change; the stream closes after a terminal state.",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "The event stream.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            204: {"description": "Finished: the client already has the terminal state."},
            **openapi.problems(*guarded, 404, 503),
        },
    )

    async def cancel(job_id: JobId, principal: Principal = Depends(auth)) -> Response:
        principal.check_visible(await queue.get(job_id), job_id)
        job = await queue.cancel(job_id)
        status = 200 if job.status is JobStatus.CANCELLED else 202
        return job_response(job, clock.now(), poll_after, status_code=status)

    router.add_api_route(
        "/{jobId}/cancel",
        cancel,
        methods=["POST"],
        name="jobqueue_cancel",
        summary="Cancel a job",
        response_model=None,
        responses={
            200: _job_answer("Cancelled (it was queued)."),
            202: _job_answer("Stopping: the worker is asked to stop the running attempt."),
            **openapi.problems(
                *guarded, 404, 409, 503, descriptions={409: "Already finished; see `job`."}
            ),
        },
    )

    async def retry(job_id: JobId, principal: Principal = Depends(auth)) -> Response:
        principal.check_visible(await queue.get(job_id), job_id)
        job = await queue.retry(job_id)
        return job_response(job, clock.now(), poll_after)

    router.add_api_route(
        "/{jobId}/retry",
        retry,
        methods=["POST"],
        name="jobqueue_retry",
        summary="Run a failed or cancelled job again",
        description="Puts the job back to `queued` with a fresh attempt budget.",
        response_model=None,
        responses={
            200: _job_answer("Queued again."),
            **openapi.problems(
                *guarded,
                404,
                409,
                503,
                descriptions={409: "Not failed or cancelled; see `job`."},
            ),
        },
    )
    return router


def prefer_wait(prefer: str | None) -> float | None:
    """The seconds of a ``Prefer: wait=N`` header (RFC 7240), or None without one."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.partition(";")[0].partition("=")
        if name.strip().lower() == "wait":
            seconds = value.strip().strip('"')
            if seconds.isdigit():
                return float(seconds)
    return None


def parse_event_id(value: str | None) -> int | None:
    """The version a ``Last-Event-ID`` names; None when absent or not ours."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
