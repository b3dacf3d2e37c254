"""Plumbing shared by the PostgreSQL store's modules: connection settings, and the one
place where driver errors become store errors.
"""

from __future__ import annotations

import contextlib
import math
import re
from typing import TYPE_CHECKING, Any

import orjson
import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_dumps, set_json_loads

from jobqueue.errors import ConfigError, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

Connection = psycopg.AsyncConnection[DictRow]

# Unquoted-identifier syntax, short enough for the channel name "jobqueue:<schema>" to
# fit PostgreSQL's 63-byte limit.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,53}")
_URL_SCHEME = re.compile(r"postgres(?:ql)?(?:\+\w+)?://", re.IGNORECASE)


class Settings:
    """A validated URL and schema, and the connection options that follow from them."""

    def __init__(self, url: str, schema: str, timeout: float) -> None:
        if not _URL_SCHEME.match(url):
            raise ConfigError(f"Not a PostgreSQL URL: {url!r}")
        if not _SCHEMA_NAME.fullmatch(schema):
            raise ConfigError(
                f"Invalid schema name {schema!r}: use 1-54 lower-case letters, digits or _"
            )
        # libpq knows postgresql:// and postgres:// but not a "+driver" suffix.
        self.url = "postgresql://" + url.split("://", 1)[1]
        self.schema = schema
        self.timeout = timeout
        #: Where the notify_job_change trigger (0001_initial.sql) announces changes.
        self.channel = f"jobqueue:{schema}"

    @property
    def connect_timeout(self) -> int:
        """Seconds allowed to establish a connection (libpq takes whole seconds, >= 2)."""
        return max(2, math.ceil(self.timeout))

    def connect_kwargs(self) -> dict[str, Any]:
        """Options of a working connection: our schema only, UTC, dict rows, autocommit."""
        own = f"-c search_path={self.schema} -c TimeZone=UTC"
        given = psycopg.conninfo.conninfo_to_dict(self.url).get("options")
        return {
            "options": f"{given} {own}" if given else own,
            "connect_timeout": self.connect_timeout,
            "autocommit": True,
            "row_factory": dict_row,
        }


async def configure(conn: Connection) -> None:
    """Read and write JSON with orjson on *conn*."""
    set_json_loads(orjson.loads, conn)
    set_json_dumps(orjson.dumps, conn)


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Re-raise driver errors as `StoreUnavailable` (connection trouble, pool timeouts)
    or `StoreError` (anything else), with the driver's error as the cause.
    """
    try:
        yield
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"PostgreSQL is unavailable: {exc}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL failed: {exc}") from exc
