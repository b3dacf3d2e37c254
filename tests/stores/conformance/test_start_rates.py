"""A task's recent start rate, as `StartRates` reads it from each store's listing, and the
placement of a queued job built on it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from jobqueue.clock import FakeClock
from jobqueue.models import JobStatus
from jobqueue.placement import REFRESH_SECONDS, SAMPLE, WINDOW_SECONDS, Placement, StartRates
from jobqueue.stores import Store
from tests.stores.conformance.helpers import claim_one, job_in, submit


async def start_jobs(store: Store, clock: FakeClock, count: int, *, task: str = "work") -> None:
    """Start *count* jobs of *task*, one a second, finishing every other one."""
    for n in range(count):
        claim = await claim_one(store, clock, task=(await submit(store, clock, task=task)).task)
        if n % 2:
            await store.complete(claim.lease, None, clock.now())
        clock.advance(1)


async def test_no_starts_no_rate(store: Store, clock: FakeClock) -> None:
    await submit(store, clock)
    await job_in(store, clock, JobStatus.CANCELLED)
    assert await StartRates(store, clock).rate("work") is None


async def test_the_starts_of_the_window_count(store: Store, clock: FakeClock) -> None:
    await start_jobs(store, clock, 3)  # at 0, 1 and 2 s
    await start_jobs(store, clock, 1, task="other")
    await job_in(store, clock, JobStatus.FAILED)  # at 4 s
    clock.advance(WINDOW_SECONDS - 3.5)  # the first start falls out of the window

    assert await StartRates(store, clock).rate("work") == pytest.approx(3 / WINDOW_SECONDS)


async def test_a_rate_is_kept_a_few_seconds(store: Store, clock: FakeClock) -> None:
    rates = StartRates(store, clock)
    await start_jobs(store, clock, 1)
    first = await rates.rate("work")
    await start_jobs(store, clock, 1)
    kept = await rates.rate("work")
    clock.advance(REFRESH_SECONDS)
    read_again = await rates.rate("work")

    assert first == kept == pytest.approx(1 / WINDOW_SECONDS)
    assert read_again == pytest.approx(2 / WINDOW_SECONDS)


async def test_concurrent_readers_share_one_listing(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_jobs(store, clock, 2)
    listings = []
    list_jobs = store.list_jobs

    async def counted(*args: Any) -> Any:
        listings.append(args)
        return await list_jobs(*args)

    monkeypatch.setattr(store, "list_jobs", counted)
    rates = StartRates(store, clock)
    answers = await asyncio.gather(*(rates.rate("work") for _ in range(5)))

    assert answers == [pytest.approx(2 / WINDOW_SECONDS)] * 5
    assert len(listings) == 1


async def test_a_busy_task_is_measured_over_its_latest_starts(
    store: Store, clock: FakeClock
) -> None:
    for _ in range(SAMPLE + 5):  # ten a second
        await claim_one(store, clock, task=(await submit(store, clock)).task)
        clock.advance(0.1)

    assert await StartRates(store, clock).rate("work") == pytest.approx(10.0, rel=0.05)


async def test_a_waiting_job_is_placed_behind_the_jobs_ahead(
    store: Store, clock: FakeClock
) -> None:
    await start_jobs(store, clock, 6)  # six starts a minute: one each ten seconds
    ahead = [await submit(store, clock) for _ in range(2)]
    job = await submit(store, clock)
    delayed = await submit(store, clock, delay_seconds=600)
    placement = Placement(store, clock)

    placed = await placement.place(job)
    later = await placement.place(delayed)
    first = await placement.place(ahead[0])
    started = await placement.place((await claim_one(store, clock)).job)

    assert placed.queue_position == 2
    assert placed.estimated_start_at == clock.now() + timedelta(seconds=30)
    assert first.estimated_start_at == clock.now() + timedelta(seconds=10)
    assert later.queue_position is None
    assert later.estimated_start_at == delayed.run_at
    assert started.estimated_start_at is None
