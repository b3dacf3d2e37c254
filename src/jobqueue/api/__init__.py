"""The HTTP service of API.md: a router to mount into any FastAPI app, and the standalone app.

Mounting into an existing application::

    from fastapi import FastAPI
    from jobqueue.api import create_router

    app = FastAPI()
    app.include_router(create_router(queue))   # /api/jobs/...

`create_app` builds the standalone service from the same router, adding ``/healthz``,
``/metrics``, the web pages, ``/docs`` and ``/redoc``, problem+json for unknown routes, and CORS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.routing import Match

from jobqueue import __version__
from jobqueue.api.admin import add_admin_routes
from jobqueue.api.deliveries import add_delivery_routes
from jobqueue.api.docs import add_docs
from jobqueue.api.events import add_event_routes
from jobqueue.api.handling import answer_error
from jobqueue.api.jobs import add_job_routes
from jobqueue.api.multi_events import add_multi_event_routes
from jobqueue.api.pages import add_pages
from jobqueue.api.problems import problem_response
from jobqueue.api.router import JobsRouter
from jobqueue.api.service import create_service_router
from jobqueue.api.settings import ApiSettings
from jobqueue.api.tokens import add_token_routes

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractAsyncContextManager

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute
    from starlette.types import ExceptionHandler, Scope

    from jobqueue.api.metrics import Metrics
    from jobqueue.queue import JobQueue

    Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

_CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Prefer",
    "If-None-Match",
    "Last-Event-ID",
]
_CORS_EXPOSED_HEADERS = [
    "Location",
    "Retry-After",
    "ETag",
    "Idempotent-Replayed",
    "Preference-Applied",
    "RateLimit",
    "RateLimit-Policy",
]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request, api_routes: Sequence[BaseRoute]) -> str:
    """Every method some route serves at the request's path.

    Starlette's 405 lists only the first route matching the path, while the job API
    has several routes per path (GET and POST ``/api/jobs``). A path one of the
    *api_routes* names literally is that route's resource alone: ``/api/jobs/submit``
    also fits ``/api/jobs/{jobId}``, but no job has the id "submit", so GET is not
    offered there.
    """
    scope = request.scope
    literal = [
        route
        for route in api_routes
        if not getattr(route, "param_convertors", None) and _serves(route, scope, _METHODS)
    ]
    routes = literal or request.app.router.routes
    return ", ".join(m for m in _METHODS if any(_serves(r, scope, (m,)) for r in routes))


def _serves(route: BaseRoute, scope: Scope, methods: tuple[str, ...]) -> bool:
    """Whether *route* serves one of *methods* at *scope*'s path."""
    return any(route.matches({**scope, "method": m})[0] is Match.FULL for m in methods)


def _http_problem(api_routes: Sequence[BaseRoute]) -> ExceptionHandler:
    """The answer to Starlette's HTTP errors: problem+json; a 405 says what is ``Allow`` ed."""

    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request, api_routes)
        return problem_response(exc.status_code, str(exc.detail), headers=headers)

    return answer


async def _server_problem(request: Request, exc: Exception) -> Response:
    return answer_error(exc, request)


def create_router(
    queue: JobQueue, settings: ApiSettings | None = None, *, metrics: Metrics | None = None
) -> JobsRouter:
    """The job endpoints for *queue*, to serve alone (`create_app`) or include in an app.

    Register the queue's tasks before calling it: their payload schemas are written
    into the OpenAPI document here. *settings* default to the ``JOBQUEUE_*`` variables.
    """
    router = JobsRouter(queue, settings or ApiSettings.from_env(), metrics)
    # Routes match in the order they are added: `/stats` and `/events` must come before
    # `/{jobId}`.
    add_admin_routes(router)
    add_token_routes(router)
    add_multi_event_routes(router)
    add_job_routes(router)
    add_event_routes(router)
    add_delivery_routes(router)
    return router


def create_app(
    queue: JobQueue,
    settings: ApiSettings | None = None,
    *,
    demo: bool = False,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The standalone service for *queue*.

    Args:
        settings: default from the ``JOBQUEUE_*`` environment variables.
        demo: serve the demo page at ``/`` (otherwise ``/`` redirects to the dashboard).
        lifespan: runs inside the queue's lifespan: entered once the queue is open,
            left before it closes (``jobqueue dev`` runs its worker there).

    ``app.state.jobqueue`` is the `JobsRouter`; call its ``close_streams()`` when the
    server begins to shut down so open event streams end at once.
    """
    settings = settings or ApiSettings.from_env()
    router = create_router(queue, settings)
    app = FastAPI(
        title="jobqueue",
        version=__version__,
        summary="Reliable long-running jobs behind a web page.",
        description="Submit a job, then poll its status resource, long-poll it, or follow "
        "it as Server-Sent Events until it is completed, failed or cancelled.",
        docs_url=None,  # served by add_docs, from the package rather than a CDN
        redoc_url=None,
    )
    service = create_service_router(queue, router.metrics, router.settings)
    app.include_router(router)
    app.include_router(service)
    add_pages(app, demo=demo)
    add_docs(app)
    if lifespan is not None:
        # Included last, so its lifespan nests inside the job router's (queue open).
        app.include_router(APIRouter(lifespan=lifespan))
    app.add_exception_handler(HTTPException, _http_problem([*router.routes, *service.routes]))
    app.add_exception_handler(Exception, _server_problem)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=_CORS_REQUEST_HEADERS,
            expose_headers=_CORS_EXPOSED_HEADERS,
            max_age=600,
        )
    app.state.jobqueue = router
    return app


__all__ = ["ApiSettings", "JobsRouter", "create_app", "create_router", "create_service_router"]
