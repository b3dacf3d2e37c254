"""Hostile and malformed submits: every one answers a problem+json error and stores nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jobqueue import JobQueue
from tests.api.conftest import assert_problem

LIMIT = 1024 * 1024


@pytest.fixture(autouse=True)
async def nothing_is_stored(queue: JobQueue) -> AsyncIterator[None]:
    """Every test here sends bad requests only: none may leave a job behind."""
    yield
    assert (await queue.list()).jobs == []


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"payload": }', b"\xff\xfe", b'{"payload": 1} trailing', b"NaN", b'{"payload": NaN}'],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, body: bytes):
    response = await client.post(
        "/api/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400)
    assert response.json()["error"].startswith("Malformed JSON")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/jsonp",
    ],
)
async def test_a_body_that_is_not_json_is_415(client: httpx.AsyncClient, content_type: str):
    response = await client.post(
        "/api/jobs", content=b'{"payload": 1}', headers={"Content-Type": content_type}
    )
    assert_problem(response, 415)


async def test_a_body_without_content_type_is_415(client: httpx.AsyncClient):
    response = await client.post("/api/jobs", content=b'{"payload": 1}')
    assert_problem(response, 415)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "Payload required"),
        ({"payload": None}, "Payload required"),
        ({"task": "echo"}, "Payload required"),
        (None, "Payload required"),
        ([1, 2], "The body must be a JSON object with a payload"),
        ("payload", "The body must be a JSON object with a payload"),
    ],
)
async def test_missing_payload_is_400(client: httpx.AsyncClient, body: object, error: str):
    if body is None:
        response = await client.post("/api/jobs", headers={"Content-Type": "application/json"})
    else:
        response = await client.post("/api/jobs", json=body)
    assert_problem(response, 400, error)


async def test_unknown_task_is_400(client: httpx.AsyncClient):
    response = await client.post("/api/jobs", json={"payload": 1, "task": "nope"})
    assert_problem(response, 400, "Unknown task: 'nope'")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"priority": 1.5}, "priority"),
        ({"priority": "1"}, "priority"),
        ({"priority": True}, "priority"),
        ({"priority": 2**40}, "priority"),
        ({"delaySeconds": -1}, "delaySeconds"),
        ({"delaySeconds": "soon"}, "delaySeconds"),
        ({"delaySeconds": 10**9}, "delaySeconds"),
        ({"timeoutSeconds": 0}, "timeoutSeconds"),
        ({"maxAttempts": 0}, "maxAttempts"),
        ({"maxAttempts": 1.5}, "maxAttempts"),
        ({"maxAttempts": 10**6}, "maxAttempts"),
        ({"ttlSeconds": 0}, "ttlSeconds"),
        ({"ttlSeconds": -5}, "ttlSeconds"),
        ({"task": 42}, "task"),
        ({"task": ""}, "task"),
    ],
)
async def test_options_of_the_wrong_type_or_out_of_range_are_400(
    client: httpx.AsyncClient, fields: dict[str, object], field: str
):
    response = await client.post("/api/jobs", json={"payload": 1, **fields})
    assert_problem(response, 400)
    assert response.json()["error"].startswith(field)


@pytest.mark.parametrize(
    ("field", "suggestion"),
    [
        ("delay", "delaySeconds"),
        ("delay_seconds", "delaySeconds"),
        ("timeout", "timeoutSeconds"),
        ("max_attempts", "maxAttempts"),
        ("ttl", "ttlSeconds"),
        ("Priority", "priority"),
        ("tsak", "task"),
    ],
)
async def test_an_unknown_field_is_400_suggesting_the_right_one(
    client: httpx.AsyncClient, queue: JobQueue, field: str, suggestion: str
):
    response = await client.post("/api/jobs", json={"payload": 1, field: 60})
    assert_problem(response, 400, f"{field}: not a submit field; did you mean {suggestion!r}?")
    assert response.json()["errors"] == [
        {"field": field, "message": f"not a submit field; did you mean {suggestion!r}?"}
    ]
    assert (await queue.list()).jobs == []


async def test_every_unknown_field_is_listed(client: httpx.AsyncClient):
    body = {"payload": 1, "colour": "red", "shade": "dark"}
    response = await client.post("/api/jobs", json=body)
    assert_problem(response, 400)
    assert response.json()["errors"] == [
        {"field": "colour", "message": "not a submit field"},
        {"field": "shade", "message": "not a submit field"},
    ]


async def test_bad_query_options_answer_the_same_problem_shape(client: httpx.AsyncClient):
    response = await client.get("/api/jobs", params={"limit": "many", "status": "lost"})
    assert_problem(response, 400)
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == ["query.status.0", "query.limit"]
    assert all(error["message"] for error in errors)
    assert response.json()["detail"].startswith("query.status.0: ")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "x"}, "width"),
        ({"url": "x", "width": 0}, "width"),
        ({"url": "x", "width": "10"}, "width"),
        ({"url": "", "width": 10}, "url"),
        ("not an object", "payload"),
    ],
)
async def test_a_payload_failing_its_model_is_422_naming_the_field(
    client: httpx.AsyncClient, payload: object, field: str
):
    response = await client.post("/api/jobs", json={"task": "resize", "payload": payload})
    assert_problem(response, 422)
    body = response.json()
    assert field in body["detail"]
    assert [error["field"] for error in body["errors"]] == [field]


async def test_an_oversized_content_length_is_413_before_the_body_is_read(
    client: httpx.AsyncClient,
):
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            sent.append(1)
            yield b" " * LIMIT

    response = await client.post(
        "/api/jobs",
        content=body(),
        headers={"Content-Type": "application/json", "Content-Length": str(4 * LIMIT)},
    )
    assert_problem(response, 413)
    assert len(sent) <= 1  # the transport may prime the first chunk; nothing more is read


async def test_an_oversized_streamed_body_is_413_once_the_limit_is_passed(
    client: httpx.AsyncClient,
):
    sent: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            sent.append(1)
            yield b" " * (LIMIT // 8)

    response = await client.post(
        "/api/jobs", content=body(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    assert len(sent) < 16  # it stopped reading shortly after 1 MiB, not at 8 MiB


async def test_a_body_just_under_the_limit_is_read(client: httpx.AsyncClient):
    body = b'{"payload": "' + b"x" * (LIMIT - 100) + b'", "task": "nope"}'
    response = await client.post(
        "/api/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "Unknown task: 'nope'")


@pytest.mark.parametrize("depth", [65, 2000])
async def test_deeply_nested_json_is_400(client: httpx.AsyncClient, depth: int):
    body = b'{"payload": ' + b"[" * depth + b"]" * depth + b"}"
    response = await client.post(
        "/api/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400)


async def test_a_large_payload_failing_its_model_stores_nothing(client: httpx.AsyncClient):
    payload = {"url": "x", "width": -1, "extra": list(range(50_000))}
    response = await client.post("/api/jobs", json={"task": "resize", "payload": payload})
    assert_problem(response, 422)


async def test_the_content_length_must_be_a_number(client: httpx.AsyncClient):
    request = client.build_request(
        "POST", "/api/jobs", content=b'{"payload": 1}', headers={"Content-Type": "application/json"}
    )
    request.headers["Content-Length"] = "lots"
    response = await client.send(request)
    assert_problem(response, 400)
