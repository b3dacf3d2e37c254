"""One stream for many jobs: ``GET {prefix}/events?ids=…`` or ``?tag=…``, Server-Sent Events.

The streams themselves are built in `jobqueue.api.job_sets`; this endpoint checks the
query and reads the listed jobs. Jobs the caller may not see are left out exactly as
jobs that do not exist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Query
from starlette.responses import Response, StreamingResponse

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.job_sets import (
    StreamOptions,
    fingerprint,
    listed_events,
    tag_events,
    visible_jobs,
)
from jobqueue.bounds import TAG_PATTERN
from jobqueue.errors import InvalidRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from jobqueue.api.router import JobsRouter

#: The most job ids one stream may list, and the longest id (as `JobId`'s bound).
MAX_IDS = 100
MAX_JOB_ID_LENGTH = 200

#: Up to `MAX_IDS` job ids, comma-separated (ids hold no commas or spaces).
IDS_PATTERN = rf"^[^,\s]+(,[^,\s]+){{0,{MAX_IDS - 1}}}$"

Ids = Annotated[
    str | None,
    Query(
        pattern=IDS_PATTERN,
        max_length=MAX_IDS * (MAX_JOB_ID_LENGTH + 1) - 1,
        description=f"Comma-separated job ids, at most {MAX_IDS}. Give `ids` or `tag`.",
    ),
]
Tag = Annotated[
    str | None,
    Query(
        pattern=TAG_PATTERN,
        description="Every job carrying this tag, including jobs submitted later.",
    ),
]
LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="The id of the last event received."),
]

_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def add_multi_event_routes(router: JobsRouter) -> None:
    """Add ``GET {prefix}/events`` to *router* (before ``/{jobId}``, which it would fit)."""
    queue = router.queue
    settings = router.settings

    @router.get(
        "/events",
        name="jobqueue_multi_events",
        summary="Follow many jobs (Server-Sent Events)",
        description="`event: job` with the job as one line of JSON, for the current state "
        "of each job (listed by `ids`, or carrying `tag`) and every change of any of "
        "them. With `ids` the stream closes once every job has sent a terminal state; "
        "with `tag` it stays open and includes jobs submitted later. Jobs the caller "
        "may not see are left out. Each `id` stands for everything sent so far: a "
        "reconnect carrying it as `Last-Event-ID` is sent only what changed since, "
        "otherwise the current state of every job again.",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "The event stream.",
                "content": {"text/event-stream": {"itemSchema": openapi.JOB_SET_EVENT_SCHEMA}},
            },
            204: {
                "description": "Finished: every listed job is terminal and the client has "
                "its state, or the caller may see none of them."
            },
            **openapi.problems(400, *router.guarded, 503),
        },
    )
    async def multi_events(
        ids: Ids = None,
        tag: Tag = None,
        last_event_id: LastEventId = None,
        principal: Principal = Depends(router.auth),
    ) -> Response:
        if (ids is None) == (tag is None):
            raise InvalidRequest("Give exactly one of ids and tag")
        options = StreamOptions(
            principal, settings.sse_retry_ms, settings.keepalive_seconds, router.streams
        )
        stream: AsyncIterator[bytes]
        if tag is not None:
            stream = tag_events(queue, tag, last_event_id, options)
        else:
            listed = list(dict.fromkeys((ids or "").split(",")))  # without repeats
            jobs = await visible_jobs(queue, listed, principal)
            finished = all(job.is_terminal for job in jobs)
            if finished and (not jobs or last_event_id == fingerprint(jobs)):
                return Response(status_code=204)
            stream = listed_events(jobs, last_event_id, options)
        return StreamingResponse(stream, media_type="text/event-stream", headers=_HEADERS)
