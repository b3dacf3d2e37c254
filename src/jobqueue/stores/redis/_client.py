"""The Redis store's connection: the client's settings, the Lua scripts it registers, and
the one place where driver errors become store errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from importlib import resources
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobqueue.errors import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from redis.commands.core import AsyncScript

_SCRIPTS = (
    "create",
    "claim",
    "heartbeat",
    "progress",
    "complete",
    "complete_many",
    "fail",
    "finish_cancelled",
    "release",
    "request_cancel",
    "retry",
    "reap",
    "purge",
    "list",
    "stats",
    "next_run_at",
    "position",
    "count_hit",
)
# An outage should surface as StoreUnavailable in seconds, not hang a request.
_CONNECT_TIMEOUT_SECONDS = 2.0
_CALL_TIMEOUT_SECONDS = 5.0
#: Connections one store keeps at most, unless the URL says ``?max_connections=N``.
MAX_CONNECTIONS = 100


def connect(url: str) -> aioredis.Redis:
    """A client for *url*; it connects on first use.

    Its pool is bounded and blocking: a call finding every connection busy waits for
    one (within the call's time limit) instead of failing, as redis-py's default pool
    does past its bound, or opening a connection per caller, which a burst of a
    thousand requests turns into a thousand connects timing out together.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=_CALL_TIMEOUT_SECONDS,
        decode_responses=True,
        socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=None,  # see guarded
        # RESP2: any Redis answers it, and redis-py then checks a pooled connection
        # for having been closed (say, by a server restart) before reusing it.
        protocol=2,
        # No silent retries: a script whose reply was lost must not run twice.
        retry=Retry(NoBackoff(), 0),
    )
    return aioredis.Redis.from_pool(pool)


def register_scripts(client: aioredis.Redis) -> dict[str, AsyncScript]:
    """Every script of ``lua/``, by name, each preceded by ``lua/_lib.lua``."""
    return {name: client.register_script(text) for name, text in _script_texts().items()}


@functools.cache
def _script_texts() -> dict[str, str]:
    folder = resources.files("jobqueue.stores.redis").joinpath("lua")
    lib = folder.joinpath("_lib.lua").read_text(encoding="utf-8")
    return {
        name: lib + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8") for name in _SCRIPTS
    }


@contextlib.asynccontextmanager
async def guarded() -> AsyncIterator[None]:
    """The backend's one choke point for driver errors, which leave as store errors, and
    for the time limit of one call to Redis.

    The limit is asyncio's rather than redis-py's socket timeout: on Python 3.11 that
    one goes through asyncio.wait_for, which can swallow the caller's cancellation.
    """
    try:
        async with asyncio.timeout(_CALL_TIMEOUT_SECONDS):
            yield
    except (RedisConnectionError, RedisTimeoutError, TimeoutError) as exc:
        raise StoreUnavailable from exc
    except RedisError as exc:
        raise StoreError(f"Redis failed: {exc}") from exc
