"""The PostgreSQL backend: `PostgresStore`, and `migrate` to upgrade a schema ahead of a
deployment.
"""

from __future__ import annotations

from jobqueue.stores.postgres._migrations import migrate, migrations
from jobqueue.stores.postgres._store import PostgresStore

__all__ = ["PostgresStore", "migrate", "migrations"]
