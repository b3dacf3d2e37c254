"""Pure data: jobs, their statuses and the state machine, and the values stores exchange.

Nothing here does I/O. Every value is an immutable snapshot: a store hands out fresh
copies and never a live object.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence  # noqa: TC003 - JSONValue resolves at runtime
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from typing_extensions import TypeAliasType, TypedDict

#: Any JSON value; a runtime-resolvable alias, so task payloads may be annotated with it.
JSONValue = TypeAliasType(
    "JSONValue",
    "bool | int | float | str | Sequence[JSONValue] | Mapping[str, JSONValue] | None",
)


class JobStatus(enum.StrEnum):
    """Where a job is in its life; the values are the API's strings."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for the statuses a job never leaves (but by purge or operator retry)."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

#: The legal transitions. Stores check the source status of every write against it.
TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.CANCELLED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.QUEUED, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),  # operator retry
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),  # operator retry
}


#: The character PostgreSQL refuses in ``text``, so in no store may a job's texts (error,
#: owner, idempotency key) hold it. JSON values may: their escape ``\u0000`` is plain text.
NUL = "\0"


class SubmitOptions(TypedDict, total=False):
    """How to run a job, besides its task and payload: the keyword arguments of every
    ``submit``. An option left out (or None) takes the task's default, then the queue's.
    """

    priority: int | None
    """Higher runs first; ties run oldest first (default 0)."""
    delay_seconds: float | None
    """Do not run before this many seconds from now."""
    timeout_seconds: float | None
    """Stop an attempt that runs longer (it then fails, and may be retried)."""
    max_attempts: int | None
    """Attempts before the job fails for good."""
    ttl_seconds: float | None
    """How long a finished job stays readable."""
    idempotency_key: str | None
    """The same key with the same request returns the first job instead of a new one."""
    concurrency_key: str | None
    """Jobs with the same key share their task's ``key_concurrency`` limit (1-200
    characters)."""
    tags: Sequence[str] | None
    """Labels to find the job by (`JobFilter.tag`): at most 10, each 1-100 characters of
    letters, digits and ``._:-``."""
    webhook: Webhook | Mapping[str, JSONValue] | None
    """Where to ``POST`` the job's events: a `Webhook`, or ``{"url", "events"}``."""


#: The events a webhook may subscribe to, in the order a job goes through them.
WEBHOOK_EVENTS = ("started", "output", "completed", "failed", "cancelled")
#: The events of a webhook that names none: how the job ended.
DEFAULT_WEBHOOK_EVENTS = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where a job's events are sent (``url``), and which of `WEBHOOK_EVENTS`."""

    url: str
    events: tuple[str, ...] = DEFAULT_WEBHOOK_EVENTS

    def to_json(self) -> dict[str, JSONValue]:
        """The submit field's form, ``{"url", "events"}``, which stores keep."""
        return {"url": self.url, "events": list(self.events)}

    @classmethod
    def from_json(cls, value: Mapping[str, JSONValue]) -> Webhook:
        """The webhook `to_json` wrote."""
        events = value["events"]
        assert isinstance(events, list)
        return cls(str(value["url"]), tuple(str(event) for event in events))


@dataclass(frozen=True, slots=True)
class Progress:
    """The latest progress a running task reported."""

    current: float
    total: float | None = None
    message: str | None = None


#: Jobs ahead counted at most for a queue position; beyond it the position is unknown.
POSITION_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Job:
    """A snapshot of one job, with the fields of the API's job representation and more."""

    job_id: str
    task: str
    status: JobStatus
    payload: JSONValue
    created_at: datetime
    run_at: datetime
    max_attempts: int
    ttl_seconds: float
    version: int = 1
    priority: int = 0
    timeout_seconds: float | None = None
    progress: Progress | None = None
    result: JSONValue = None
    error: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    is_cancel_requested: bool = False
    idempotency_key: str | None = None
    owner: str | None = None
    worker_id: str | None = None
    lease_expires_at: datetime | None = None
    concurrency_key: str | None = None
    """Jobs sharing this key share their task's ``key_concurrency`` limit."""
    tags: tuple[str, ...] = ()
    """The labels given at submit."""
    webhook: Webhook | None = None
    """Where its events are sent, when the submit asked."""
    queue_position: int | None = None
    """How many ready jobs of its task go first, where a read asked for it
    (`JobQueue.with_position`); stores leave it None."""
    estimated_start_at: datetime | None = None
    """When a queued job will likely start, where a read asked for its position
    (`jobqueue.placement`); None when unknown."""

    @property
    def is_terminal(self) -> bool:
        """True once the job is completed, failed or cancelled."""
        return self.status.is_terminal


@dataclass(frozen=True, slots=True)
class QueueCap:
    """The most jobs that may wait queued when another is created: of its task, and in all.

    None leaves that count unbounded. Stores check it in the transaction that creates the
    job, so concurrent submits cannot overshoot it.
    """

    of_task: int | None = None
    in_all: int | None = None

    def is_reached(self, queued_of_task: int, queued_in_all: int) -> bool:
        """Whether a queue holding these counts has no room for one more job."""
        return (self.of_task is not None and queued_of_task >= self.of_task) or (
            self.in_all is not None and queued_in_all >= self.in_all
        )


