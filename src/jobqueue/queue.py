"""`JobQueue`: the task registry and every use case over a store.

The HTTP app, the CLI and the workers all go through it; none of them touches a store
directly. No HTTP here.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, overload

from jobqueue import waiting
from jobqueue.bounds import Bound, checked_tags
from jobqueue.clock import Clock, SystemClock
from jobqueue.errors import InvalidRequest, UnknownTask
from jobqueue.lifecycle import Lifecycle, Submission
from jobqueue.lifecycle.maintenance import Maintenance
from jobqueue.models import JobFilter, JobStatus, NewJob
from jobqueue.notify import Hub, Interest
from jobqueue.placement import Placement
from jobqueue.recent import RecentJobs
from jobqueue.retry import Backoff
from jobqueue.stores import DEFAULT_STORE_URL, Store, open_store
from jobqueue.stores.urls import redacted
from jobqueue.submission import build_new_job
from jobqueue.tasks import (
    QueueDefaults,
    TaskFunction,
    TaskRegistry,
    describe,
    max_queued_setting,
    task_options,
)
from jobqueue.webhooks.delivery import delivery_task
from jobqueue.webhooks.guard import check_url
from jobqueue.webhooks.schedule import DeliverySchedule

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Unpack

    from jobqueue.models import Job, JSONValue, Page, Stats, SubmitOptions
    from jobqueue.ratelimit import RateLimit
    from jobqueue.tasks import TaskSettings
    from jobqueue.webhooks.guard import Resolver

StartupHook = Callable[..., Any]
PAGE_SIZE = Bound(1, 500)


class JobQueue:
    """Tasks, and the jobs that run them, over one store.

    Args:
        store: a store URL or instance; None reads ``JOBQUEUE_STORE``, then falls back
            to ``sqlite:///jobqueue.db``.
        clock: where ``now`` comes from (a `FakeClock` in tests).
        max_attempts: attempts allowed when neither the submit nor the task says.
        ttl_seconds: how long terminal jobs are kept by default.
        timeout_seconds: the per-attempt timeout by default (None: no timeout).
        backoff: the retry delay policy by default.
        max_queued: refuse a submit (`QueueFull`, HTTP 503) while this many jobs are
            queued, of every task; None reads ``JOBQUEUE_MAX_QUEUED``, else no limit. A
            task's own ``max_queued`` bounds its jobs alone.
        webhook_resolver: how a webhook URL's host becomes the addresses it must not
            reach (default: the system's resolver; tests pass a stub).
        webhook_schedule: when deliveries are retried (default: for as long as
            ``JOBQUEUE_WEBHOOK_RETRY_SECONDS`` says, else a day).

    Webhook deliveries are jobs of the built-in task ``jobqueue.webhook``, which every
    worker serves unless told not to (``--exclude-tasks jobqueue.webhook``).
    """

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        clock: Clock | None = None,
        max_attempts: int = 3,
        ttl_seconds: float = 86400.0,
        timeout_seconds: float | None = None,
        backoff: Backoff | None = None,
        max_queued: int | None = None,
        webhook_resolver: Resolver | None = None,
        webhook_schedule: DeliverySchedule | None = None,
    ) -> None:
        if store is None:
            store = os.environ.get("JOBQUEUE_STORE") or DEFAULT_STORE_URL
        self.store_url = store if isinstance(store, str) else None
        self._store = store if isinstance(store, Store) else None
        self.clock: Clock = clock or SystemClock()
        self.tasks = TaskRegistry()
        self.startup_hooks: list[StartupHook] = []
        self.shutdown_hooks: list[StartupHook] = []
        self.defaults = QueueDefaults(
            max_attempts=max_attempts,
            ttl_seconds=ttl_seconds,
            timeout_seconds=timeout_seconds,
            backoff=backoff or Backoff(),
            max_queued=max_queued_setting(max_queued),
        )
        """What a job gets when neither its submit nor its task says otherwise."""
        self.webhook_resolver = webhook_resolver
        schedule = webhook_schedule or DeliverySchedule.from_environment()
        self.tasks.add(delivery_task(schedule, lambda: self.webhook_resolver), is_builtin=True)
        self._hub: Hub | None = None
        self._recent: RecentJobs | None = None
        self._lifecycle: Lifecycle | None = None
        self._placement: Placement | None = None
        self._opened = False
        self._open_lock: asyncio.Lock | None = None

    # -- configuration -------------------------------------------------------

    @overload
    def task(self, function: TaskFunction, /) -> TaskFunction: ...

    @overload
    def task(
        self, function: None = None, /, **settings: Unpack[TaskSettings]
    ) -> Callable[[TaskFunction], TaskFunction]: ...

    def task(
        self, function: TaskFunction | None = None, /, **settings: Unpack[TaskSettings]
    ) -> TaskFunction | Callable[[TaskFunction], TaskFunction]:
        """Register a task function (``async def`` or plain ``def``); usable bare or called
        with the settings of `TaskSettings` (``@queue.task(timeout=30, max_attempts=5)``)."""
        options = task_options(settings)

        def register(fn: TaskFunction) -> TaskFunction:
            task = describe(fn, settings.get("name"), options)
            self.tasks.add(task, is_default=settings.get("default", False))
            return fn

        return register if function is None else register(function)

    def on_startup(self, hook: StartupHook) -> StartupHook:
        """Run *hook* once when a worker starts, before it claims anything.

        The hook may be async; it receives the worker's state namespace (the same
        object tasks see as ``ctx.state``) when it takes a parameter. Each child process
        of ``process=True`` tasks runs it too, once, into its own state: there it must be
        importable by name (a module-level function).
        """
        self.startup_hooks.append(hook)
        return hook

    def on_shutdown(self, hook: StartupHook) -> StartupHook:
        """Run *hook* once when a worker stops, after its last job."""
        self.shutdown_hooks.append(hook)
        return hook

    # -- lifecycle -------------------------------------------------------------

    def use_store(self, store: str | Store) -> None:
        """Replace the store before first use (the CLI's ``--store``)."""
        if self._opened:
            raise RuntimeError("use_store() must be called before the queue is opened")
        self.store_url = store if isinstance(store, str) else None
        self._store = store if isinstance(store, Store) else None
        self._hub = None
        self._recent = None
        self._lifecycle = None
        self._placement = None

    @property
    def store_shown(self) -> str:
        """The store's URL with any password hidden (a store instance: its class)."""
        return redacted(self.store_url) if self.store_url else type(self.store).__name__

    @property
    def store(self) -> Store:
        """The store (created from the URL on first use, opened by `open`)."""
        if self._store is None:
            assert self.store_url is not None
            self._store = open_store(self.store_url)
        return self._store

    @property
    def lifecycle(self) -> Lifecycle:
        """The owner of every transition of this queue's jobs (what workers call)."""
        if self._lifecycle is None:
            self._lifecycle = Lifecycle(self.store, self.clock, self.tasks, self.defaults.backoff)
        return self._lifecycle

    @property
    def placement(self) -> Placement:
        """Where this queue's queued jobs stand, and each task's recent start rate."""
        if self._placement is None:
            self._placement = Placement(self.store, self.clock)
        return self._placement

    @property
    def recent(self) -> RecentJobs:
        """The jobs this process read lately, answered from memory while current (for
        readers that repeat themselves: an API server's polls and streams)."""
        if self._recent is None:
            self._recent = RecentJobs(self.hub, self.get, self.clock)
        return self._recent

    @property
    def hub(self) -> Hub:
        """This process's dispatcher of change notifications."""
        if self._hub is None:
            self._hub = Hub(self.store)
        return self._hub

    async def open(self, *, interest: Interest | None = None) -> None:
        """Open the store and subscribe to its changes; every use case calls it lazily.

        The subscription is to every change unless the first opener asks for less: a
        worker opens with `Interest.WORK`, and is then sent only new work and cancel
        requests (its tasks may submit jobs without widening it). Whatever needs more
        later (`wait`, an API server's streams) widens it.
        """
        if not self._opened:
            if self._open_lock is None:
                self._open_lock = asyncio.Lock()
            async with self._open_lock:
                if not self._opened:
                    await self.store.open()
                    self._opened = True
        if interest is not None:
            self.hub.need(interest)
        elif self.hub.interest is Interest.NONE:
            self.hub.need(Interest.CHANGES)

    async def close(self) -> None:
        """Stop listening and close the store."""
        if self._opened:
            self._opened = False
            await self.hub.stop()
            await self.store.close()

    async def ping(self) -> None:
        """Return when the store answers; raise `StoreUnavailable` when it does not."""
        await self.open()
        await self.store.ping()

    async def __aenter__(self) -> JobQueue:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- use cases -------------------------------------------------------------

    def build(
        self,
        task: str | None,
        payload: JSONValue,
        *,
        owner: str | None = None,
        **options: Unpack[SubmitOptions],
    ) -> NewJob:
        """Validate a submission into a `NewJob`, raising `InvalidRequest` subclasses.

        Checks the task exists, the options are in range, and the payload is JSON and
        passes the task's payload type.
        """
        if task is not None and self.tasks.is_builtin(task):
            raise UnknownTask(task)
        return build_new_job(
            self.tasks.resolve(task), payload, options, owner=owner, fallback=self.defaults
        )

    async def enqueue(self, new: NewJob) -> Submission:
        """Store a validated submission; replays an idempotent one instead of duplicating.

        Raises `UnsafeWebhookURL` when its webhook's host is or resolves to an address
        webhooks may not reach.
        """
        if new.webhook is not None:
            await check_url(new.webhook.url, resolve=self.webhook_resolver)
        await self.open()
        return await self.lifecycle.create(new)

    async def count_submit(self, limits: Sequence[RateLimit], submitter: str) -> None:
        """Count a submit of *submitter* under *limits*, shared by every process using the
        store; `RateLimited` when it exceeds one (the HTTP API calls it before `enqueue`)."""
        await self.open()
        await self.lifecycle.count_submit(limits, submitter)

    async def submit(
        self, task: str | None, payload: JSONValue, **options: Unpack[SubmitOptions]
    ) -> Job:
        """Submit a job and return it, ``queued``.

        Raises `UnknownTask`, `PayloadInvalid` (the payload fails the task's type),
        `InvalidRequest` (an option out of range) or `IdempotencyConflict`; on any of
        them nothing is stored.
        """
        new = self.build(task, payload, **options)
        return (await self.enqueue(new)).job

    async def get(self, job_id: str) -> Job | None:
        """The job, or None when unknown or expired."""
        await self.open()
        return await self.store.get(job_id, self.clock.now())

    async def with_position(self, job: Job) -> Job:
        """*job* with its `Job.queue_position` (when due: one store read whose cost grows
        with the jobs ahead) and `Job.estimated_start_at` read now when it is queued,
        else as it is."""
        return await self.placement.place(job)

    async def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask a running one to stop.

        Raises `JobNotFound`, and `InvalidTransition` (carrying the job) when the job
        is already terminal.
        """
        await self.open()
        try:
            return await self.lifecycle.cancel(job_id)
        finally:
            self.recent.forget(job_id)

    async def retry(self, job_id: str) -> Job:
        """Queue a ``failed`` or ``cancelled`` job again with a fresh attempt budget."""
        await self.open()
        try:
            return await self.lifecycle.retry(job_id)
        finally:
            self.recent.forget(job_id)

    async def list(
        self,
        *,
        statuses: Iterable[JobStatus | str] = (),
        tasks: Iterable[str] = (),
        owner: str | None = None,
        tag: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """A page of jobs, newest first; pass `Page.next_cursor` back for the next."""
        await self.open()
        try:
            where = JobFilter(
                statuses=frozenset(JobStatus(s) for s in statuses),
                tasks=frozenset(tasks),
                owner=owner,
                tag=None if tag is None else checked_tags([tag])[0],
            )
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        limit = PAGE_SIZE.integer("limit", limit) or 50
        return await self.store.list_jobs(where, limit, cursor, self.clock.now())

    async def stats(self) -> Stats:
        """Counts per task and status, and the workers seen lately."""
        await self.open()
        return await self.store.stats(self.clock.now())

    async def wait_for_change(
        self, job_id: str, since_version: int | None = None, timeout: float = 30.0
    ) -> Job:
        """The job once its version exceeds *since_version* or it is terminal.

        Without *since_version*, waits for the next change after now. Returns the
        job as it is when *timeout* passes without a change. Raises `JobNotFound`.
        """
        await self.open()
        return await waiting.wait_for_change(
            self.hub, self.recent.get, job_id, since_version, timeout
        )

    def watch(self, job_id: str, since_version: int = 0) -> AsyncIterator[Job]:
        """The job now (if newer than *since_version*), then each newer version until terminal.

        Raises `JobNotFound`. Versions between two yields may be skipped; the latest
        state is never missed.
        """
        return waiting.versions(self.wait_for_change, job_id, since_version)

    async def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it is terminal; `TimeoutError` after *timeout* seconds.

        Raises `JobNotFound`.
        """
        await self.open()
        return await waiting.wait_until_terminal(self.hub, self.recent.get, job_id, timeout)

    async def maintain(self, stopping: asyncio.Event, *, interval: float = 1.0) -> None:
        """Recover lost leases and purge expired jobs every *interval* seconds (jittered)
        until *stopping* is set; store errors are logged and the next pass tries again."""
        await Maintenance(self, interval=interval).run(stopping)

    async def maintain_once(self) -> tuple[int, int]:
        """One maintenance pass at once; returns the numbers of jobs recovered and purged."""
        return await Maintenance(self).run_once()
