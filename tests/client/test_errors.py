"""Error answers become the `jobqueue.errors` classes; 429/503 retry decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from jobqueue import (
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
from jobqueue.client._calls import RetryPolicy
from jobqueue.client._errors import error_from_response, retry_after_seconds

from .test_wire import JOB

REQUEST = httpx.Request("GET", "http://127.0.0.1:1/api/jobs/abc")


def answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers, text="upstream broke", request=REQUEST)
    return httpx.Response(status, headers=headers, json=body, request=REQUEST)


def problem(status: int, error: str, **members: object) -> dict[str, object]:
    return {"status": status, "error": error, "detail": error, "title": "t", **members}


def test_known_statuses_map_to_their_classes_with_the_servers_message() -> None:
    assert isinstance(
        error_from_response(answer(404, problem(404, "Job not found")), "abc"), JobNotFound
    )
    bad = error_from_response(answer(400, problem(400, "Payload required")))
    assert isinstance(bad, InvalidRequest)
    assert bad.message == "Payload required"
    conflict = error_from_response(answer(409, problem(409, "Job is completed", job=JOB)))
    assert isinstance(conflict, InvalidTransition)
    assert conflict.job.job_id == JOB["jobId"]
    assert conflict.message == "Job is completed"
    unavailable = error_from_response(
        answer(503, problem(503, "Store down"), **{"Retry-After": "2"})
    )
    assert isinstance(unavailable, StoreUnavailable)
    assert unavailable.message == "Store down"
    full = error_from_response(answer(503, problem(503, "Queue full"), **{"Retry-After": "5"}))
    assert isinstance(full, QueueFull)
    limited = error_from_response(answer(429, problem(429, "Slow down"), **{"Retry-After": "3"}))
    assert isinstance(limited, RateLimited)
    assert (limited.retry_after_seconds, limited.message) == (3, "Slow down")


def test_422_tells_a_reused_idempotency_key_from_a_bad_payload() -> None:
    reused = problem(422, "The idempotency key was already used with a different request.")
    assert isinstance(error_from_response(answer(422, reused)), IdempotencyConflict)
    fields = [{"field": "prompt", "message": "Field required"}]
    invalid = error_from_response(answer(422, problem(422, "Invalid payload", errors=fields)))
    assert isinstance(invalid, PayloadInvalid)
    assert invalid.errors == fields


def test_other_answers_raise_client_error_with_status_and_body() -> None:
    body = problem(401, "Authentication required")
    error = error_from_response(answer(401, body))
    assert type(error) is ClientError
    assert (error.status, error.body, error.message) == (401, body, "Authentication required")
    raw = error_from_response(answer(502))
    assert isinstance(raw, ClientError)
    assert raw.status == 502
    assert "upstream broke" in raw.message
    # A 404 that is no job's (a wrong prefix, say) is not JobNotFound.
    assert type(error_from_response(answer(404))) is ClientError


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds(answer(503, {}, **{"Retry-After": "7"})) == 7
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 20 < (retry_after_seconds(answer(503, {}, **{"Retry-After": later})) or 0) <= 30
    assert retry_after_seconds(answer(503, {}, **{"Retry-After": "soon"})) is None
    assert retry_after_seconds(answer(503, {})) is None


@pytest.mark.parametrize(
    ("status", "retry_after", "attempt", "expected"),
    [
        (503, "2", 0, 2.0),
        (429, None, 0, 1.0),
        (503, "2", 3, None),  # the budget is spent
        (503, "120", 0, None),  # longer than the policy waits
        (500, "1", 0, None),  # not a "try again later" answer
    ],
)
def test_the_retry_policy(
    status: int, retry_after: str | None, attempt: int, expected: float | None
) -> None:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    assert (
        RetryPolicy(retries=3, max_wait=30).delay(answer(status, {}, **headers), attempt)
        == expected
    )
