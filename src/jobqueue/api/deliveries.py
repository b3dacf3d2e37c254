"""A job's webhook deliveries: ``GET {prefix}/{jobId}/deliveries`` and
``POST {prefix}/{jobId}/deliveries/{id}/redeliver``, for the job's owner or an admin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path

from jobqueue.api import openapi
from jobqueue.api.auth import Principal  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.responses import json_response
from jobqueue.api.router import JobId  # noqa: TC001 (FastAPI reads the annotations)
from jobqueue.api.schemas import DeliveriesOut, DeliveryOut
from jobqueue.webhooks.deliveries import deliveries_of, delivery_to_wire, redeliver

if TYPE_CHECKING:
    from starlette.responses import Response

    from jobqueue.api.router import JobsRouter

DeliveryId = Annotated[
    str, Path(alias="deliveryId", description="The delivery's id.", max_length=200)
]
_NO_CACHE = {"Cache-Control": "no-store"}


def add_delivery_routes(router: JobsRouter) -> None:
    """Add the two delivery endpoints to *router*."""
    queue = router.queue

    @router.get(
        "/{jobId}/deliveries",
        name="jobqueue_deliveries",
        summary="A job's webhook messages and how their delivery goes",
        response_model=None,
        responses={
            200: openapi.answer(DeliveriesOut, "Its messages, oldest first."),
            **openapi.problems(*router.guarded, 404, 503),
        },
    )
    async def deliveries(job_id: JobId, principal: Principal = Depends(router.auth)) -> Response:
        principal.require_key("read webhook deliveries")
        principal.check_visible(await queue.get(job_id), job_id)
        listed = [delivery_to_wire(delivery) for delivery in await deliveries_of(queue, job_id)]
        return json_response({"deliveries": listed}, headers=_NO_CACHE)

    @router.post(
        "/{jobId}/deliveries/{deliveryId}/redeliver",
        name="jobqueue_redeliver",
        summary="Send a webhook message again",
        description="A new delivery of the same message (the same `webhook-id`), pending.",
        status_code=202,
        response_model=None,
        responses={
            202: openapi.answer(DeliveryOut, "The new delivery."),
            **openapi.problems(*router.guarded, 404, 503),
        },
    )
    async def redeliver_one(
        job_id: JobId, delivery_id: DeliveryId, principal: Principal = Depends(router.auth)
    ) -> Response:
        principal.require_key("redeliver webhooks")
        principal.check_visible(await queue.get(job_id), job_id)
        delivery = await redeliver(queue, job_id, delivery_id)
        return json_response(delivery_to_wire(delivery), status_code=202, headers=_NO_CACHE)
