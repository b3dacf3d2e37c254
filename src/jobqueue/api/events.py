"""A job's push updates: ``GET {prefix}/{jobId}/events``, Server-Sent Events.

The stream itself (shared followers, keep-alives, closing at shutdown) is built in
`jobqueue.api.streams`; this endpoint decides whether there is anything to stream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header
from starlette.responses import Response, StreamingResponse

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.router import JobId  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.streams import job_events

if TYPE_CHECKING:
    from jobqueue.api.router import JobsRouter

LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="The id (version) of the last event received."),
]


def add_event_routes(router: JobsRouter) -> None:
    """Add ``GET {prefix}/{jobId}/events`` to *router*."""
    queue = router.queue
    settings = router.settings

    @router.get(
        "/{jobId}/events",
        name="jobqueue_events",
        summary="Follow a job (Server-Sent Events)",
        description="`event: job` with `id: <version>` and the job as one line of JSON, "
        "for the current state and every change; the stream closes after a terminal state.",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "The event stream.",
                "content": {"text/event-stream": {"itemSchema": openapi.JOB_EVENT_SCHEMA}},
            },
            204: {"description": "Finished: the client already has the terminal state."},
            **openapi.problems(*router.guarded, 404, 503),
        },
    )
    async def events(
        job_id: JobId,
        last_event_id: LastEventId = None,
        principal: Principal = Depends(router.auth),
    ) -> Response:
        job = principal.check_visible(await queue.recent.get(job_id), job_id)
        job = await queue.with_position(job)
        last = parse_event_id(last_event_id)
        if last is not None and job.is_terminal and last >= job.version:
            return Response(status_code=204)
        stream = job_events(
            job,
            last,
            retry_ms=settings.sse_retry_ms,
            keepalive_seconds=settings.keepalive_seconds,
            streams=router.streams,
        )
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def parse_event_id(value: str | None) -> int | None:
    """The version a ``Last-Event-ID`` names; None when absent or not ours."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value)
