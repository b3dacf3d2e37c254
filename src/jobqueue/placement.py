"""Where a queued job stands: its queue position and when it is likely to start.

`Job.estimated_start_at` is ``now + (position + 1) / rate`` (not before ``run_at`` for a
delayed job), where the rate is how many jobs of the task started per second lately.

The rate is read from the store rather than counted off the change hub: a `Change`
names a job but not its task, so the hub could tell tasks apart only with a store read
per start, or with a new notification format in every backend. The store already keeps
what is needed: each started job's ``started_at``. `StartRates` reads a task's most
recently created jobs that have left the queue (one page of a listing, `SAMPLE` of them)
and counts those that started within the last `WINDOW_SECONDS`; each process keeps the
answer `REFRESH_SECONDS` for a bounded number of tasks, so any number of readers of one
task cost one listing every few seconds, and none while no queued job is read. It is
exact for a first-in-first-out queue; with priorities it is an estimate (an old job that
started late is not in the page), which is all an estimate promises. The listing walks
the newest jobs first, so behind a long queue it steps over the queued ones: a cost that
grows with the backlog, paid once per refresh rather than per reader.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from datetime import timedelta
from typing import TYPE_CHECKING

from jobqueue.asyncutil import SharedRuns
from jobqueue.models import POSITION_LIMIT, JobFilter, JobStatus

if TYPE_CHECKING:
    from datetime import datetime

    from jobqueue.clock import Clock
    from jobqueue.models import Job
    from jobqueue.stores.base import Store

#: How far back a task's starts count towards its rate.
WINDOW_SECONDS = 60.0
#: How long a process trusts a task's rate before reading it again.
REFRESH_SECONDS = 5.0
#: The most recent started jobs read per task; a full page of recent starts measures the
#: rate over the time they took rather than over the whole window.
SAMPLE = 20
#: The tasks whose rate a process remembers at most (the least recently read go first).
CAPACITY = 256

_LEFT_THE_QUEUE = frozenset(JobStatus) - {JobStatus.QUEUED}


def start_rate(starts: list[datetime], now: datetime, *, full: bool) -> float | None:
    """Jobs started per second, from the start times of a task's sampled jobs; None when
    none started within the window. *full*: the sample was cut at `SAMPLE` jobs."""
    recent = [at for at in starts if (now - at).total_seconds() <= WINDOW_SECONDS]
    if not recent:
        return None
    span = WINDOW_SECONDS
    if full and len(recent) == len(starts):
        span = max((now - min(recent)).total_seconds(), 1.0)
    return len(recent) / span


def estimated_start(
    job: Job, position: int | None, rate: float | None, now: datetime
) -> datetime | None:
    """When *job* (queued, *position* ready jobs ahead) may start at *rate* starts per
    second; None when the rate or, for a due job, the position is unknown."""
    if rate is None:
        return None
    if job.run_at > now:
        return max(job.run_at, now + timedelta(seconds=1 / rate))
    if position is None:
        return None
    return now + timedelta(seconds=(position + 1) / rate)


@dataclasses.dataclass(frozen=True, slots=True)
class _Reading:
    at: datetime
    rate: float | None


class StartRates:
    """Each task's recent rate of jobs started, read from *store* and kept a few seconds."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._readings: OrderedDict[str, _Reading] = OrderedDict()
        self._reading: SharedRuns[str, float | None] = SharedRuns()

    async def rate(self, task: str) -> float | None:
        """Jobs of *task* started per second lately; None when none started lately.

        Concurrent callers of one task share one store read.
        """
        reading = self._readings.get(task)
        now = self._clock.now()
        if reading is not None and (now - reading.at).total_seconds() < REFRESH_SECONDS:
            self._readings.move_to_end(task)
            return reading.rate
        return await self._reading.run(task, lambda: self._read(task))

    async def _read(self, task: str) -> float | None:
        now = self._clock.now()
        where = JobFilter(statuses=_LEFT_THE_QUEUE, tasks=frozenset({task}))
        page = await self._store.list_jobs(where, SAMPLE, None, now)
        starts = [job.started_at for job in page.jobs if job.started_at is not None]
        rate = start_rate(starts, now, full=len(page.jobs) == SAMPLE)
        self._readings[task] = _Reading(now, rate)
        self._readings.move_to_end(task)
        while len(self._readings) > CAPACITY:
            self._readings.popitem(last=False)
        return rate


class Placement:
    """Adds a queued job's position and estimated start to what a read returns.

    Concurrent placements of one version of a job share one position read (a burst of
    stream connects to one job makes one, not one each).
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self.rates = StartRates(store, clock)
        self._placing: SharedRuns[tuple[str, int], Job] = SharedRuns()

    async def place(self, job: Job) -> Job:
        """*job* with `Job.queue_position` (when due) and `Job.estimated_start_at` read
        now, when it is queued; else as it is."""
        if job.status is not JobStatus.QUEUED:
            return job
        return await self._placing.run((job.job_id, job.version), lambda: self._place(job))

    async def _place(self, job: Job) -> Job:
        now = self._clock.now()
        position = None
        if job.run_at <= now:
            position = await self._store.queue_position(job.job_id, now, POSITION_LIMIT)
        rate = await self.rates.rate(job.task)
        return dataclasses.replace(
            job,
            queue_position=position,
            estimated_start_at=estimated_start(job, position, rate, now),
        )
