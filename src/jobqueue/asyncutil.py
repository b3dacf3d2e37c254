"""Small asyncio helpers shared by the worker, the change hub and the stores."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor


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
