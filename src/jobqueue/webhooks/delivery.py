"""The built-in delivery task: one attempt to ``POST`` one message to its receiver.

The address guard runs again first (a name may resolve elsewhere by now; a refusal ends
the delivery, a name that does not resolve is tried again). The answer must be a
``2xx`` within 10 s; redirects are not followed, so a ``3xx`` fails like any other
status, and the body of the answer is never read. A failure raises, and the task's
`DeliverySchedule` decides when the next attempt comes.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import TYPE_CHECKING

import httpx
import orjson

from jobqueue.context import Fail
from jobqueue.tasks import Task, TaskOptions, describe
from jobqueue.webhooks.guard import UnresolvableHost, UnsafeWebhookURL, check_url
from jobqueue.webhooks.messages import (
    DELIVERY_TASK,
    DELIVERY_TIMEOUT_SECONDS,
    Message,
    message_body,
)
from jobqueue.webhooks.signing import secret_key, signed_headers

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobqueue.webhooks.guard import Resolver
    from jobqueue.webhooks.schedule import DeliverySchedule

ANSWER_TIMEOUT_SECONDS = 10.0
USER_AGENT = "jobqueue-webhooks"


#: Each event loop's HTTP client: deliveries to one receiver reuse its connections.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _CLIENTS.get(loop)
    if client is None:
        client = _CLIENTS[loop] = httpx.AsyncClient(
            timeout=ANSWER_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
        )
    return client


class DeliveryFailed(Exception):
    """The receiver did not answer ``2xx``."""


async def send(message: Message, resolve: Resolver | None = None) -> int:
    """``POST`` *message*, signed with ``JOBQUEUE_WEBHOOK_SECRET``; the answer's status.

    Raises `DeliveryFailed` for an answer other than ``2xx``, httpx's errors when none
    comes, and `Fail` (no more attempts) when the guard refuses the URL.
    """
    try:
        await check_url(message["url"], resolve=resolve)
    except UnresolvableHost:
        raise
    except UnsafeWebhookURL as exc:
        raise Fail(str(exc)) from None
    body = orjson.dumps(message_body(message))
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **signed_headers(secret_key(), message["webhookId"], body, int(time.time())),
    }
    url = message["url"]
    timeout = ANSWER_TIMEOUT_SECONDS
    async with _client().stream(
        "POST", url, content=body, headers=headers, timeout=timeout
    ) as sent:
        status = sent.status_code
    if not 200 <= status < 300:
        redirect = " (a redirect, which is not followed)" if 300 <= status < 400 else ""
        raise DeliveryFailed(f"HTTP {status}{redirect}")
    return status


def delivery_task(schedule: DeliverySchedule, resolver: Callable[[], Resolver | None]) -> Task:
    """The task that sends deliveries, retried on *schedule*; *resolver* gives the
    queue's resolver of the moment (None: the system's)."""

    async def deliver(message: Message) -> dict[str, int]:
        return {"statusCode": await send(message, resolver())}

    options = TaskOptions(
        timeout_seconds=DELIVERY_TIMEOUT_SECONDS,
        max_attempts=schedule.max_attempts,
        backoff=schedule.backoff,
    )
    return describe(deliver, DELIVERY_TASK, options)
