"""The service endpoints outside the job prefix: ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from starlette.responses import Response

from jobqueue.api import openapi
from jobqueue.api.auth import Principal, authenticator
from jobqueue.api.handling import route_class
from jobqueue.api.metrics import CONTENT_TYPE, Metrics
from jobqueue.api.read_tokens import ReadTokens
from jobqueue.api.responses import json_response
from jobqueue.api.schemas import HealthOut
from jobqueue.errors import StoreUnavailable

HEALTH_TIMEOUT_SECONDS = 1.0

if TYPE_CHECKING:
    from jobqueue.api.settings import ApiSettings
    from jobqueue.queue import JobQueue


def create_service_router(
    queue: JobQueue, metrics: Metrics, settings: ApiSettings | None = None
) -> APIRouter:
    """``/healthz`` (200 when the store answers, else 503) and ``/metrics`` (Prometheus).

    ``/healthz`` needs no API key; ``/metrics`` needs an admin key when *settings* has
    API keys. Pass the job router's ``metrics`` and ``settings``, so that one ``/metrics``
    shows its requests and takes its keys.
    """
    router = APIRouter(tags=["service"], route_class=route_class(metrics))

    async def healthz() -> Response:
        try:
            # A health check must answer quickly: a store that takes longer is unavailable.
            async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS):
                await queue.ping()
        except TimeoutError:
            raise StoreUnavailable("The store did not answer in time") from None
        return json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})

    router.add_api_route(
        "/healthz",
        healthz,
        methods=["GET"],
        name="jobqueue_healthz",
        summary="Whether the service and its store answer",
        response_model=None,
        responses={
            200: openapi.answer(HealthOut, "The store answers."),
            **openapi.problems(503, descriptions={503: "The store does not answer."}),
        },
    )

    async def prometheus() -> Response:
        return Response(await metrics.render(queue), media_type=CONTENT_TYPE)

    dependencies = []
    if settings is not None and settings.has_auth:
        auth = authenticator(settings, ReadTokens.of(settings, queue.clock))

        async def admin(principal: Principal = Depends(auth)) -> None:
            principal.require_admin("read the metrics")

        dependencies.append(Depends(admin))

    router.add_api_route(
        "/metrics",
        prometheus,
        methods=["GET"],
        name="jobqueue_metrics",
        summary="Metrics in the Prometheus text format",
        description="With API keys configured, an admin key is needed.",
        response_class=Response,
        dependencies=dependencies,
        responses={
            200: {
                "description": "The metrics.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **(openapi.problems(401, 403) if dependencies else {}),
        },
    )
    return router
