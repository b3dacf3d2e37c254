"""Bad input to the Python surface raises a clear, specific error and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pydantic
import pytest

from jobqueue import (
    IdempotencyConflict,
    InvalidRequest,
    JobQueue,
    JobStatus,
    PayloadInvalid,
    UnknownTask,
)


class Image(pydantic.BaseModel):
    prompt: str = pydantic.Field(min_length=1)
    steps: int = 20


@pytest.fixture
async def queue() -> AsyncIterator[JobQueue]:
    q = JobQueue("memory://")

    @q.task(default=True)
    async def generate(payload: Image) -> None:
        return None

    @q.task
    async def anything(payload: Any) -> None:
        return None

    async with q:
        yield q


async def _count(queue: JobQueue) -> int:
    return sum((await queue.stats()).totals.values())


@pytest.mark.parametrize(
    ("task", "payload", "options", "error", "message"),
    [
        ("nope", {}, {}, UnknownTask, "Unknown task: 'nope'"),
        ("generate", {"prompt": ""}, {}, PayloadInvalid, "prompt"),
        ("generate", {"steps": 3}, {}, PayloadInvalid, "prompt: Field required"),
        ("generate", {"prompt": "x", "steps": "many"}, {}, PayloadInvalid, "steps"),
        ("anything", None, {}, InvalidRequest, "Payload required"),
        ("anything", {}, {"delay_seconds": -1}, InvalidRequest, "delaySeconds must be at least 0"),
        ("anything", {}, {"max_attempts": 0}, InvalidRequest, "maxAttempts must be between 1"),
        ("anything", {}, {"timeout_seconds": 0}, InvalidRequest, "timeoutSeconds must be greater"),
        ("anything", {}, {"ttl_seconds": -5}, InvalidRequest, "ttlSeconds must be greater"),
        ("anything", {}, {"priority": 2**40}, InvalidRequest, "priority must be between"),
        ("anything", {}, {"priority": 1.5}, InvalidRequest, "priority must be an integer"),
        ("anything", {}, {"delay_seconds": float("nan")}, InvalidRequest, "must be a number"),
        ("anything", {1, 2}, {}, InvalidRequest, "Payload is not JSON"),
        ("anything", {}, {"idempotency_key": "k" * 256}, InvalidRequest, "Idempotency-Key"),
    ],
)
async def test_bad_submission_raises_and_stores_nothing(
    queue: JobQueue,
    task: str,
    payload: Any,
    options: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(")):
        await queue.submit(task, payload, **options)
    assert await _count(queue) == 0


async def test_default_task_is_used_when_none_is_named(queue: JobQueue) -> None:
    job = await queue.submit(None, {"prompt": "a cat"})
    assert job.task == "generate"
    assert job.status is JobStatus.QUEUED


async def test_payload_error_names_each_failing_field(queue: JobQueue) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        await queue.submit("generate", {"steps": "x"})
    assert {e["field"] for e in caught.value.errors} == {"prompt", "steps"}
    assert caught.value.http_status == 422


async def test_idempotent_submit_replays_and_conflicts(queue: JobQueue) -> None:
    first = await queue.submit("anything", {"a": 1}, idempotency_key="k1")
    again = await queue.submit("anything", {"a": 1}, idempotency_key="k1")
    assert again.job_id == first.job_id
    with pytest.raises(IdempotencyConflict):
        await queue.submit("anything", {"a": 2}, idempotency_key="k1")
    assert await _count(queue) == 1


async def test_options_fall_back_to_task_then_queue_defaults() -> None:
    q = JobQueue("memory://", max_attempts=4, ttl_seconds=60)

    @q.task(max_attempts=7, timeout=5)
    async def strict(payload: Any) -> None:
        return None

    @q.task
    async def loose(payload: Any) -> None:
        return None

    async with q:
        a = await q.submit("strict", {})
        b = await q.submit("loose", {})
        c = await q.submit("loose", {}, max_attempts=2, ttl_seconds=5, timeout_seconds=1)
    assert (a.max_attempts, a.timeout_seconds, a.ttl_seconds) == (7, 5, 60)
    assert (b.max_attempts, b.timeout_seconds, b.ttl_seconds) == (4, None, 60)
    assert (c.max_attempts, c.timeout_seconds, c.ttl_seconds) == (2, 1, 5)
