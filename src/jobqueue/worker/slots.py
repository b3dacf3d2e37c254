"""A worker's concurrency slots, and the terms its claims carry.

A job takes its task's ``cost`` in slots (GPU memory, say) from the moment it is claimed
until its attempt ends; a task's ``concurrency`` bounds its jobs running in this worker.
`Slots` keeps both counts and turns them, with the task options counted across workers
(``global_concurrency``, ``key_concurrency``), into the `Claimant` of the next claim.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

from jobqueue.errors import ConfigError
from jobqueue.models import Claimant, TaskTerms

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from jobqueue.tasks import Task, TaskRegistry

logger = logging.getLogger(__name__)

#: How long an idle worker waits before looking for work without having been signalled.
SAFETY_POLL_SECONDS = 5.0
#: How long a worker whose claim stopped short of ready jobs (their key or task at its
#: limit, or a job costing more than the free slots) waits before it claims again: jobs
#: ending in other workers send no signal.
SHORT_CLAIM_POLL_SECONDS = 0.1


def tasks_that_fit(registry: TaskRegistry, names: Iterable[str], slots: int) -> list[Task]:
    """The tasks *names* that a worker of *slots* serves: those whose cost fits (the others
    are logged); `UnknownTask` for a name not registered, `ConfigError` if none fits."""
    tasks = [registry.resolve(name) for name in names]
    for task in tasks:
        if task.options.cost > slots:
            logger.warning(
                "Task %s costs %d slots, more than this worker's %d: not served here",
                task.name,
                task.options.cost,
                slots,
            )
    served = [task for task in tasks if task.options.cost <= slots]
    if tasks and not served:
        raise ConfigError(f"No task fits in this worker's {slots} slots")
    return served


def describe_task(task: Task) -> str:
    """*task*'s name with the limits it sets: ``render (cost 2, key_concurrency 1)``."""
    options = task.options
    limits = {
        "cost": options.cost if options.cost != 1 else None,
        "concurrency": options.concurrency,
        "global_concurrency": options.global_concurrency,
        "key_concurrency": options.key_concurrency,
        "max_queued": options.max_queued,
        "process": "pool" if options.is_process else None,
    }
    shown = ", ".join(f"{name} {value}" for name, value in limits.items() if value is not None)
    return f"{task.name} ({shown})" if shown else task.name


class Slots:
    """*size* slots shared by the attempts of *tasks*, claimed as *claimant*."""

    def __init__(self, size: int, tasks: Iterable[Task], claimant: Claimant) -> None:
        self.size = size
        self._busy = 0
        self._running: Counter[str] = Counter()
        self._costs = {task.name: task.options.cost for task in tasks}
        self._limits = {
            task.name: task.options.concurrency
            for task in tasks
            if task.options.concurrency is not None
        }
        terms = {
            task.name: TaskTerms(
                cost=task.options.cost,
                global_concurrency=task.options.global_concurrency,
                key_concurrency=task.options.key_concurrency,
            )
            for task in tasks
        }
        self._claimant = replace(
            claimant, terms={name: each for name, each in terms.items() if each != TaskTerms()}
        )

    @property
    def free(self) -> int:
        """Slots no attempt holds."""
        return self.size - self._busy

    @property
    def can_stop_short(self) -> bool:
        """Whether a claim can leave ready jobs behind while slots are free: a task has a
        cost, a limit in this worker, or one counted across workers."""
        return bool(self._limits) or bool(self._claimant.terms)

    def idle_seconds(self, wake_at: datetime | None, now: datetime) -> float:
        """How long a worker whose claim came back short waits before claiming again,
        unless signalled; *wake_at* is the earliest ``run_at`` of its queued jobs."""
        if wake_at is None:
            return SAFETY_POLL_SECONDS
        until_due = max((wake_at - now).total_seconds(), 0.0)
        if self.can_stop_short:
            until_due = max(until_due, SHORT_CLAIM_POLL_SECONDS)
        return min(until_due, SAFETY_POLL_SECONDS)

    def take(self, task: str) -> None:
        """An attempt of *task* starts."""
        self._busy += self._costs[task]
        self._running[task] += 1

    def give_back(self, task: str) -> None:
        """An attempt of *task* has ended (its outcome may still be being written)."""
        self._busy -= self._costs[task]
        self._running[task] -= 1

    def claimant(self) -> Claimant:
        """The claimant of the next claim: the tasks at their ``concurrency`` in this
        worker get no room in it."""
        if not self._limits:
            return self._claimant
        terms = dict(self._claimant.terms)
        for task, limit in self._limits.items():
            most = max(limit - self._running[task], 0)
            terms[task] = replace(terms.get(task, TaskTerms()), most=most)
        return replace(self._claimant, terms=terms)
