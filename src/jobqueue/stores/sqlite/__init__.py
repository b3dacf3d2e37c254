"""The SQLite backend: `SQLiteStore`, jobs in one file that every process on the machine
can share.
"""

from __future__ import annotations

from jobqueue.stores.sqlite._connection import SCHEMA_VERSION, parse_url
from jobqueue.stores.sqlite._store import SQLiteStore

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "parse_url"]
