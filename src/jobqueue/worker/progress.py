"""Coalesced progress: a task may report thousands of times; the store sees a few writes.

The first report is written at once; later ones within ``min_interval`` are merged so
only the latest is written. Closing writes whatever is pending, so the last value is
always stored before the attempt's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from jobqueue.asyncutil import wait_set
from jobqueue.errors import JobQueueError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from jobqueue.models import Progress

logger = logging.getLogger(__name__)


class ProgressReporter:
    """Takes progress reports from any thread and writes them through *write*, coalesced."""

    def __init__(
        self,
        write: Callable[[Progress], Awaitable[object]],
        *,
        min_interval: float = 0.1,
    ) -> None:
        self._write = write
        self._min_interval = min_interval
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._latest: Progress | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._is_closed = False
        self._closing: asyncio.Event | None = None  # made by the first wait: most jobs never report

    def report(self, progress: Progress) -> None:
        """Record *progress*; safe from the loop and from any other thread."""
        if threading.get_ident() == self._loop_thread:
            self._accept(progress)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to report to
                self._loop.call_soon_threadsafe(self._accept, progress)

    def _accept(self, progress: Progress) -> None:
        if self._is_closed:
            return  # an abandoned attempt: its progress no longer matters
        self._latest = progress
        if self._flusher is None or self._flusher.done():
            self._flusher = self._loop.create_task(self._flush())

    async def _flush(self) -> None:
        while (progress := self._latest) is not None:
            self._latest = None
            try:
                await self._write(progress)
            except JobQueueError as exc:
                logger.warning("Could not record progress: %s", exc)
                return
            if self._is_closed:
                continue  # what is pending goes at once
            if self._closing is None:
                self._closing = asyncio.Event()
            await wait_set(self._closing, self._min_interval)

    async def close(self) -> None:
        """Write what is pending, then ignore further reports."""
        self._is_closed = True
        if self._closing is not None:
            self._closing.set()
        if self._flusher is not None:
            await self._flusher
