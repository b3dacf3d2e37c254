"""The job resource of API.md: submit, status (with long poll), cancel and retry.

Each handler parses the request, calls the queue and renders the job; the
representation and its caching headers come from `JobsRouter.job_response`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import pydantic
from fastapi import Depends, Header, Query, Request

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.body import parse_submit, read_json
from jobqueue.api.by_hand import parameter, solved_by_hand
from jobqueue.api.responses import etag, etag_matches, not_modified
from jobqueue.api.router import JobId
from jobqueue.api.streams import long_poll, wait_until_terminal
from jobqueue.bounds import MAX_IDEMPOTENCY_KEY_LENGTH
from jobqueue.models import JobStatus
from jobqueue.wire import JobOut, SubmittedJobOut

if TYPE_CHECKING:
    from starlette.responses import Response

    from jobqueue.api.router import JobsRouter

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
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
# The same parameters, validated alike for the status route read by hand (`by_hand`).
_JOB_ID = pydantic.TypeAdapter(JobId)
_IDEMPOTENCY_KEY = pydantic.TypeAdapter(IdempotencyKey)
_WAIT = pydantic.TypeAdapter(Wait)
_SINCE = pydantic.TypeAdapter(Since)

_JOB_HEADERS = {
    "ETag": openapi.header("Changes exactly when the job's version does.", True),
    "Cache-Control": openapi.header("no-store", True),
    "Retry-After": openapi.header(
        "While the job is not finished: when to poll again.", False, integer=True
    ),
}


def _job_answer(
    description: str, headers: dict[str, Any] | None = None, model: type[JobOut] = JobOut
) -> dict[str, Any]:
    return openapi.answer(model, description, _JOB_HEADERS | (headers or {}))


def add_job_routes(router: JobsRouter) -> None:
    """Add ``POST {prefix}``, ``POST {prefix}/submit``, ``GET {prefix}/{jobId}`` and the
    job's ``cancel`` and ``retry`` actions to *router*.
    """
    queue = router.queue
    auth = router.auth
    tokens = router.tokens
    guarded = router.guarded
    locations: dict[str, str] = {}

    def location_of(request: Request, job_id: str) -> str:
        # Where the status route is mounted only depends on the root path; url_for is
        # slow enough to matter on every submit, so its answer is kept.
        root = request.scope.get("root_path", "")
        if root not in locations:
            locations[root] = request.url_for("jobqueue_get", jobId="_").path[:-1]
        return locations[root] + job_id

    def submit_arguments(request: Request) -> dict[str, Any]:
        key = request.headers.get("idempotency-key")
        return {
            "request": request,
            "idempotency_key": parameter(_IDEMPOTENCY_KEY, "header", "Idempotency-Key", key),
            "prefer": request.headers.get("prefer"),
            "principal": router.principal_of(request),
        }

    @solved_by_hand(submit_arguments)
    async def submit(
        request: Request,
        idempotency_key: IdempotencyKey = None,
        prefer: Prefer = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        principal.require_key("submit jobs")
        settings = router.settings
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
            concurrency_key=options.concurrencyKey,
            tags=options.tags,
            webhook=options.webhook.model_dump(exclude_none=True) if options.webhook else None,
            idempotency_key=idempotency_key,
            owner=principal.owner,
        )
        if router.rate_limits:
            submitter = principal.owner or (request.client.host if request.client else "")
            await queue.count_submit(router.rate_limits, submitter)
        submission = await queue.enqueue(new)
        job = submission.job
        headers = {"Location": location_of(request, job.job_id)}
        extra = {"readToken": tokens.for_job(job).token if tokens else None}
        if submission.created:
            router.metrics.submitted.labels(job.task).inc()
        else:
            headers["Idempotent-Replayed"] = "true"
        wait = prefer_wait(prefer)
        if wait is not None:
            held = router.max_wait(wait)
            job = await wait_until_terminal(queue, job, held, router.streams)
            if job.is_terminal:
                headers["Preference-Applied"] = f"wait={held:g}"
                return router.job_response(job, headers=headers, extra=extra)
        status = 202 if submission.created else 200
        return router.job_response(job, status_code=status, headers=headers, extra=extra)

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
                SubmittedJobOut,
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
                SubmittedJobOut,
            ),
            **openapi.problems(
                400,
                *guarded,
                413,
                415,
                422,
                *((429,) if router.rate_limits else ()),
                503,
                descriptions={
                    400: "Payload required, malformed JSON, unknown task, or a field of "
                    "the wrong type or out of range.",
                    413: "The body is larger than the limit.",
                    415: "The body is not declared as JSON.",
                    422: "The payload fails the task's schema (`errors` says where), or "
                    "the Idempotency-Key was used with another body.",
                    429: "The submitter is over the rate limit (`RateLimit-Policy` says "
                    "which); nothing was created.",
                    503: "The queue is full (`Queue full`) or the store is unavailable; "
                    "nothing was created.",
                },
            ),
        },
    }
    router.add_api_route(
        "", submit, methods=["POST"], name="jobqueue_submit", summary="Submit a job", **submit_docs
    )
    router.add_api_route(
        "/submit",
        submit,
        methods=["POST"],
        name="jobqueue_submit_original",
        summary="Submit a job (the original pattern's path)",
        **submit_docs,
    )

    def get_job_arguments(request: Request) -> dict[str, Any]:
        query = request.query_params
        return {
            "job_id": parameter(_JOB_ID, "path", "jobId", request.path_params["jobId"]),
            "wait": parameter(_WAIT, "query", "wait", query.get("wait")),
            "since": parameter(_SINCE, "query", "since", query.get("since")),
            "if_none_match": request.headers.get("if-none-match"),
            "principal": router.principal_of(request),
        }

    @router.get(
        "/{jobId}",
        name="jobqueue_get",
        summary="A job's status (optionally a long poll)",
        response_model=None,
        responses={
            200: _job_answer("The job."),
            304: {"description": "Not modified: the `If-None-Match` ETag is current."},
            **openapi.problems(400, *guarded, 404, 503),
        },
    )
    @solved_by_hand(get_job_arguments)
    async def get_job(
        job_id: JobId,
        wait: Wait = None,
        since: Since = None,
        if_none_match: IfNoneMatch = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        job = principal.check_visible(await queue.recent.get(job_id), job_id)
        if wait:
            job = await long_poll(queue, job, since, router.max_wait(wait), router.streams)
        job = await queue.with_position(job)
        if etag_matches(if_none_match, etag(job)):
            return not_modified(job, queue.clock.now(), router.settings.poll_after_seconds)
        return router.job_response(job)

    @router.post(
        "/{jobId}/cancel",
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
    async def cancel(job_id: JobId, principal: Principal = Depends(auth)) -> Response:
        principal.require_key("cancel jobs")
        principal.check_visible(await queue.get(job_id), job_id)
        job = await queue.cancel(job_id)
        status = 200 if job.status is JobStatus.CANCELLED else 202
        return router.job_response(job, status_code=status)

    @router.post(
        "/{jobId}/retry",
        name="jobqueue_retry",
        summary="Run a failed or cancelled job again",
        description="Puts the job back to `queued` with a fresh attempt budget.",
        response_model=None,
        responses={
            200: _job_answer("Queued again."),
            **openapi.problems(
                *guarded, 404, 409, 503, descriptions={409: "Not failed or cancelled; see `job`."}
            ),
        },
    )
    async def retry(job_id: JobId, principal: Principal = Depends(auth)) -> Response:
        principal.require_key("retry jobs")
        principal.check_visible(await queue.get(job_id), job_id)
        job = await queue.retry(job_id)
        return router.job_response(job)


def prefer_wait(prefer: str | None) -> float | None:
    """The seconds of a ``Prefer: wait=N`` header (RFC 7240), or None without one."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.partition(";")[0].partition("=")
        if name.strip().lower() == "wait":
            seconds = value.strip().strip('"')
            if seconds.isdigit():
                return float(seconds)
    return None
