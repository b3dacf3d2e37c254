"""A job's deliveries, as the API lists them, and sending one again.

A delivery's state is its job's: ``queued`` or ``processing`` is *pending*, ``completed``
*delivered*, and ``failed`` or ``cancelled`` *failed* (its attempts ran out, or the guard
refused the URL). What the receiver answered last is read from the result, or from the
error the delivery task raised (`jobqueue.webhooks.delivery.DeliveryFailed`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jobqueue.errors import JobQueueError
from jobqueue.models import JobStatus
from jobqueue.paging import every_job
from jobqueue.webhooks.messages import DELIVERY_TASK, delivery_tag, resend
from jobqueue.wire import timestamp

if TYPE_CHECKING:
    from jobqueue.models import Job
    from jobqueue.queue import JobQueue

_STATUS_CODE = re.compile(r"^DeliveryFailed: HTTP (\d{3})\b")
_STATES = {
    JobStatus.QUEUED: "pending",
    JobStatus.PROCESSING: "pending",
    JobStatus.COMPLETED: "delivered",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}


class DeliveryNotFound(JobQueueError):
    """Delivery not found."""

    http_status = 404


async def deliveries_of(queue: JobQueue, job_id: str) -> list[Job]:
    """Every delivery about job *job_id*, oldest first."""
    found = [job async for job in every_job(queue, tasks=[DELIVERY_TASK], tag=delivery_tag(job_id))]
    return found[::-1]


async def redeliver(queue: JobQueue, job_id: str, delivery_id: str) -> Job:
    """Send the message of delivery *delivery_id* of job *job_id* again, as a new
    delivery with the same ``webhook-id``; returns it. Raises `DeliveryNotFound`."""
    delivery = await queue.get(delivery_id)
    if delivery is None or delivery.task != DELIVERY_TASK or not is_about(delivery, job_id):
        raise DeliveryNotFound
    attempts = queue.tasks.resolve(DELIVERY_TASK).options.max_attempts or 1
    return (await queue.enqueue(resend(delivery, max_attempts=attempts, about=job_id))).job


def is_about(delivery: Job, job_id: str) -> bool:
    """Whether *delivery* reports on job *job_id*."""
    return delivery_tag(job_id) in delivery.tags


def delivery_to_wire(delivery: Job) -> dict[str, Any]:
    """The API's representation of one delivery."""
    message = delivery.payload if isinstance(delivery.payload, Mapping) else {}
    result = delivery.result if isinstance(delivery.result, Mapping) else {}
    error = (delivery.error or "").partition("\n")[0] or None
    code = _STATUS_CODE.match(error or "")
    status = _STATES[delivery.status]
    last_code = int(code[1]) if code else None
    return {
        "id": delivery.job_id,
        "webhookId": message.get("webhookId"),
        "type": message.get("type"),
        "status": status,
        "attempts": delivery.attempts,
        "lastStatusCode": result.get("statusCode") if status == "delivered" else last_code,
        "lastError": None if status == "delivered" else error,
        "nextAttemptAt": timestamp(delivery.run_at)
        if delivery.status is JobStatus.QUEUED
        else None,
        "deliveredAt": timestamp(delivery.completed_at) if status == "delivered" else None,
    }
