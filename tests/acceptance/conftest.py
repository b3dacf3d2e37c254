"""Acceptance fixtures: a fresh store URL on each multi-process backend (its data removed
afterwards), the server and worker processes on it (always ended), and an HTTP client.

A test module may override ``store_url`` to run the processes on a store of its own.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx
import pytest

from tests.acceptance.processes import Processes
from tests.conftest import (
    POSTGRES_URL,
    REDIS_URL,
    delete_redis_keys,
    drop_postgres_schema,
    require_service,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

REQUEST_SECONDS = 20.0
"""The client's limit on any one request: a service that hangs fails the test instead."""


def with_query(url: str, **params: str) -> str:
    """*url* with *params* added to its query string."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.sqlite),
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty store that several processes share: a SQLite file, a schema of
    its own on the shared PostgreSQL, or a key prefix of its own on the shared Redis.
    """
    tag = uuid.uuid4().hex[:12]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
    elif request.param == "postgres":
        require_service(POSTGRES_URL, "PostgreSQL")
        schema = f"jq_accept_{tag}"
        try:
            yield with_query(POSTGRES_URL, schema=schema)
        finally:
            await drop_postgres_schema(schema)
    else:
        require_service(REDIS_URL, "Redis")
        prefix = f"jqaccept:{tag}:"
        try:
            yield with_query(REDIS_URL, prefix=prefix)
        finally:
            await delete_redis_keys(prefix)


@pytest.fixture
def processes(store_url: str, tmp_path: Path) -> Iterator[Processes]:
    """Starts `jobqueue serve` and `jobqueue worker` processes on the store; ends them all."""
    started = Processes(store_url, tmp_path)
    try:
        yield started
    finally:
        print(started.status())  # shown when the test fails: which process died, and how
        started.stop_all()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client whose every request is bounded in time."""
    # A connection per request: httpcore 1.0's pool may close an idle connection it has just
    # handed to a waiting request (encode/httpcore#1110), failing it with a ReadError.
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=REQUEST_SECONDS, limits=limits) as http:
        yield http
