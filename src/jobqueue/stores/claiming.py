"""How a claim chooses jobs under a claimant's `TaskTerms`, for the stores that choose in
Python (memory, SQLite, and PostgreSQL when a task's running jobs must be counted); the
Redis claim script applies the same rules.

A store reads the best ready jobs of one task at a time into a `TaskPick`, which keeps
those the task's terms allow and says what to leave out of the next read: the concurrency
keys at their limit and the jobs already chosen. The picks of every task are then merged
best first and cut to the claim's slots by `within_budget`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

    from jobqueue.models import TaskTerms


@dataclass(frozen=True, slots=True)
class Ready:
    """A ready job as a claim weighs it; *order* sorts the best first."""

    job_id: str
    task: str
    concurrency_key: str | None
    order: tuple[Any, ...]


def task_room(terms: TaskTerms, slots: int, running: int) -> int:
    """How many of a task's jobs a claim of *slots* may take, *running* of them running.

    At least one while the task's limits allow, even when one job costs more than the
    slots: that job then ends the claim if it comes first (`within_budget`), instead of
    being starved by cheaper jobs behind it.
    """
    room = max(slots // terms.cost, 1)
    if terms.most is not None:
        room = min(room, terms.most)
    if terms.global_concurrency is not None:
        room = min(room, terms.global_concurrency - running)
    return max(room, 0)


class TaskPick:
    """The jobs one claim takes of one task: at most *room*, and at most *key_limit*
    running per concurrency key, counting those already *running* per key."""

    def __init__(self, room: int, key_limit: int | None, running: Mapping[str, int]) -> None:
        self.room = room
        self.key_limit = key_limit
        self.chosen: list[Ready] = []
        self._running = Counter(running)
        self.saturated = (
            set() if key_limit is None else {k for k, n in running.items() if n >= key_limit}
        )
        """The keys at their limit: the next read leaves their jobs out."""

    @property
    def missing(self) -> int:
        """How many more jobs the task may give."""
        return self.room - len(self.chosen)

    @property
    def chosen_ids(self) -> list[str]:
        """The jobs chosen so far: the next read leaves them out."""
        return [ready.job_id for ready in self.chosen]

    def offer(self, rows: Iterable[Ready]) -> bool:
        """Take what the terms allow of *rows*, the best ready jobs outside `saturated`
        and `chosen_ids`; whether another read may find more.

        Every row refused belongs to a key this offer saturated, so each further read
        returns rows not seen before, and the reads end.
        """
        offered = False
        for ready in rows:
            offered = True
            if not self.missing:
                break
            key = ready.concurrency_key
            if self.key_limit is None or key is None:
                self.chosen.append(ready)
            elif key not in self.saturated:
                self.chosen.append(ready)
                self._running[key] += 1
                if self._running[key] >= self.key_limit:
                    self.saturated.add(key)
        return offered and self.missing > 0 and self.key_limit is not None


def reading(rows: Iterable[Ready]) -> Callable[[TaskPick], Iterable[Ready]]:
    """A read for `pick` over ready jobs already in memory, best first: each read goes on
    where the last stopped, so no row is offered twice, and the offer itself passes over
    the keys at their limit."""
    unread = iter(rows)
    return lambda taking: itertools.islice(unread, taking.missing)


def pick(
    room: int,
    terms: TaskTerms,
    running: Mapping[str, int],
    read: Callable[[TaskPick], Iterable[Ready]],
) -> list[Ready]:
    """The jobs a claim takes of one task: `TaskPick` fed by *read* until it is done."""
    taking = TaskPick(room, terms.key_concurrency, running)
    while taking.missing > 0 and taking.offer(read(taking)):
        pass
    return taking.chosen


async def pick_async(
    room: int,
    terms: TaskTerms,
    running: Mapping[str, int],
    read: Callable[[TaskPick], Awaitable[Iterable[Ready]]],
) -> list[Ready]:
    """`pick` for a store whose reads are awaited."""
    taking = TaskPick(room, terms.key_concurrency, running)
    while taking.missing > 0 and taking.offer(await read(taking)):
        pass
    return taking.chosen


def within_budget(
    picks: Iterable[Ready], cost_of: Callable[[str], int], slots: int
) -> Sequence[Ready]:
    """The best of *picks* that fit in *slots*, each taking its task's cost, up to the
    first that does not fit."""
    taken: list[Ready] = []
    for ready in sorted(picks, key=lambda ready: ready.order):
        cost = cost_of(ready.task)
        if cost > slots:
            break
        slots -= cost
        taken.append(ready)
    return taken
