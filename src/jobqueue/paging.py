"""Every job of a listing, page after page (for the few readers that need them all)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from jobqueue.models import Job
    from jobqueue.queue import JobQueue

#: Jobs per read.
PAGE_SIZE = 500


async def every_job(queue: JobQueue, **filters: Any) -> AsyncIterator[Job]:
    """The jobs `JobQueue.list` finds with *filters*, newest first, reading page by page."""
    cursor: str | None = None
    while True:
        page = await queue.list(**filters, limit=PAGE_SIZE, cursor=cursor)
        for job in page.jobs:
            yield job
        if (cursor := page.next_cursor) is None:
            return
