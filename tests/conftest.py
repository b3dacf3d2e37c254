"""Fixtures shared by every suite: the fake clock and the store, parametrised over backends.

PostgreSQL and Redis come from ``JOBQUEUE_TEST_POSTGRES_URL`` and
``JOBQUEUE_TEST_REDIS_URL`` (defaults: the machine's local servers). A backend that
cannot be reached is skipped with the reason, except under ``CI=true``, where it fails:
CI must never pass by skipping a backend.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from jobqueue.clock import FakeClock
from jobqueue.stores import Store, open_store

POSTGRES_URL = os.environ.get(
    "JOBQUEUE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("JOBQUEUE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytest_plugins = ["pytester", "tests.support.skip_summary", "tests.support.watchdog"]


def require_service(url: str, name: str) -> None:
    """Skip (or, in CI, fail) the test when *url*'s server does not accept connections."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), 1):
            return
    except OSError as exc:
        reason = f"{name} is not reachable at {parts.hostname}:{parts.port} ({exc})"
    if IN_CI:
        pytest.fail(f"{reason}; CI must run every backend")
    pytest.skip(reason)


async def drop_postgres_schema(schema: str) -> None:
    """Drop *schema* and everything in it from the shared PostgreSQL server."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def delete_redis_keys(prefix: str) -> None:
    """Delete every key starting with *prefix* from the shared Redis server."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# A backend yields a maker of (unopened) stores that all share one set of data, and a cleanup.
StoreMaker = Callable[[], Store]
StoreFactory = Callable[[Path], Awaitable[tuple[StoreMaker, Callable[[], Awaitable[None]]]]]


async def _memory(tmp_path: Path) -> tuple[StoreMaker, Callable[[], Awaitable[None]]]:
    async def cleanup() -> None:
        return None

    return lambda: open_store("memory://"), cleanup


async def _sqlite(tmp_path: Path) -> tuple[StoreMaker, Callable[[], Awaitable[None]]]:
    async def cleanup() -> None:
        return None

    return lambda: open_store(f"sqlite:///{tmp_path / 'jobs.db'}"), cleanup


async def _postgres(tmp_path: Path) -> tuple[StoreMaker, Callable[[], Awaitable[None]]]:
    require_service(POSTGRES_URL, "PostgreSQL")
    schema = f"jq_test_{uuid.uuid4().hex[:12]}"

    return lambda: open_store(POSTGRES_URL, schema=schema), lambda: drop_postgres_schema(schema)


async def _redis(tmp_path: Path) -> tuple[StoreMaker, Callable[[], Awaitable[None]]]:
    require_service(REDIS_URL, "Redis")
    prefix = f"jqtest:{uuid.uuid4().hex[:12]}:"

    return lambda: open_store(REDIS_URL, prefix=prefix), lambda: delete_redis_keys(prefix)


BACKENDS: dict[str, StoreFactory] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "postgres": _postgres,
    "redis": _redis,
}

STORE_PARAMS = [pytest.param(name, marks=getattr(pytest.mark, name)) for name in BACKENDS]


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when a test advances it."""
    return FakeClock()


@pytest.fixture(params=STORE_PARAMS)
async def store_maker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreMaker]:
    """Makes unopened stores of each backend, all on the same (initially empty) data."""
    make, cleanup = await BACKENDS[request.param](tmp_path)
    try:
        yield make
    finally:
        await cleanup()


@pytest.fixture
async def store(store_maker: StoreMaker) -> AsyncIterator[Store]:
    """An opened, empty store of each backend."""
    opened = store_maker()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def open_sibling(
    store: Store, store_maker: StoreMaker
) -> AsyncIterator[Callable[[], Awaitable[Store]]]:
    """Opens more stores on the data of `store`, as other processes would; closes them after.

    Skips the test on a backend whose data other processes cannot share.
    """
    if not store.capabilities.is_multiprocess:
        pytest.skip("the store cannot be shared between processes")
    opened: list[Store] = []

    async def open_one() -> Store:
        sibling = store_maker()
        await sibling.open()
        opened.append(sibling)
        return sibling

    try:
        yield open_one
    finally:
        for sibling in opened:
            await sibling.close()
