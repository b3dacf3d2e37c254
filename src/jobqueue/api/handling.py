"""The route class of the job API: errors become problem+json, every answer is counted.

It lives on the routes rather than in app-wide exception handlers so that the router
behaves the same when it is mounted into someone else's FastAPI application.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from jobqueue.api.by_hand import reader_of
from jobqueue.api.problems import error_response, problem_response
from jobqueue.errors import InvalidRequest, JobQueueError, field_errors

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from starlette.requests import Request

    from jobqueue.api.by_hand import Reader
    from jobqueue.api.metrics import Metrics

logger = logging.getLogger(__name__)


def invalid_parameters(exc: RequestValidationError) -> InvalidRequest:
    """The 400 for a request whose parameters (query, path, headers) failed validation.

    Each reason names its parameter as ``query.limit``, ``header.prefer``, ...
    """
    return InvalidRequest.of_fields(field_errors(exc.errors()))


def answer_error(exc: Exception, request: Request) -> Response:
    """The problem response for an exception a handler raised (500 for the unexpected)."""
    if isinstance(exc, JobQueueError):
        return error_response(exc)
    if isinstance(exc, RequestValidationError):
        return error_response(invalid_parameters(exc))
    if isinstance(exc, HTTPException):
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=400)  # nobody is listening any more
    logger.exception("Unexpected error answering %s %s", request.method, request.url.path)
    return problem_response(500, "Internal server error")


def _by_hand(
    endpoint: Callable[..., Any], reader: Reader
) -> Callable[[Request], Coroutine[Any, Any, Response]]:
    async def handle(request: Request) -> Response:
        response: Response = await endpoint(**reader(request))
        return response

    return handle


def route_class(metrics: Metrics) -> type[APIRoute]:
    """An `APIRoute` subclass that translates errors and records *metrics*."""

    class JobQueueRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            reader = reader_of(self.endpoint)
            handler = (
                super().get_route_handler() if reader is None else _by_hand(self.endpoint, reader)
            )
            template = self.path

            async def handle(request: Request) -> Response:
                started = time.perf_counter()
                try:
                    response = await handler(request)
                except Exception as exc:  # the API's last-resort handler (see DESIGN.md)
                    response = answer_error(exc, request)
                metrics.observe_request(
                    request.method, template, response.status_code, time.perf_counter() - started
                )
                return response

            return handle

    return JobQueueRoute
