"""Registering tasks: signatures, payload types, names and defaults."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from jobqueue import ConfigError, JobContext, JobQueue, UnknownTask
from jobqueue.models import JSONValue


class Payload(pydantic.BaseModel):
    n: int


def test_payload_model_and_context_are_found() -> None:
    q = JobQueue("memory://")

    @q.task(name="renamed")
    async def fn(ctx: JobContext, payload: Payload) -> None:
        return None

    task = q.tasks.resolve("renamed")
    assert task.context_parameter == "ctx"
    assert task.is_async
    assert task.validate({"n": "3"}) == Payload(n=3)
    assert task.payload_schema() == Payload.model_json_schema()


def test_unannotated_payload_is_passed_through() -> None:
    q = JobQueue("memory://")

    @q.task
    def plain(payload):
        return payload

    task = q.tasks.resolve("plain")
    assert not task.is_async
    assert task.payload_schema() is None
    assert task.validate([1, "x"]) == [1, "x"]


def test_bad_registrations_raise_config_errors() -> None:
    q = JobQueue("memory://")

    @q.task
    async def once(payload: Any) -> None:
        return None

    with pytest.raises(ConfigError, match="already registered"):
        q.task(name="once")(once)

    async def no_payload() -> None:
        return None

    with pytest.raises(ConfigError, match="must take the payload"):
        q.task(no_payload)

    async def extra(payload: Any, other: int) -> None:
        return None

    with pytest.raises(ConfigError, match="only take the payload"):
        q.task(extra)

    with pytest.raises(ValueError, match="max_attempts"):
        q.task(max_attempts=0)
    with pytest.raises(ValueError, match="max_queued"):
        q.task(max_queued=0)


def test_only_one_default_task() -> None:
    q = JobQueue("memory://")
    q.task(default=True, name="a")(lambda payload: None)
    with pytest.raises(ConfigError, match="already the default"):
        q.task(default=True, name="b")(lambda payload: None)


def test_unknown_and_missing_default() -> None:
    q = JobQueue("memory://")
    with pytest.raises(UnknownTask, match="no default task"):
        q.tasks.resolve(None)
    with pytest.raises(UnknownTask, match="'x'"):
        q.tasks.resolve("x")


def test_payload_annotated_with_json_value_validates_json() -> None:
    q = JobQueue("memory://")

    @q.task
    def anything(payload: JSONValue) -> None:
        return None

    task = q.tasks.resolve("anything")
    assert task.validate({"a": [1, "b", None]}) == {"a": [1, "b", None]}
    assert task.payload_schema() is not None
