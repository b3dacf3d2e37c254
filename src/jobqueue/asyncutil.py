"""Small asyncio helpers shared by the worker, the change hub and the stores."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from concurrent.futures import Executor

K = TypeVar("K")
T = TypeVar("T")


async def wait_set(event: asyncio.Event, timeout: float | None = None) -> bool:
    """Wait until *event* is set or *timeout* seconds pass; return whether it is set.

    `asyncio.timeout` rather than `asyncio.wait_for`: on Python 3.11 the latter can
    swallow a cancellation that arrives as the wait ends.
    """
    if not event.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
    return event.is_set()


async def first_done(*futures: asyncio.Future[Any]) -> None:
    """Return once one of *futures* is done (none is cancelled or awaited for its result).

    Done callbacks rather than `asyncio.wait`: no extra task per call on the hot path.
    """
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(_: object) -> None:
        if not ended.done():
            ended.set_result(None)

    for future in futures:
        future.add_done_callback(settle)
    try:
        await ended
    finally:
        for future in futures:
            future.remove_done_callback(settle)


async def run_last(executor: Executor, function: Callable[[], object]) -> None:
    """Run *function* as *executor*'s last call (after those queued), then shut it down."""
    try:
        await asyncio.wrap_future(executor.submit(function))
    finally:
        executor.shutdown(wait=False)


class SharedRuns(Generic[K, T]):
    """Concurrent callers asking for one key share one run of its coroutine.

    A run outlives a caller that is cancelled (others may still wait for it); an error
    goes to whoever waits, and is no error when nobody does.
    """

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[T]] = {}

    async def run(self, key: K, start: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The result of the run for *key*: the one in progress, else a new ``start()``."""
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.ensure_future(start())
            running.add_done_callback(lambda done: self._ended(key, done))
        return await asyncio.shield(running)

    def _ended(self, key: K, done: asyncio.Future[T]) -> None:
        del self._running[key]
        if not done.cancelled():
            done.exception()  # retrieved: nobody waiting is no error
