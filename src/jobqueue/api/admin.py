"""The operators' endpoints of API.md: the job listing and the counts (admin keys only)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Query

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.responses import json_response
from jobqueue.models import JobStatus
from jobqueue.stores.codec import CURSOR_PATTERN
from jobqueue.wire import JobPage, StatsOut, job_to_wire, stats_to_wire

if TYPE_CHECKING:
    from starlette.responses import Response

    from jobqueue.api.router import JobsRouter

Statuses = Annotated[list[JobStatus] | None, Query(description="Only these statuses.")]
Tasks = Annotated[list[str] | None, Query(description="Only these tasks.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Jobs per page.")]
Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="`nextCursor` of the previous page, passed back as given. A string of "
        "another form is 400; a position where no job is still starts a page there.",
    ),
]

#: Listings and counts change all the time: never from a cache.
_NO_STORE = {"Cache-Control": "no-store"}


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
            200: openapi.answer(JobPage, "A page of jobs."),
            **openapi.problems(400, *router.guarded, 503),
        },
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
        return json_response(body, headers=_NO_STORE)

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
