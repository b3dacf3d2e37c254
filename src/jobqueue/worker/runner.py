"""`Worker`: claims jobs in batches and runs them in concurrency slots.

One asyncio loop per worker process. Work is noticed through the store's "work is
ready" signal (the hub), with a slow poll only as a safety net. Leases are renewed by
a heartbeat on the loop, which blocking tasks cannot starve because they run in
threads or child processes; a change of a running job (a cancel request) triggers an
immediate heartbeat, so cancellation takes effect in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from jobqueue.asyncutil import wait_set
from jobqueue.context import JobContext
from jobqueue.errors import (
    JobQueueError,
    LeaseLost,
    PayloadInvalid,
    StoreError,
    UnknownTask,
)
from jobqueue.ids import new_worker_id
from jobqueue.lifecycle import Cancelled, Failed, HandedBack, TimedOut
from jobqueue.models import Claimant, JobStatus
from jobqueue.notify import Interest
from jobqueue.retry import reconnect_delay
from jobqueue.worker.child import call_hook
from jobqueue.worker.execution import Stopped, attempt_outcome
from jobqueue.worker.outages import open_for_work, record_outcome
from jobqueue.worker.pool import ProcessPool
from jobqueue.worker.progress import ProgressReporter
from jobqueue.worker.slots import Slots, describe_task, tasks_that_fit

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jobqueue.lifecycle import Lifecycle, Outcome
    from jobqueue.models import Change, Claim, Progress
    from jobqueue.queue import JobQueue
    from jobqueue.worker.execution import Stop

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Running:
    """One attempt in a slot."""

    claim: Claim
    context: JobContext
    stop: Stop
    task: asyncio.Task[None] | None = None
    stopped_as: Outcome | None = None
    """Why the worker stopped the attempt; None (with `stop` done): its lease was lost."""
    version: int = 0
    is_recording: bool = False
    """The attempt ended and its outcome is being written (its lease still renewed)."""


class Worker:
    """Runs the jobs of a `JobQueue`'s tasks until stopped.

    Args:
        queue: the application's queue (tasks and store).
        concurrency: attempts run at once.
        lease_seconds: how long a claim stays valid without a heartbeat; a killed
            worker's jobs run again after about this long.
        tasks: the task names to serve (default: every registered task).
        shutdown_grace_seconds: how long `stop` lets running attempts finish before
            handing them back to ``queued``.
        max_jobs_per_child: replace a child process of ``process=True`` tasks after
            this many jobs (default: never).
        max_child_memory_mb: replace such a child whose resident memory after a job is
            above this many MiB (default: never).
    """

    def __init__(
        self,
        queue: JobQueue,
        *,
        concurrency: int = 10,
        lease_seconds: float = 30.0,
        tasks: list[str] | None = None,
        shutdown_grace_seconds: float = 10.0,
        maintenance_seconds: float = 1.0,
        worker_id: str | None = None,
        max_jobs_per_child: int | None = None,
        max_child_memory_mb: float | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.queue = queue
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        served = tasks_that_fit(queue.tasks, tasks or queue.tasks.served, concurrency)
        self.task_names = [task.name for task in served]
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.worker_id = worker_id or new_worker_id()
        self.claimant = Claimant(self.worker_id, frozenset(self.task_names), lease_seconds)
        self._slots = Slots(concurrency, served, self.claimant)
        self.state = SimpleNamespace()
        self.maintenance_seconds = maintenance_seconds
        self.pool = ProcessPool(
            queue.startup_hooks,
            size=concurrency,
            max_jobs_per_child=max_jobs_per_child,
            max_child_memory_mb=max_child_memory_mb,
        )
        """The warm children that run this worker's ``process=True`` tasks."""
        self._running: dict[str, _Running] = {}
        self._stopping = asyncio.Event()
        self._abandoning = asyncio.Event()  # shutdown's grace period is over
        # The claim loop waits on one of these at a time, and `stop` sets both. A wait on
        # several events takes three loop turns to wake: long enough for the completions
        # of a burst of ended attempts to reach the store ahead of the claim that refills
        # their slots.
        self._slot_freed = asyncio.Event()
        self._work = asyncio.Event()  # the hub sets it when a job becomes queued
        self._beat_now = asyncio.Event()
        self._last_beat = 0.0

    @property
    def running(self) -> int:
        """Attempts running now."""
        return len(self._running)

    @property
    def is_stopping(self) -> bool:
        """True once `stop` was called."""
        return self._stopping.is_set()

    def stop(self) -> None:
        """Stop claiming, let running attempts finish within the grace period, then return."""
        self._stopping.set()
        self._slot_freed.set()
        self._work.set()

    async def run(self) -> None:
        """Serve until `stop`: start-up hooks, then claim and run; on stop, drain."""
        queue = self.queue
        if not await open_for_work(queue, self._stopping):
            return
        # Subscribe first: the subscription is in place by the time the hooks are done.
        with self._following_work():
            await self._call_hooks(queue.startup_hooks)
            logger.info("%s", self.describe())
            helpers = [
                asyncio.create_task(self._heartbeat_loop(), name="jobqueue-heartbeat"),
                asyncio.create_task(
                    queue.maintain(self._stopping, interval=self.maintenance_seconds),
                    name="jobqueue-maint",
                ),
            ]
            try:
                await self._claim_loop()
                await self._drain()
            finally:
                for helper in helpers:
                    helper.cancel()
                await asyncio.gather(*helpers, return_exceptions=True)
                await self._close_pool()
                with contextlib.suppress(StoreError):
                    await queue.lifecycle.worker_stopped(self.worker_id)
                await self._call_hooks(queue.shutdown_hooks)

    @contextlib.contextmanager
    def _following_work(self) -> Iterator[None]:
        """Listen for work becoming ready and for cancel requests."""
        hub = self.queue.hub
        hub.add_work_event(self._work)
        hub.add_listener(self._on_change, Interest.WORK)
        try:
            yield
        finally:
            hub.remove_listener(self._on_change)
            hub.discard_work_event(self._work)

    def describe(self) -> str:
        """What this worker serves, for its start-up log line (no password)."""
        tasks = ", ".join(describe_task(self.queue.tasks.resolve(name)) for name in self.task_names)
        return (
            f"Worker {self.worker_id} serving {self.queue.store_shown}: tasks {tasks}; "
            f"concurrency {self.concurrency}, lease {self.lease_seconds:g}s"
        )

    async def _call_hooks(self, hooks: list[Any]) -> None:
        for hook in hooks:
            result = call_hook(hook, self.state)
            if inspect.isawaitable(result):
                await result

    async def _close_pool(self) -> None:
        await self.pool.close()
        if self.pool.counts.starts:
            logger.info("Process pool: %s", self.pool.counts)

    # -- claiming ------------------------------------------------------------------

    @property
    def _lifecycle(self) -> Lifecycle:
        return self.queue.lifecycle

    async def _claim_loop(self) -> None:
        lifecycle, clock = self._lifecycle, self.queue.clock
        failures = 0
        while not self._stopping.is_set():
            # A slot is free again as soon as its attempt ends: the outcome's write
            # overlaps the next attempt instead of delaying it.
            free = self._slots.free
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._work.clear()  # before claiming: a job queued from now on sets it again
            try:
                claims = await lifecycle.claim(self._slots.claimant(), free)
                short = len(claims) < free
                wake_at = (
                    await lifecycle.next_run_at(self.claimant.tasks)
                    if not claims or (short and self._slots.can_stop_short)
                    else None
                )
            except StoreError as exc:
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning("Claim failed (%s); retrying in %.1fs", exc, delay)
                await wait_set(self._stopping, delay)
                continue
            failures = 0
            for claim in claims:
                self._start(claim)
            if short:
                await wait_set(self._work, self._slots.idle_seconds(wake_at, clock.now()))

    def _start(self, claim: Claim) -> None:
        job = claim.job
        reporter = ProgressReporter(lambda progress: self._record_progress(job.job_id, progress))
        context = JobContext(
            job_id=job.job_id,
            task=job.task,
            attempt=job.attempts,
            report=reporter.report,
            state=self.state,
        )
        stop = asyncio.get_running_loop().create_future()
        running = _Running(claim, context, stop, version=job.version)
        if not self._running:
            self._report_activity()  # idle → busy
        self._running[job.job_id] = running
        self._slots.take(job.task)
        # Unnamed: asyncio names a task in Python code, a measurable share of a busy worker.
        running.task = asyncio.create_task(self._attempt(running, reporter))

    async def _record_progress(self, job_id: str, progress: Progress) -> None:
        running = self._running[job_id]
        job = await self._lifecycle.record_progress(running.claim.lease, progress)
        running.version = job.version

    # -- running -------------------------------------------------------------------

    async def _attempt(self, running: _Running, reporter: ProgressReporter) -> None:
        job_id = running.claim.job.job_id
        try:
            outcome = await self._execute(running)
            self._free_slots(running)
            await reporter.close()
            if outcome is not None:  # None: another attempt owns the job, write nothing
                await record_outcome(self._lifecycle, running.claim, outcome, self._abandoning)
        except LeaseLost:
            logger.warning("Job %s: lease lost; another attempt owns it now", job_id)
        except JobQueueError as exc:
            # The outcome could not be written: the lease will expire and the job
            # will run again, so nothing is lost.
            logger.error("Job %s: could not record the outcome: %s", job_id, exc)
        finally:
            await reporter.close()
            del self._running[job_id]
            if not running.is_recording:
                self._free_slots(running)
            if self._slots.can_stop_short:
                # A claim that stopped short may take more now that the store, too, no
                # longer counts this job as running (its key's or task's place is free).
                self._work.set()
            if not self._running:
                self._report_activity()  # busy → idle

    def _free_slots(self, running: _Running) -> None:
        """The attempt has ended: its slots are free while its outcome is written."""
        running.is_recording = True
        self._slots.give_back(running.claim.job.task)
        self._slot_freed.set()

    async def _execute(self, running: _Running) -> Outcome | None:
        job = running.claim.job
        try:
            task = self.queue.tasks.resolve(job.task)
            payload = task.validate(job.payload)
        except (UnknownTask, PayloadInvalid) as exc:
            return Failed(str(exc), is_final=True)
        stopper = self._arm_timeout(running, job.timeout_seconds)
        try:
            return await attempt_outcome(task, payload, running.context, running.stop, self.pool)
        except Stopped:
            return running.stopped_as
        finally:
            if stopper is not None:
                stopper.cancel()

    def _arm_timeout(self, running: _Running, timeout: float | None) -> asyncio.TimerHandle | None:
        if timeout is None:
            return None
        loop = asyncio.get_running_loop()
        return loop.call_later(timeout, self._stop_attempt, running, TimedOut(timeout))

    def _stop_attempt(self, running: _Running, outcome: Outcome | None) -> None:
        """Stop *running*, to be written as *outcome* (None: write nothing, the lease is lost)."""
        if not running.stop.done():
            running.stopped_as = outcome
            running.context.mark_cancelled()
            running.stop.set_result(outcome)

    # -- heartbeats ----------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        # A running job changed by someone else while still processing: a cancel request.
        # (Its own ends and progress may be announced before the write returns; the
        # status filters out the ends, and a rare early progress costs one heartbeat.)
        if change.status is not JobStatus.PROCESSING:
            return
        running = self._running.get(change.job_id)
        if running is not None and change.version > running.version:
            self._beat_now.set()

    def _report_activity(self) -> None:
        """Heartbeat early so the stats show the worker's new running count, at most 1/s."""
        if asyncio.get_running_loop().time() - self._last_beat > 1.0:
            self._beat_now.set()

    async def _heartbeat_loop(self) -> None:
        interval = self.lease_seconds / 3
        while True:
            self._beat_now.clear()
            self._last_beat = asyncio.get_running_loop().time()
            try:
                await self._heartbeat()
            except StoreError as exc:
                logger.warning("Heartbeat failed: %s", exc)
            await wait_set(self._beat_now, interval)

    async def _heartbeat(self) -> None:
        leases = [running.claim.lease for running in self._running.values()]
        result = await self._lifecycle.heartbeat(
            self.claimant, leases, host=socket.gethostname(), pid=os.getpid()
        )
        for job_id in result.cancel_requested:
            if (running := self._running.get(job_id)) is not None:
                self._stop_attempt(running, Cancelled())
        for job_id in result.lost:
            running = self._running.get(job_id)
            # A lease "lost" while recording was most likely ended by that very write.
            if running is not None and not running.is_recording:
                logger.warning("Job %s: lease lost; abandoning the attempt", job_id)
                self._stop_attempt(running, None)

    # -- shutdown ------------------------------------------------------------------

    async def _drain(self) -> None:
        attempts = [r.task for r in self._running.values() if r.task is not None]
        logger.info(
            "Worker %s stopping: draining %d running jobs for up to %gs",
            self.worker_id,
            len(attempts),
            self.shutdown_grace_seconds,
        )
        if not attempts:
            return
        await asyncio.wait(attempts, timeout=self.shutdown_grace_seconds)
        self._abandoning.set()
        if self._running:
            logger.info("Handing %d unfinished jobs back to the queue", len(self._running))
        for running in list(self._running.values()):
            self._stop_attempt(running, HandedBack())
        await asyncio.gather(*attempts, return_exceptions=True)
