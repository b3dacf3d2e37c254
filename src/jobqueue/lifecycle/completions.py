"""Completions written in batches: one round trip for all the attempts that ended meanwhile.

No timer and no minimum size: the first completion is written at once, and those that end
while a write is in flight go together in the next. An idle worker pays no latency; a
busy one writes one batch per round trip instead of one job.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from jobqueue.errors import JobQueueError, LeaseLost

if TYPE_CHECKING:
    from jobqueue.clock import Clock
    from jobqueue.models import JSONValue, Lease
    from jobqueue.stores.base import Store

_Pending = tuple["Lease", "JSONValue", "asyncio.Future[LeaseLost | None]"]


class CompletionBatcher:
    """Completes attempts through `Store.complete_many`, batching those that end together."""

    def __init__(self, store: Store, clock: Clock, *, max_batch: int = 500) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def complete(self, lease: Lease, result: JSONValue) -> None:
        """Complete one attempt; raises what `Store.complete` would."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[LeaseLost | None] = loop.create_future()
        self._pending.append((lease, result, done))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write())
        outcome = await done
        if outcome is not None:
            raise outcome

    async def _write(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                outcomes = await self._store.complete_many(
                    [(lease, result) for lease, result, _ in batch], self._clock.now()
                )
            except JobQueueError as exc:
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for (*_, done), outcome in zip(batch, outcomes, strict=True):
                if not done.done():
                    done.set_result(outcome)
