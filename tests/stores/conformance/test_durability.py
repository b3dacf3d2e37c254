"""What a durable store keeps (`StoreCapabilities.is_durable`): its jobs, across closing and
opening it again."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from jobqueue.models import JobStatus
from tests.stores.conformance.helpers import claim_one, submit

if TYPE_CHECKING:
    from jobqueue.clock import FakeClock
    from tests.conftest import StoreMaker


async def test_jobs_survive_closing_and_reopening(
    store_maker: StoreMaker, clock: FakeClock
) -> None:
    first = store_maker()
    if not first.capabilities.is_durable:
        pytest.skip("the store keeps jobs only while it is open")
    async with first:
        queued = await submit(first, clock, payload={"deep": [1, {"x": None}]})
        claim = await claim_one(first, clock)

    async with store_maker() as second:
        assert await second.get(queued.job_id, clock.now()) == claim.job
        done = await second.complete(claim.lease, "kept", clock.now())
        assert done.status is JobStatus.COMPLETED
