"""The worker's calls to the store that outlive an outage: they wait with backoff while the
store is unavailable instead of failing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jobqueue.asyncutil import wait_set
from jobqueue.errors import StoreUnavailable
from jobqueue.notify import Interest
from jobqueue.retry import reconnect_delay

if TYPE_CHECKING:
    import asyncio

    from jobqueue.lifecycle import Lifecycle, Outcome
    from jobqueue.models import Claim
    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)


async def open_for_work(queue: JobQueue, stopping: asyncio.Event) -> bool:
    """Open *queue* for a worker, waiting with backoff while the store is unavailable.

    Returns False when *stopping* is set before the store answered.
    """
    failures = 0
    while not stopping.is_set():
        try:
            await queue.open(interest=Interest.WORK)
            return True
        except StoreUnavailable as exc:
            delay = reconnect_delay(failures)
            failures += 1
            logger.warning("The store is unavailable (%s); retrying in %.1fs", exc, delay)
            await wait_set(stopping, delay)
    return False


async def record_outcome(
    lifecycle: Lifecycle, claim: Claim, outcome: Outcome, abandoning: asyncio.Event
) -> None:
    """Write *outcome*, retrying with backoff while the store is unavailable.

    The attempt keeps its slot and its lease meanwhile (the heartbeat goes on renewing
    it), so a store outage shorter than the lease costs no second run of work already
    done. Retrying ends when the store answers (the write accepted, or `LeaseLost`) or
    when *abandoning* is set (shutdown's grace period is over).
    """
    failures = 0
    while True:
        try:
            await lifecycle.finish(claim, outcome)
            return
        except StoreUnavailable as exc:
            if abandoning.is_set():
                raise
            delay = reconnect_delay(failures)
            failures += 1
            logger.warning(
                "Job %s: could not record the outcome (%s); retrying in %.1fs",
                claim.job.job_id,
                exc,
                delay,
            )
            await wait_set(abandoning, delay)
