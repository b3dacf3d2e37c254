"""JSON responses, and the job resource's caching headers (ETag, Cache-Control, Retry-After)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from jobqueue.models import JobStatus
from jobqueue.wire import job_to_wire

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from jobqueue.models import Job

#: The longest Retry-After suggested for a job that is not due yet.
MAX_POLL_DELAY_SECONDS = 60


def json_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """*body* serialised by orjson."""
    return Response(
        orjson.dumps(body), status_code=status_code, headers=headers, media_type="application/json"
    )


def etag(job: Job) -> str:
    """The job's entity tag: it changes exactly when the job's version, its queue
    position or its estimated start (to the second) does."""
    tag = f"{job.job_id}-{job.version}"
    if job.queue_position is not None:
        tag += f"-{job.queue_position}"
    if job.estimated_start_at is not None:
        tag += f"@{int(job.estimated_start_at.timestamp())}"
    return f'W/"{tag}"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an ``If-None-Match`` header matches *tag* (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(",")
    )


def poll_delay(job: Job, now: datetime, default: int) -> int | None:
    """Seconds a client should wait before polling *job* again; None once it is terminal.

    A job delayed into the future is worth polling again when it becomes due.
    """
    if job.is_terminal:
        return None
    if job.status is JobStatus.QUEUED and job.run_at > now:
        due_in = math.ceil((job.run_at - now).total_seconds())
        return max(default, min(due_in, MAX_POLL_DELAY_SECONDS))
    return default


def job_headers(job: Job, now: datetime, poll_after: int) -> dict[str, str]:
    """The headers every answer carrying a job has."""
    headers = {"ETag": etag(job), "Cache-Control": "no-store"}
    delay = poll_delay(job, now, poll_after)
    if delay is not None:
        headers["Retry-After"] = str(delay)
    return headers


def job_response(
    job: Job,
    now: datetime,
    poll_after: int,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    """The job representation (and *extra* fields) with its caching headers (and any
    extra *headers*)."""
    body = job_to_wire(job)
    if extra:
        body.update(extra)
    return json_response(
        body, status_code, {**job_headers(job, now, poll_after), **(headers or {})}
    )


def not_modified(job: Job, now: datetime, poll_after: int) -> Response:
    """``304 Not Modified`` for a client whose copy of *job* is current."""
    return Response(status_code=304, headers=job_headers(job, now, poll_after))
