"""Versioned schema migrations of the PostgreSQL store: the numbered files of
``migrations/``, applied in order and recorded in ``schema_migrations``.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

from psycopg import AsyncConnection, sql

from jobqueue.stores.postgres._connection import Connection, Settings, translated
from jobqueue.stores.statements import read_script

logger = logging.getLogger(__name__)

_MIGRATIONS_DIR = "migrations"
_MIGRATION_FILE = re.compile(r"(\d{4})_\w+\.sql")

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrations() -> list[tuple[int, str]]:
    """The (version, file name) of every migration this package ships, in order."""
    found = [
        (int(match[1]), entry.name)
        for entry in (resources.files("jobqueue.stores.postgres") / _MIGRATIONS_DIR).iterdir()
        if (match := _MIGRATION_FILE.fullmatch(entry.name))
    ]
    return sorted(found)


async def apply_migrations(conn: Connection, schema: str) -> list[int]:
    """Bring *schema* up to date in one transaction; return the versions applied.

    A transaction-level advisory lock serialises processes migrating at once: the later
    ones wait, then find nothing left to do.
    """
    async with conn.transaction():
        lock_key = f"jobqueue.migrate:{schema}"
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_key,))
        await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        await conn.execute(_MIGRATIONS_TABLE)
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        done = {row["version"] for row in await cursor.fetchall()}
        applied: list[int] = []
        for version, name in migrations():
            if version in done:
                continue
            await conn.execute(read_script("jobqueue.stores.postgres", f"{_MIGRATIONS_DIR}/{name}"))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(version)
    if applied:
        logger.info("Applied PostgreSQL migrations %s to schema %s", applied, schema)
    return applied


async def migrate(url: str, schema: str = "jobqueue") -> list[int]:
    """Create or upgrade the jobqueue tables in *schema*; return the versions applied.

    Safe while stores are open and from several processes at once. `PostgresStore.open`
    does the same, so this is for migrating ahead of a deployment (``jobqueue migrate``).
    Raises `StoreUnavailable` when the server cannot be reached.
    """
    settings = Settings(url, schema, timeout=30.0)
    async with translated():
        conn = await AsyncConnection.connect(settings.url, **settings.connect_kwargs())
        async with conn:
            return await apply_migrations(conn, schema)
