"""Webhook messages: what is sent for an event of a job, and the delivery job that sends it.

A delivery is a job of the built-in task `DELIVERY_TASK` whose payload is the whole
`Message`, fixed when the event happens: its ``webhook-id``, its type, and the job as it
was then. Its retries resend those bytes (signed afresh, with the time of sending). It is
tagged with `delivery_tag` of the job it reports on, which is how a job's deliveries are
listed, and created under an idempotency key of the job, the event and the job's version,
so announcing one event twice makes one delivery.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from typing_extensions import TypedDict

from jobqueue.ids import new_job_id
from jobqueue.models import JSONValue, NewJob
from jobqueue.wire import job_to_wire, timestamp

if TYPE_CHECKING:
    from datetime import datetime

    from jobqueue.models import Job

DELIVERY_TASK = "jobqueue.webhook"
#: How long an attempt may run: the POST's 10 s, the address check and some slack.
DELIVERY_TIMEOUT_SECONDS = 30.0
_TAG_PREFIX = f"{DELIVERY_TASK}:"


class Message(TypedDict):
    """A delivery's payload: where it goes and what it says."""

    url: str
    webhookId: str
    type: str
    timestamp: str
    data: dict[str, JSONValue]


def delivery_tag(job_id: str) -> str:
    """The tag of every delivery about job *job_id*."""
    return _TAG_PREFIX + job_id


def message_body(message: Message) -> dict[str, JSONValue]:
    """What is ``POST``ed: ``{"type", "timestamp", "data"}``."""
    return {"type": message["type"], "timestamp": message["timestamp"], "data": message["data"]}


def new_delivery(job: Job, event: str, now: datetime, *, max_attempts: int) -> NewJob:
    """The delivery of *event* (``completed``...) that happened to *job* at *now*."""
    assert job.webhook is not None
    key = f"{_TAG_PREFIX}{job.job_id}:{event}:{job.version}"
    message: dict[str, JSONValue] = {  # a `Message`
        "url": job.webhook.url,
        "webhookId": "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32],
        "type": f"job.{event}",
        "timestamp": timestamp(now),
        "data": job_to_wire(job),
    }
    return _delivery(job.job_id, message, job, max_attempts, key)


def resend(delivery: Job, *, max_attempts: int, about: str) -> NewJob:
    """A new delivery of the message *delivery* carries (its ``webhook-id`` too), about
    job *about*."""
    return _delivery(about, delivery.payload, delivery, max_attempts, None)


def _delivery(
    about: str, message: JSONValue, like: Job, max_attempts: int, key: str | None
) -> NewJob:
    return NewJob(
        job_id=new_job_id(),
        task=DELIVERY_TASK,
        payload=message,
        max_attempts=max_attempts,
        ttl_seconds=like.ttl_seconds,
        timeout_seconds=DELIVERY_TIMEOUT_SECONDS,
        idempotency_key=key,
        fingerprint=key,
        owner=like.owner,
        tags=(delivery_tag(about),),
    )
