"""What only the PostgreSQL store has: versioned migrations, SKIP LOCKED claims over the
partial ready index, its LISTEN connection, and the translation of driver errors.

The behaviour every store shares (including changes and claims across store instances)
is the conformance suite's.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg import sql

from jobqueue.errors import ConfigError, StoreError, StoreUnavailable
from jobqueue.models import Claimant
from jobqueue.stores import open_store
from jobqueue.stores.postgres import PostgresStore, migrate, migrations
from jobqueue.stores.postgres._rows import CLAIM_READY
from tests.conftest import POSTGRES_URL, require_service
from tests.stores.conformance.helpers import (
    LEASE_SECONDS,
    TASK,
    WAIT_SECONDS,
    Watcher,
    submit,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from jobqueue.clock import FakeClock

pytestmark = pytest.mark.postgres


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A schema name no other test uses; dropped afterwards."""
    require_service(POSTGRES_URL, "PostgreSQL")
    name = f"jq_test_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        async with await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True) as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            )


@pytest.fixture
async def admin(schema: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A plain connection looking at the test's schema, for what the store must not do."""
    conn = await psycopg.AsyncConnection.connect(
        POSTGRES_URL, autocommit=True, options=f"-c search_path={schema}"
    )
    async with conn:
        yield conn


@pytest.fixture
async def stores(schema: str) -> AsyncIterator[Callable[..., Awaitable[PostgresStore]]]:
    """Opens stores (each with its own pool) on the test's schema; closes them after."""
    opened: list[PostgresStore] = []

    async def open_one(**options: Any) -> PostgresStore:
        store = PostgresStore(POSTGRES_URL, schema=schema, **options)
        await store.open()
        opened.append(store)
        return store

    try:
        yield open_one
    finally:
        for store in opened:
            await store.close()


async def _recorded(admin: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
    cursor = await admin.execute("SELECT version, name FROM schema_migrations ORDER BY version")
    return await cursor.fetchall()


# -- migrations ----------------------------------------------------------------


async def test_open_applies_each_migration_once_and_records_it(stores, admin) -> None:
    first = await stores()
    await first.close()
    await stores()

    assert migrations()[0] == (1, "0001_initial.sql")
    assert await _recorded(admin) == migrations()


async def test_migrate_prepares_a_schema_ahead_of_any_store(
    schema: str, stores, admin, clock: FakeClock
) -> None:
    assert await migrate(POSTGRES_URL, schema) == [version for version, _ in migrations()]
    assert await migrate(POSTGRES_URL, schema) == []

    store = await stores()
    job = await submit(store, clock)
    assert await store.get(job.job_id, clock.now()) == job
    assert await _recorded(admin) == migrations()


async def test_stores_opening_at_once_migrate_safely(stores, admin, clock: FakeClock) -> None:
    opened = await asyncio.gather(*(stores() for _ in range(4)))

    assert await _recorded(admin) == migrations()
    job = await submit(opened[0], clock)
    for store in opened[1:]:
        assert await store.get(job.job_id, clock.now()) == job


# -- claims --------------------------------------------------------------------


async def test_a_claim_skips_a_job_another_transaction_holds(
    stores, admin, clock: FakeClock
) -> None:
    store = await stores()
    held = await submit(store, clock, priority=1)
    free = await submit(store, clock)

    async with admin.transaction():
        await admin.execute("SELECT 1 FROM jobs WHERE job_id = %s FOR UPDATE", (held.job_id,))
        # Waiting for the lock instead of skipping the row would never return here.
        claims = await asyncio.wait_for(
            store.claim(Claimant("worker-1", frozenset({TASK}), LEASE_SECONDS), 2, clock.now()),
            WAIT_SECONDS,
        )
        assert [claim.job.job_id for claim in claims] == [free.job_id]

    claims = await store.claim(
        Claimant("worker-1", frozenset({TASK}), LEASE_SECONDS), 2, clock.now()
    )
    assert [claim.job.job_id for claim in claims] == [held.job_id]


async def test_a_claim_walks_the_partial_ready_index(stores, admin, clock: FakeClock) -> None:
    await stores()
    await admin.execute(
        """
        INSERT INTO jobs (job_id, task, status, payload, created_at, run_at,
                          max_attempts, ttl_seconds, priority)
        SELECT 'job-' || i, 'task-' || (i %% 4),
               CASE WHEN i %% 50 = 0 THEN 'queued' ELSE 'completed' END,
               '{}', %(now)s, %(now)s, 3, 60, i %% 3
        FROM generate_series(1, 5000) AS i
        """,
        {"now": clock.now()},
    )
    await admin.execute("ANALYZE jobs")
    claim = CLAIM_READY
    params = {
        "tasks": ["task-1", "task-2"],
        "rooms": [5, 5],
        "costs": [1, 1],
        "slots": 5,
        "now": clock.now(),
        "worker_id": "worker-1",
        "lease_expires_at": clock.now(),
    }

    cursor = await admin.execute("EXPLAIN (FORMAT JSON) " + claim, params)
    plan = str(await cursor.fetchone())

    assert "jobs_ready" in plan
    assert "Seq Scan" not in plan


# -- change feed ---------------------------------------------------------------


async def test_a_lost_listen_connection_is_reestablished(
    schema: str, stores, admin, clock: FakeClock
) -> None:
    store = await stores()
    async with Watcher(store) as watcher:
        await watcher.prime(lambda: submit(store, clock))

        cursor = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
            (f'LISTEN "jobqueue:{schema}"',),
        )
        assert await cursor.fetchall() == [(True,)]

        await watcher.prime(lambda: submit(store, clock))


# -- configuration and errors -----------------------------------------------------


async def test_both_url_schemes_open_the_store(schema: str, clock: FakeClock) -> None:
    store = open_store(POSTGRES_URL.replace("postgresql://", "postgres://", 1), schema=schema)
    assert isinstance(store, PostgresStore)
    async with store:
        await submit(store, clock)


@pytest.mark.parametrize("name", ["", "Jobs", "job-queue", "1jobs", "j" * 55])
def test_a_schema_name_must_be_a_plain_identifier(name: str) -> None:
    with pytest.raises(ConfigError, match="schema name"):
        PostgresStore(POSTGRES_URL, schema=name)


def test_a_url_of_another_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="Not a PostgreSQL URL"):
        PostgresStore("mysql://localhost/test")


async def test_an_unreachable_server_raises_store_unavailable(schema: str) -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test", schema=schema, timeout=0.5)
    with pytest.raises(StoreUnavailable) as caught:
        await store.open()
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)


async def test_a_rejected_statement_raises_store_error(stores, clock: FakeClock) -> None:
    store = await stores()
    with pytest.raises(StoreError) as caught:
        await submit(store, clock, priority=2**40)  # beyond the integer column
    assert not isinstance(caught.value, StoreUnavailable)
    assert isinstance(caught.value.__cause__, psycopg.DataError)


async def test_a_store_that_is_not_open_refuses_work(schema: str, clock: FakeClock) -> None:
    store = PostgresStore(POSTGRES_URL, schema=schema)
    with pytest.raises(StoreError, match="not open"):
        await store.get("anything", clock.now())


async def test_ended_rate_windows_are_purged(stores, admin, clock: FakeClock) -> None:
    store = await stores()
    await store.count_hit("ended", clock.now() + timedelta(seconds=1), clock.now())
    await store.count_hit("live", clock.now() + timedelta(seconds=10), clock.now())

    clock.advance(2)
    await store.purge_expired(clock.now())

    cursor = await admin.execute("SELECT key FROM rate_hits")
    assert await cursor.fetchall() == [("live",)]
