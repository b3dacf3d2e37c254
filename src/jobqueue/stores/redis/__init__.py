"""The Redis backend: `RedisStore`, jobs as Redis hashes moved by Lua scripts."""

from __future__ import annotations

from jobqueue.stores.redis._store import RedisStore

__all__ = ["RedisStore"]
