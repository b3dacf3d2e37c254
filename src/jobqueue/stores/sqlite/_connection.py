"""Opening the SQLite store's file: its URL, the connection's settings, the schema, and
the one place where driver errors become store errors.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import unquote

from jobqueue.errors import ConfigError, StoreError, StoreUnavailable
from jobqueue.stores.statements import read_script

SCHEMA_VERSION = 4
"""The schema version this code writes, kept in ``PRAGMA user_version``."""

# Errors that say "not now" rather than "never": locked beyond the busy timeout, I/O
# trouble, a full disk, a file that cannot be opened.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)


def parse_url(url: str) -> str:
    """The file path of a ``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` URL."""
    scheme, separator, rest = url.partition("://")
    if scheme.partition("+")[0].lower() != "sqlite" or not separator or not rest.startswith("/"):
        raise ConfigError(
            f"Invalid SQLite store URL {url!r}: use sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    if "?" in rest:
        raise ConfigError(f"SQLite store URL {url!r}: query options are not supported")
    return unquote(rest[1:])


def store_error(path: str, exc: sqlite3.Error) -> StoreError:
    """The store error that driver error *exc* on the file *path* stands for."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    error = StoreUnavailable if code in _UNAVAILABLE_CODES else StoreError
    return error(f"SQLite store {path}: {exc}")


def connect(path: str, busy_timeout: float) -> sqlite3.Connection:
    """A connection to *path* in WAL mode, its schema created when missing.

    The connection runs in autocommit mode: the store issues ``BEGIN`` itself. It may be
    used only on the thread that made it.
    """
    connection = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=True
    )
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        _migrate(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def _migrate(connection: sqlite3.Connection, path: str) -> None:
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this jobqueue "
            f"knows ({SCHEMA_VERSION}); upgrade jobqueue"
        )
    # Idempotent statements, under the write lock: racing processes are harmless. A file
    # made by an older version (not a new one, at 0) first takes each step since.
    steps = [
        read_script("jobqueue.stores.sqlite", f"upgrades/{step}.sql")
        for step in range(version + 1, SCHEMA_VERSION + 1)
        if version > 0
    ]
    schema = read_script("jobqueue.stores.sqlite", "schema.sql")
    script = "\n".join([*steps, schema, f"PRAGMA user_version = {SCHEMA_VERSION};"])
    try:
        connection.executescript(f"BEGIN IMMEDIATE;\n{script}\nCOMMIT;")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        # Another process took the same steps first: their column changes fail here.
        if connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            raise
