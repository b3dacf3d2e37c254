"""The operators' endpoints of API.md: the job listing and the counts (admin keys only)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, Header, Query
from starlette.responses import Response

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.responses import etag_matches, json_response
from jobqueue.bounds import TAG_PATTERN
from jobqueue.models import JobStatus
from jobqueue.stores.codec import CURSOR_PATTERN
from jobqueue.wire import JobPage, StatsOut, job_to_wire, stats_to_wire

if TYPE_CHECKING:
    from jobqueue.api.router import JobsRouter
    from jobqueue.models import Job, Page

Statuses = Annotated[list[JobStatus] | None, Query(description="Only these statuses.")]
Tasks = Annotated[list[str] | None, Query(description="Only these tasks.")]
Tag = Annotated[str | None, Query(pattern=TAG_PATTERN, description="Only jobs carrying this tag.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Jobs per page.")]
Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="`nextCursor` of the previous page, passed back as given. A string of "
        "another form is 400; a position where no job is still starts a page there.",
    ),
]

Fields = Annotated[
    Literal["summary"] | None,
    Query(
        description="`summary`: each job without its `result` and its progress message "
        "(both null), for dashboards that poll."
    ),
]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]

#: Listings and counts change all the time: never from a cache, always revalidated.
_NO_CACHE = {"Cache-Control": "no-cache"}


def _summary(job: Job) -> dict[str, Any]:
    body = job_to_wire(job)
    body["result"] = None
    if body["progress"] is not None:
        body["progress"]["message"] = None
    return body


def _page_tag(page: Page, fields: str | None) -> str:
    """A strong entity tag for a page: it changes when a listed job changes (its version),
    when the page's jobs or its cursor do, and with the fields asked for."""
    digest = hashlib.blake2b(digest_size=16)
    for job in page.jobs:
        digest.update(f"{job.job_id}:{job.version};".encode())
    digest.update(f"{page.next_cursor}|{fields}".encode())
    return f'"{digest.hexdigest()}"'


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
            200: openapi.answer(
                JobPage,
                "A page of jobs.",
                {"ETag": openapi.header("Changes when the page would.", True)},
            ),
            304: {"description": "The page is as the client's `If-None-Match` has it."},
            **openapi.problems(400, *router.guarded, 503),
        },
    )
    async def list_jobs(
        status: Statuses = None,
        task: Tasks = None,
        tag: Tag = None,
        limit: Limit = 50,
        cursor: Cursor = None,
        fields: Fields = None,
        if_none_match: IfNoneMatch = None,
        principal: Principal = Depends(auth),
    ) -> Response:
        principal.require_admin("list jobs")
        page = await queue.list(
            statuses=status or (), tasks=task or (), tag=tag, limit=limit, cursor=cursor
        )
        headers = {**_NO_CACHE, "ETag": _page_tag(page, fields)}
        if etag_matches(if_none_match, headers["ETag"]):
            return Response(status_code=304, headers=headers)
        render = _summary if fields == "summary" else job_to_wire
        body = {"jobs": [render(job) for job in page.jobs], "nextCursor": page.next_cursor}
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
        limits = {name: queue.tasks.resolve(name).options.limits for name in queue.tasks.names}
        body = stats_to_wire(await queue.stats(), queue.tasks.names, limits)
        return json_response(body, headers={"Cache-Control": "no-store"})
