"""The Redis backend: `RedisStore`, jobs as Redis hashes moved by Lua scripts."""

from __future__ import annotations

from jobqueue.errors import MissingDependency

# Checked once here, before any module of the package imports the driver.
try:
    import redis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependency("redis", "redis") from exc

from jobqueue.stores.redis._store import RedisStore

__all__ = ["RedisStore"]
