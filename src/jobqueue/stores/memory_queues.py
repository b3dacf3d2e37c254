"""`TaskQueues`: the memory store's queued jobs, per task by run time until due, then in
claim order.

Entries are never removed from the heaps when a job leaves the queue: each job's current
entry is remembered by its sequence number, and any other entry is skipped as stale.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from typing import TYPE_CHECKING

from jobqueue.stores.claiming import Ready

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from jobqueue.models import Job

_ReadyEntry = tuple[int, "datetime", "datetime", int, str]
_WaitingEntry = tuple["datetime", int, str]


class TaskQueues:
    """The queued jobs of every task."""

    def __init__(self) -> None:
        self._waiting: defaultdict[str, list[_WaitingEntry]] = defaultdict(list)
        self._ready: defaultdict[str, list[_ReadyEntry]] = defaultdict(list)
        self._entry_of: dict[str, int] = {}
        self._sequence = itertools.count()

    def enter(self, job: Job) -> None:
        """Queue *job* (again): it waits for its run time, then for its turn."""
        seq = next(self._sequence)
        self._entry_of[job.job_id] = seq
        heapq.heappush(self._waiting[job.task], (job.run_at, seq, job.job_id))

    def leave(self, job_id: str) -> None:
        """Take the job out of its queue (claimed, cancelled or ended)."""
        self._entry_of.pop(job_id, None)

    def ready(self, task: str, now: datetime, jobs: Mapping[str, Job]) -> list[Ready]:
        """The task's due jobs, best first (*jobs* holds each job by id)."""
        waiting = self._waiting.get(task)
        # A job waits by run time until due, so a delayed job never hides a ready one.
        while waiting and waiting[0][0] <= now:
            _, seq, job_id = heapq.heappop(waiting)
            if self._entry_of.get(job_id) == seq:
                job = jobs[job_id]
                entry = (-job.priority, job.run_at, job.created_at, seq, job_id)
                heapq.heappush(self._ready[task], entry)
        entries = sorted(
            entry for entry in self._ready.get(task, ()) if self._entry_of.get(entry[4]) == entry[3]
        )
        self._ready[task] = entries
        return [
            Ready(entry[4], task, jobs[entry[4]].concurrency_key, entry[:4]) for entry in entries
        ]
