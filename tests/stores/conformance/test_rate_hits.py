"""`Store.count_hit`: one count per key and window, shared by every process, forgotten once
the window has ended."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from jobqueue.stores import Store


async def test_hits_are_counted_per_key_and_window(store: Store, clock) -> None:
    until = clock.now() + timedelta(seconds=10)
    later = until + timedelta(seconds=10)

    assert [await store.count_hit("a", until, clock.now()) for _ in range(3)] == [1, 2, 3]
    assert await store.count_hit("b", until, clock.now()) == 1
    assert await store.count_hit("a", later, clock.now()) == 1


async def test_racing_hits_are_each_counted_once(
    store: Store, clock, open_sibling: Callable[[], Awaitable[Store]]
) -> None:
    stores = [store, await open_sibling(), await open_sibling()]
    until = clock.now() + timedelta(seconds=10)

    counts = await asyncio.gather(
        *(stores[i % 3].count_hit("k", until, clock.now()) for i in range(30))
    )

    assert sorted(counts) == list(range(1, 31))


async def test_the_purge_keeps_windows_that_have_not_ended(store: Store, clock) -> None:
    until = clock.now() + timedelta(seconds=10)
    await store.count_hit("k", until, clock.now())
    await store.count_hit("k", until, clock.now())

    clock.advance(5)
    await store.purge_expired(clock.now())

    assert await store.count_hit("k", until, clock.now()) == 3
