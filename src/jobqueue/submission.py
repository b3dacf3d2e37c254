"""Turning a submit request into a `NewJob`: the task's payload type, the bounds of every
option, the defaults (the submit's, then the task's, then the queue's) and the
idempotency fingerprint. Pure: nothing here touches a store."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from jobqueue.bounds import (
    DELAY_SECONDS,
    MAX_ATTEMPTS,
    MAX_CONCURRENCY_KEY_LENGTH,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    PRIORITY,
    TIMEOUT_SECONDS,
    TTL_SECONDS,
    check_length,
    checked_tags,
    checked_webhook,
)
from jobqueue.errors import InvalidRequest
from jobqueue.ids import new_job_id
from jobqueue.models import NUL, NewJob, QueueCap

if TYPE_CHECKING:
    from jobqueue.models import JSONValue, SubmitOptions
    from jobqueue.tasks import QueueDefaults, Task


def build_new_job(
    task: Task,
    payload: JSONValue,
    options: SubmitOptions,
    *,
    owner: str | None,
    fallback: QueueDefaults,
) -> NewJob:
    """The job *options* ask for, or `InvalidRequest` (`PayloadInvalid` for the payload).

    An option left out takes *task*'s default, then *fallback* (the queue's defaults).
    """
    if payload is None:
        raise InvalidRequest("Payload required")
    task.validate(payload)
    try:
        canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise InvalidRequest(f"Payload is not JSON: {exc}") from None
    idempotency_key = options.get("idempotency_key")
    concurrency_key = options.get("concurrency_key")
    check_length("Idempotency-Key", idempotency_key, MAX_IDEMPOTENCY_KEY_LENGTH)
    check_length("concurrencyKey", concurrency_key, MAX_CONCURRENCY_KEY_LENGTH)
    if any(NUL in (text or "") for text in (idempotency_key, owner, concurrency_key)):
        raise InvalidRequest(
            "Idempotency-Key, concurrencyKey and owner must not contain U+0000 (NUL)"
        )
    tags = checked_tags(options.get("tags"))
    webhook = checked_webhook(options.get("webhook"))
    defaults = task.options
    priority = options.get("priority") or 0
    delay_seconds = options.get("delay_seconds")
    timeout_seconds = options.get("timeout_seconds")
    max_attempts = MAX_ATTEMPTS.integer("maxAttempts", options.get("max_attempts"))
    ttl_seconds = options.get("ttl_seconds")
    ttl = TTL_SECONDS.number("ttlSeconds", ttl_seconds)
    new = NewJob(
        job_id=new_job_id(),
        task=task.name,
        payload=payload,
        priority=PRIORITY.integer("priority", priority) or 0,
        delay_seconds=DELAY_SECONDS.number("delaySeconds", delay_seconds) or 0.0,
        timeout_seconds=TIMEOUT_SECONDS.number("timeoutSeconds", timeout_seconds)
        or defaults.timeout_seconds
        or fallback.timeout_seconds,
        max_attempts=max_attempts or defaults.max_attempts or fallback.max_attempts,
        ttl_seconds=ttl or defaults.ttl_seconds or fallback.ttl_seconds,
        idempotency_key=_scoped(idempotency_key, owner),
        owner=owner,
        concurrency_key=concurrency_key,
        tags=tags,
        webhook=webhook,
        queue_cap=_queue_cap(defaults.max_queued, fallback.max_queued),
    )
    if idempotency_key is None:
        return new
    request = [
        task.name,
        priority,
        delay_seconds,
        timeout_seconds,
        max_attempts,
        ttl_seconds,
        concurrency_key,
        # Only when given, so a key stored before tags existed replays the same.
        *([list(tags)] if tags else []),
        *([webhook.to_json()] if webhook else []),
    ]
    digest = hashlib.sha256(orjson.dumps([*request, owner]) + canonical).hexdigest()
    return replace(new, fingerprint=digest)


def _queue_cap(of_task: int | None, in_all: int | None) -> QueueCap | None:
    if of_task is None and in_all is None:
        return None
    return QueueCap(of_task=of_task, in_all=in_all)


def _scoped(idempotency_key: str | None, owner: str | None) -> str | None:
    """Idempotency keys are per owner: another API key's use of a key neither clashes
    with it nor learns that it exists."""
    if idempotency_key is None or owner is None:
        return idempotency_key
    return f"{len(owner)}:{owner}:{idempotency_key}"
