"""Stores, chosen by URL scheme: ``memory://``, ``sqlite:///path``, ``postgresql://…``,
``redis://…``. Backends are imported lazily, so a missing driver only matters when used.
"""

from __future__ import annotations

import importlib
from typing import Any, cast

from jobqueue.errors import ConfigError
from jobqueue.stores.base import Store, StoreCapabilities

DEFAULT_STORE_URL = "sqlite:///jobqueue.db"

_BACKENDS: dict[str, str] = {
    "memory": "jobqueue.stores.memory:MemoryStore",
    "sqlite": "jobqueue.stores.sqlite:SQLiteStore",
    "postgres": "jobqueue.stores.postgres:PostgresStore",
    "postgresql": "jobqueue.stores.postgres:PostgresStore",
    "redis": "jobqueue.stores.redis:RedisStore",
    "rediss": "jobqueue.stores.redis:RedisStore",
}


def store_class(url: str) -> type[Store]:
    """The `Store` subclass serving *url*'s scheme."""
    scheme = url.partition("://")[0].partition("+")[0].lower()
    try:
        module_name, _, attr = _BACKENDS[scheme].partition(":")
    except KeyError:
        known = ", ".join(sorted(_BACKENDS))
        raise ConfigError(f"Unknown store URL scheme {scheme!r}; use one of: {known}") from None
    return cast("type[Store]", getattr(importlib.import_module(module_name), attr))


def open_store(url: str, **options: Any) -> Store:
    """A store for *url*, not yet opened. *options* go to the backend's constructor."""
    return store_class(url).from_url(url, **options)


__all__ = ["DEFAULT_STORE_URL", "Store", "StoreCapabilities", "open_store", "store_class"]
