"""The operators' endpoints of API.md: the job listing and the counts (admin keys only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, Query
from starlette.responses import Response

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.jobs import IfNoneMatch  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.responses import etag_matches, json_response, page_etag
from jobqueue.models import JobStatus
from jobqueue.wire import (
    JobPage,
    JobSummaryPage,
    StatsOut,
    job_summary_to_wire,
    job_to_wire,
    stats_to_wire,
)

if TYPE_CHECKING:
    from jobqueue.api.router import JobsRouter

Statuses = Annotated[list[JobStatus] | None, Query(description="Only these statuses.")]
Tasks = Annotated[list[str] | None, Query(description="Only these tasks.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Jobs per page.")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=1000, description="`nextCursor` of the previous page."),
]
Fields = Annotated[
    Literal["summary"] | None,
    Query(
        description="`summary`: leave each job's `result` and progress `message` out "
        "(for dashboards that poll)."
    ),
]

#: Listings and counts change all the time: never from a cache.
_NO_STORE = {"Cache-Control": "no-store"}
_LIST_HEADERS = {
    "ETag": openapi.header(
        "Changes when a listed job changes, joins or leaves the page; send it back in "
        "`If-None-Match` to be answered 304 while it holds.",
        True,
    ),
    "Cache-Control": openapi.header("no-store", True),
}


def add_admin_routes(router: JobsRouter) -> None:
    """Add ``GET {prefix}`` (the listing) and ``GET {prefix}/stats`` to *router*."""
    queue = router.queue
    auth = router.auth

    @router.get(
        "",
        name="jobqueue_list",
        summary="List jobs, newest first",
        response_model=None,
        responses={
            200: {
                "model": JobPage | JobSummaryPage,
                "description": "A page of jobs (their summaries with `fields=summary`).",
                "headers": _LIST_HEADERS,
            },
            304: {"description": "Not modified: the `If-None-Match` ETag is current."},
            **openapi.problems(400, *router.guarded, 503),
        },
    )
    async def list_jobs(
        status: Statuses = None,
        task: Tasks = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        fields: Fields = None,
        if_none_match: IfNoneMatch = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        principal.require_admin("list jobs")
        page = await queue.list(statuses=status or (), tasks=task or (), limit=limit, cursor=cursor)
        headers = {"ETag": page_etag(page.jobs, page.next_cursor, fields), **_NO_STORE}
        if etag_matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        represent = job_summary_to_wire if fields == "summary" else job_to_wire
        body = {"jobs": [represent(job) for job in page.jobs], "nextCursor": page.next_cursor}
        return json_response(body, headers=headers)

    @router.get(
        "/stats",
        name="jobqueue_stats",
        summary="Count jobs per task and status",
        response_model=None,
        responses={
            200: openapi.answer(StatsOut, "The counts."),
            **openapi.problems(*router.guarded, 503),
        },
    )
    async def stats(principal: Principal = Depends(auth)) -> Response:
        principal.require_admin("read stats")
        body = stats_to_wire(await queue.stats(), queue.tasks.names)
        return json_response(body, headers=_NO_STORE)
