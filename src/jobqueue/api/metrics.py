"""Prometheus metrics: HTTP requests, jobs submitted, started and finished, queue depth.

Where each number comes from:

- HTTP requests and submits are counted by the handlers of this process.
- Attempts started, jobs completed/failed/cancelled and their durations are counted
  from the store's change notifications, which this process receives for every job
  whatever worker ran it (the same single subscription SSE uses). So one server's
  ``/metrics`` covers all workers; with several servers, each counts every job
  (aggregate them with ``max``, not ``sum``). A status change costs one store read to
  learn the job's task; progress updates cost nothing.
- Queue depth and jobs per status are read from the store at scrape time, so they
  are exact across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from jobqueue.errors import JobQueueError
from jobqueue.models import JobStatus

if TYPE_CHECKING:
    from jobqueue.models import Change
    from jobqueue.queue import JobQueue

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_JOB_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


class Metrics:
    """The metrics of one app, in their own registry (so several apps never collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        counter = functools.partial(Counter, registry=self.registry)
        gauge = functools.partial(Gauge, registry=self.registry)
        histogram = functools.partial(Histogram, registry=self.registry)
        self.submitted = counter(
            "jobqueue_jobs_submitted", "Jobs accepted by this server.", ["task"]
        )
        self.started = counter(
            "jobqueue_jobs_started", "Attempts started, by any worker.", ["task"]
        )
        self.finished = counter(
            "jobqueue_jobs_finished",
            "Jobs that reached a terminal status, by any worker.",
            ["task", "status"],
        )
        self.duration = histogram(
            "jobqueue_job_duration_seconds",
            "From the start of a job's last attempt to its terminal status.",
            ["task", "status"],
            buckets=_JOB_BUCKETS,
        )
        self.depth = gauge("jobqueue_queue_depth", "Jobs waiting to run (queued).", ["task"])
        self.jobs = gauge("jobqueue_jobs", "Jobs kept in the store.", ["task", "status"])
        self.workers = gauge("jobqueue_workers", "Workers seen in the last minute.")
        self.store_up = gauge("jobqueue_store_up", "1 when the store answered the last scrape.")
        self.requests = counter(
            "jobqueue_http_requests",
            "HTTP requests answered by the job API.",
            ["method", "route", "status"],
        )
        self.request_seconds = histogram(
            "jobqueue_http_request_duration_seconds",
            "Time to answer a job API request (to the first byte of a stream).",
            ["method", "route"],
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    async def render(self, queue: JobQueue) -> bytes:
        """The text exposition, with the store-derived gauges refreshed first."""
        try:
            stats = await queue.stats()
        except JobQueueError as exc:
            logger.warning("Metrics: the store did not answer: %s", exc)
            self.store_up.set(0)
        else:
            self.store_up.set(1)
            self.depth.clear()
            self.jobs.clear()
            for task in {*queue.tasks.names, *stats.tasks}:
                counts = stats.tasks.get(task, {})
                self.depth.labels(task).set(counts.get(JobStatus.QUEUED, 0))
                for status in JobStatus:
                    self.jobs.labels(task, status.value).set(counts.get(status, 0))
            self.workers.set(len(stats.workers))
        return generate_latest(self.registry)


class ChangeCounter:
    """Counts attempts started and jobs finished from the change notifications.

    Only a change of status costs a store read (to learn the job's task and times);
    the last status of recently seen jobs is remembered to tell a start from progress
    and to ignore repeated notifications.
    """

    def __init__(self, queue: JobQueue, metrics: Metrics, *, remembered: int = 100_000) -> None:
        self._queue = queue
        self._metrics = metrics
        self._remembered = remembered
        self._last: OrderedDict[str, JobStatus] = OrderedDict()
        self._lookups: asyncio.Queue[tuple[str, JobStatus]] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Listen to this process's change hub."""
        self._queue.hub.add_listener(self._on_change)
        self._task = asyncio.get_running_loop().create_task(self._count(), name="jobqueue-metrics")

    async def stop(self) -> None:
        """Stop listening."""
        self._queue.hub.remove_listener(self._on_change)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_change(self, change: Change) -> None:
        previous = self._last.pop(change.job_id, None)
        self._last[change.job_id] = change.status
        if len(self._last) > self._remembered:
            self._last.popitem(last=False)
        if change.status is previous or change.status is JobStatus.QUEUED:
            return  # progress, a repeat, or a (re)queue: submits are counted where they happen
        try:
            self._lookups.put_nowait((change.job_id, change.status))
        except asyncio.QueueFull:
            logger.warning("Metrics are falling behind; a job change was not counted")

    async def _count(self) -> None:
        while True:
            job_id, status = await self._lookups.get()
            try:
                job = await self._queue.get(job_id)
            except JobQueueError:
                continue
            if job is None:
                continue
            if status is JobStatus.PROCESSING:
                self._metrics.started.labels(job.task).inc()
                continue
            self._metrics.finished.labels(job.task, status.value).inc()
            if job.status is status and job.started_at and job.completed_at:
                seconds = (job.completed_at - job.started_at).total_seconds()
                self._metrics.duration.labels(job.task, status.value).observe(max(seconds, 0.0))
