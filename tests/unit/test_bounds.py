"""The submit bounds are one definition: the Python path and the HTTP schema agree on each edge."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from jobqueue import InvalidRequest, JobQueue
from jobqueue.api.schemas import SubmitFields

EDGES = [
    ("priority", "priority", 2**31 - 1, True),
    ("priority", "priority", 2**31, False),
    ("priority", "priority", -(2**31), False),
    ("delay_seconds", "delaySeconds", 0, True),
    ("delay_seconds", "delaySeconds", 366 * 86400.0 + 1, False),
    ("timeout_seconds", "timeoutSeconds", 0, False),
    ("timeout_seconds", "timeoutSeconds", 7 * 86400.0, True),
    ("max_attempts", "maxAttempts", 1000, True),
    ("max_attempts", "maxAttempts", 1001, False),
    ("ttl_seconds", "ttlSeconds", 0, False),
    ("ttl_seconds", "ttlSeconds", 0.001, True),
]


@pytest.mark.parametrize(("option", "field", "value", "accepted"), EDGES)
def test_python_and_http_accept_the_same_values(
    option: str, field: str, value: Any, accepted: bool
) -> None:
    queue = JobQueue("memory://")

    @queue.task
    async def anything(payload: Any) -> None:
        return None

    def build() -> object:
        return queue.build("anything", {}, **{option: value})

    def validate() -> object:
        return SubmitFields.model_validate({field: value})

    if accepted:
        build()
        validate()
    else:
        with pytest.raises(InvalidRequest, match=field):
            build()
        with pytest.raises(pydantic.ValidationError, match=field):
            validate()


def test_a_task_name_the_api_could_not_submit_is_refused_at_registration() -> None:
    with pytest.raises(InvalidRequest, match="name must be 1 to 200 characters"):
        JobQueue("memory://").task(name="t" * 201)
    with pytest.raises(pydantic.ValidationError, match="task"):
        SubmitFields.model_validate({"task": "t" * 201})
