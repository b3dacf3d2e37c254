"""The PostgreSQL backend: `PostgresStore`, and `migrate` to upgrade a schema ahead of a
deployment.
"""

from __future__ import annotations

from jobqueue.errors import MissingDependency

# Checked once here, before any module of the package imports the driver.
try:
    import psycopg  # noqa: F401
    import psycopg_pool  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingDependency("psycopg", "postgres") from exc

from jobqueue.stores.postgres._migrations import migrate, migrations
from jobqueue.stores.postgres._store import PostgresStore

__all__ = ["PostgresStore", "migrate", "migrations"]
