"""Errors as ``application/problem+json`` (RFC 9457) with the ``error`` member clients show.

Every `JobQueueError` carries its HTTP status as a class attribute, so one function
renders them all; the few errors that only HTTP knows (413, 415, 401, 403) are
defined here.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from jobqueue.errors import InvalidRequest, InvalidTransition, JobQueueError, RateLimited
from jobqueue.wire import job_to_wire

if TYPE_CHECKING:
    from collections.abc import Mapping

PROBLEM_MEDIA_TYPE = "application/problem+json"


class PayloadTooLarge(JobQueueError):
    """The request body is larger than this service accepts."""

    http_status = 413


class UnsupportedMediaType(JobQueueError):
    """The request body must be JSON: send Content-Type: application/json."""

    http_status = 415


class Unauthorized(JobQueueError):
    """Authentication required: send Authorization: Bearer <API key>."""

    http_status = 401


class Forbidden(JobQueueError):
    """This API key may not do that."""

    http_status = 403


def problem_response(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    **members: Any,
) -> Response:
    """A problem+json response whose ``error`` and ``detail`` are *message*."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": message,
        "error": message,
        **members,
    }
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def error_response(exc: JobQueueError) -> Response:
    """The problem response for *exc*, with the headers its status calls for."""
    status = exc.http_status
    members: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidTransition):
        members["job"] = job_to_wire(exc.job)
    elif isinstance(exc, InvalidRequest) and exc.errors:
        members["errors"] = exc.errors
    elif isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, RateLimited) and exc.limit is not None:
        # draft-ietf-httpapi-ratelimit-headers: the policy, and that nothing is left of it.
        name, window = exc.limit.name, exc.limit.window_seconds
        headers["RateLimit-Policy"] = f'"{name}";q={exc.limit.amount};w={window}'
        headers["RateLimit"] = f'"{name}";r=0;t={exc.retry_after_seconds}'

    if status in (429, 503):
        seconds = getattr(exc, "retry_after_seconds", 1)
        headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return problem_response(status, exc.message, headers=headers, **members)
