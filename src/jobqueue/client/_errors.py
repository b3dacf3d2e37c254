"""Error answers and transport failures, turned into the `jobqueue.errors` hierarchy.

A status the hierarchy has a class for raises that class (so ``except JobNotFound``
works the same against a local `JobQueue` and a remote server) with the server's
``error`` text; any other status raises `ClientError` carrying the status and body.
"""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from jobqueue.errors import (
    ClientError,
    IdempotencyConflict,
    InvalidRequest,
    InvalidTransition,
    JobNotFound,
    PayloadInvalid,
    QueueFull,
    RateLimited,
    StoreUnavailable,
)
from jobqueue.wire import parse_job

if TYPE_CHECKING:
    import httpx

    from jobqueue.errors import JobQueueError
    from jobqueue.models import JSONValue

_QUEUE_FULL = QueueFull().message


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The answer's ``Retry-After`` in seconds (delta-seconds or HTTP-date), if it has one."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _body(response: httpx.Response) -> dict[str, JSONValue]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def error_from_response(response: httpx.Response, job_id: str | None = None) -> JobQueueError:
    """The exception an error answer (status 400 and up, already read) stands for."""
    status = response.status_code
    body = _body(response)
    error = body.get("error")
    if isinstance(error, str) and error:
        message = error
    else:
        text = response.text.strip()[:200] or response.reason_phrase
        message = f"HTTP {status} from {response.request.url}: {text}"
    if status == 400:
        return InvalidRequest(message, _field_errors(body))
    if status == 404 and job_id is not None and isinstance(error, str):
        return JobNotFound(job_id)
    if status == 409 and isinstance(body.get("job"), dict):
        return InvalidTransition(parse_job(body["job"]), message)
    if status == 422:
        return _unprocessable(message, body)
    if status == 429:
        return RateLimited(math.ceil(retry_after_seconds(response) or 1), message)
    if status == 503:
        return QueueFull(message) if error == _QUEUE_FULL else StoreUnavailable(message)
    return ClientError(message, status=status, body=body)


def _unprocessable(message: str, body: dict[str, JSONValue]) -> JobQueueError:
    # A payload that fails the task's schema and a reused idempotency key are both
    # 422 with the same title; only the message tells them apart.
    if "idempotency" in message.lower():
        return IdempotencyConflict(message)
    return PayloadInvalid(message, _field_errors(body))


def _field_errors(body: dict[str, JSONValue]) -> list[dict[str, str]]:
    raw = body.get("errors")
    return [
        {str(k): str(v) for k, v in item.items()}
        for item in (raw if isinstance(raw, list) else [])
        if isinstance(item, dict)
    ]


def unreachable(exc: Exception, url: str) -> ClientError:
    """The error for a request that got no answer (refused, reset, timed out)."""
    reason = str(exc) or type(exc).__name__
    return ClientError(f"Cannot reach the jobqueue server at {url}: {reason}")