@dataclass(frozen=True, slots=True)
class NewJob:
    """A validated submission, ready for `Store.create`."""

    job_id: str
    task: str
    payload: JSONValue
    max_attempts: int
    ttl_seconds: float
    priority: int = 0
    delay_seconds: float = 0.0
    timeout_seconds: float | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None
    owner: str | None = None
    concurrency_key: str | None = None
    tags: tuple[str, ...] = ()
    webhook: Webhook | None = None
    queue_cap: QueueCap | None = None
    """Refuse the job (`QueueFull`) when the queue already holds this many; replays pass."""

    def build(self, now: datetime) -> Job:
        """The queued job this submission creates at *now*."""
        return Job(
            job_id=self.job_id,
            task=self.task,
            status=JobStatus.QUEUED,
            payload=self.payload,
            created_at=now,
            run_at=now + timedelta(seconds=self.delay_seconds),
            max_attempts=self.max_attempts,
            ttl_seconds=self.ttl_seconds,
            priority=self.priority,
            timeout_seconds=self.timeout_seconds,
            idempotency_key=self.idempotency_key,
            owner=self.owner,
            concurrency_key=self.concurrency_key,
            tags=self.tags,
            webhook=self.webhook,
        )


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's proof that it holds the current attempt of a job (the fencing token)."""

    job_id: str
    token: str


@dataclass(frozen=True, slots=True)
class TaskTerms:
    """What one claim may take of one task's jobs (from the task's options)."""

    cost: int = 1
    """Slots of the claim's budget that each job takes."""
    most: int | None = None
    """At most this many of its jobs in this claim (the worker's room under ``concurrency``)."""
    global_concurrency: int | None = None
    """At most this many of its jobs ``processing`` at once, in every worker."""
    key_concurrency: int | None = None
    """At most this many of its jobs with one ``concurrency_key`` processing at once, in
    every worker; the jobs of a key at its limit are passed over, the others still taken."""

    @property
    def counts_running(self) -> bool:
        """Whether a claim must count the task's running jobs (so serialise with others)."""
        return self.global_concurrency is not None or self.key_concurrency is not None


NO_TERMS = TaskTerms()


@dataclass(frozen=True, slots=True)
class Claimant:
    """Who claims and on what terms: the worker's side of `Store.claim`.

    What a claim may take grows here, not in the store method's parameters.
    """

    worker_id: str
    tasks: frozenset[str]
    """The task names the worker serves; the claim looks at no other job."""
    lease_seconds: float
    """How long each claimed job's lease lasts without a heartbeat."""
    terms: Mapping[str, TaskTerms] = field(default_factory=dict)
    """Per task, the limits its jobs are claimed under; a task not named has none."""

    def terms_of(self, task: str) -> TaskTerms:
        """The terms *task*'s jobs are claimed under."""
        return self.terms.get(task, NO_TERMS)


@dataclass(frozen=True, slots=True)
class Claim:
    """A job handed to a worker, with the lease every later write must present."""

    job: Job
    lease: Lease


@dataclass(frozen=True, slots=True)
class HeartbeatResult:
    """What renewing a batch of leases found out."""

    lost: frozenset[str] = frozenset()
    """Jobs whose lease is no longer the worker's: stop them and write nothing."""
    cancel_requested: frozenset[str] = frozenset()
    """Jobs whose cancellation was requested: stop them and finish them as cancelled."""


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs `Store.list` returns."""

    statuses: frozenset[JobStatus] = frozenset()
    tasks: frozenset[str] = frozenset()
    owner: str | None = None
    tag: str | None = None
    """Only jobs carrying this tag."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing, newest first."""

    jobs: Sequence[Job]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process as the stats show it."""

    worker_id: str
    last_seen_at: datetime
    running: int = 0
    host: str = ""
    pid: int = 0
    tasks: tuple[str, ...] = ()
    """The tasks it serves."""


RUNNING_KEYS_SHOWN = 100


def running_now(workers: Iterable[WorkerInfo], running: Mapping[str, int]) -> list[WorkerInfo]:
    """*workers* with the jobs they hold now (*running*, per worker id, read from the jobs
    themselves) instead of the count of their last heartbeat."""
    return [replace(worker, running=running.get(worker.worker_id, 0)) for worker in workers]


def busiest_keys(counts: Iterable[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """`Stats.running_keys` from ``(task, key, running)`` counts."""
    shown: dict[str, dict[str, int]] = {}
    for task, key, running in sorted(counts, key=lambda count: -count[2])[:RUNNING_KEYS_SHOWN]:
        shown.setdefault(task, {})[key] = running
    return shown


def empty_counts() -> dict[JobStatus, int]:
    """A zero count for every status."""
    return dict.fromkeys(JobStatus, 0)


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts of jobs per task and status, and the workers seen recently."""

    tasks: Mapping[str, Mapping[JobStatus, int]] = field(default_factory=dict)
    workers: Sequence[WorkerInfo] = ()
    running_keys: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Per task, the running jobs of each concurrency key that has some (at most
    `RUNNING_KEYS_SHOWN` keys in all, the busiest first)."""

    @property
    def totals(self) -> dict[JobStatus, int]:
        """The counts over all tasks."""
        totals = empty_counts()
        for counts in self.tasks.values():
            for status, n in counts.items():
                totals[status] += n
        return totals


@dataclass(frozen=True, slots=True)
class Change:
    """A store's signal that a job changed; *version* is the new version."""

    job_id: str
    version: int
    status: JobStatus


__all__ = [
    "POSITION_LIMIT",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Change",
    "Claim",
    "Claimant",
    "HeartbeatResult",
    "JSONValue",
    "Job",
    "JobFilter",
    "JobStatus",
    "Lease",
    "NewJob",
    "Page",
    "Progress",
    "Stats",
    "WorkerInfo",
    "empty_counts",
]
