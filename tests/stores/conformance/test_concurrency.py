"""Racing claimers and racing idempotent creates, on one store and on several sharing data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from jobqueue.models import JobFilter
from jobqueue.stores import Store
from tests.stores.conformance.helpers import claimant, new_job, submit

JOBS = 40
CLAIMERS = 6


async def _claim_everything(store: Store, clock, worker_id: str) -> list[str]:
    claimed: list[str] = []
    while batch := await store.claim(claimant(worker_id), 3, clock.now()):
        claimed += [claim.job.job_id for claim in batch]
        await asyncio.sleep(0)
    return claimed


async def _race_claims(stores: Sequence[Store], clock) -> None:
    job_ids = [(await submit(stores[0], clock)).job_id for _ in range(JOBS)]

    results = await asyncio.gather(
        *(_claim_everything(stores[i % len(stores)], clock, f"worker-{i}") for i in range(CLAIMERS))
    )

    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(job_ids)


async def _race_creates(stores: Sequence[Store], clock) -> None:
    attempts = [new_job(idempotency_key="same", fingerprint="f") for _ in range(12)]

    results = await asyncio.gather(
        *(stores[i % len(stores)].create(new, clock.now()) for i, new in enumerate(attempts))
    )

    assert sum(created for _, created in results) == 1
    assert len({job.job_id for job, _ in results}) == 1
    page = await stores[0].list_jobs(JobFilter(), 100, None, clock.now())
    assert [job.job_id for job in page.jobs] == [results[0][0].job_id]


async def test_concurrent_claimers_take_each_job_once(store: Store, clock) -> None:
    await _race_claims([store], clock)


async def test_claimers_on_several_stores_take_each_job_once(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    await _race_claims([store, await open_sibling(), await open_sibling()], clock)


async def test_concurrent_creates_with_one_key_make_one_job(store: Store, clock) -> None:
    await _race_creates([store], clock)


async def test_creates_with_one_key_on_several_stores_make_one_job(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    await _race_creates([store, await open_sibling(), await open_sibling()], clock)
