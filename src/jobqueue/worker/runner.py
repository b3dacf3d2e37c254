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
import traceback
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import orjson

from jobqueue.aio import wait_set
from jobqueue.context import Fail, JobContext, Retry
from jobqueue.errors import (
    JobQueueError,
    LeaseLost,
    PayloadInvalid,
    StoreError,
    StoreUnavailable,
    UnknownTask,
)
from jobqueue.ids import new_worker_id
from jobqueue.models import NUL, Claimant, JobStatus, WorkerInfo
from jobqueue.notify import Interest
from jobqueue.retry import reconnect_delay
from jobqueue.worker.completions import CompletionBatcher
from jobqueue.worker.execution import RemoteError, Stopped, run_attempt
from jobqueue.worker.progress import ProgressReporter

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jobqueue.models import Change, Claim, Job, Lease, Progress
    from jobqueue.queue import JobQueue
    from jobqueue.tasks import Task

logger = logging.getLogger(__name__)

#: How long an idle worker waits before looking for work without having been signalled.
SAFETY_POLL_SECONDS = 5.0


@dataclass(slots=True)
class _Running:
    """One attempt in a slot."""

    claim: Claim
    context: JobContext
    stop: asyncio.Future[None]
    task: asyncio.Task[None] | None = None
    stop_reason: str = ""
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
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.queue = queue
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.task_names = tasks or queue.tasks.names
        for name in self.task_names:
            queue.tasks.resolve(name)  # UnknownTask early, not at the first claim
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.worker_id = worker_id or new_worker_id()
        self.state = SimpleNamespace()
        self.maintenance_seconds = maintenance_seconds
        self._completions = CompletionBatcher(queue.store, queue.clock)
        self._running: dict[str, _Running] = {}
        self._recording = 0  # attempts in `_running` whose outcome is being written
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
        if not await self._connect():
            return
        # Subscribe first: the subscription is in place by the time the hooks are done.
        with self._signals():
            await self._call_hooks(queue.startup_hooks)
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
                with contextlib.suppress(StoreError):
                    await queue.store.unregister_worker(self.worker_id)
                await self._call_hooks(queue.shutdown_hooks)

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """Listen for work becoming ready and for cancel requests."""
        hub = self.queue.hub
        hub.add_work_signal(self._work)
        hub.add_listener(self._on_change, Interest.SIGNALS)
        try:
            yield
        finally:
            hub.remove_listener(self._on_change)
            hub.drop_work_signal(self._work)

    async def _connect(self) -> bool:
        """Open the queue, waiting with backoff while the store is unavailable.

        Returns False when stopped before the store answered.
        """
        failures = 0
        while not self._stopping.is_set():
            try:
                await self.queue.open(interest=Interest.SIGNALS)
                return True
            except StoreUnavailable as exc:
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning("The store is unavailable (%s); retrying in %.1fs", exc, delay)
                await wait_set(self._stopping, delay)
        return False

    async def _call_hooks(self, hooks: list[Any]) -> None:
        for hook in hooks:
            result = hook(self.state) if inspect.signature(hook).parameters else hook()
            if inspect.isawaitable(result):
                await result

    # -- claiming ------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        store, clock = self.queue.store, self.queue.clock
        failures = 0
        while not self._stopping.is_set():
            # A slot is free again as soon as its attempt ends: the outcome's write
            # overlaps the next attempt instead of delaying it.
            free = self.concurrency - len(self._running) + self._recording
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._work.clear()  # before claiming: a job queued from now on sets it again
            try:
                claims = await store.claim(
                    Claimant(self.worker_id, frozenset(self.task_names), self.lease_seconds),
                    free,
                    clock.now(),
                )
                wake_at = None if claims else await store.next_run_at(self.task_names, clock.now())
            except StoreError as exc:
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning("Claim failed (%s); retrying in %.1fs", exc, delay)
                await wait_set(self._stopping, delay)
                continue
            failures = 0
            for claim in claims:
                self._start(claim)
            if len(claims) < free:
                timeout = SAFETY_POLL_SECONDS
                if wake_at is not None:
                    timeout = min(timeout, max((wake_at - clock.now()).total_seconds(), 0.0))
                await wait_set(self._work, timeout)

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
        # Unnamed: asyncio names a task in Python code, a measurable share of a busy worker.
        running.task = asyncio.create_task(self._attempt(running, reporter))

    async def _record_progress(self, job_id: str, progress: Progress) -> None:
        running = self._running[job_id]
        job = await self.queue.store.record_progress(
            running.claim.lease, progress, self.queue.clock.now()
        )
        running.version = job.version

    # -- running -------------------------------------------------------------------

    async def _attempt(self, running: _Running, reporter: ProgressReporter) -> None:
        job, lease = running.claim.job, running.claim.lease
        try:
            outcome = await self._execute(running)
            running.is_recording = True
            self._recording += 1
            self._slot_freed.set()
            await reporter.close()
            await self._record(job, lease, outcome)
        except LeaseLost:
            logger.warning("Job %s: lease lost; another attempt owns it now", job.job_id)
        except JobQueueError as exc:
            # The outcome could not be written: the lease will expire and the job
            # will run again, so nothing is lost.
            logger.error("Job %s: could not record the outcome: %s", job.job_id, exc)
        finally:
            await reporter.close()
            del self._running[job.job_id]
            if running.is_recording:
                self._recording -= 1
            if not self._running:
                self._report_activity()  # busy → idle
            self._slot_freed.set()

    async def _execute(self, running: _Running) -> _Outcome:
        job = running.claim.job
        try:
            task = self.queue.tasks.resolve(job.task)
            payload = task.validate(job.payload)
        except (UnknownTask, PayloadInvalid) as exc:
            return _Outcome("fail", error=str(exc), is_final=True)
        stopper = self._arm_timeout(running, job.timeout_seconds)
        try:
            result = await run_attempt(task, payload, running.context, running.stop)
        except Stopped:
            return _Outcome(running.stop_reason or "release")
        except Retry as signal:
            return _Outcome("fail", error=str(signal), retry_in=signal.delay_seconds)
        except Fail as signal:
            return _Outcome("fail", error=f"{type(signal).__name__}: {signal}", is_final=True)
        except RemoteError as exc:
            return _Outcome("fail", error=str(exc), task=task)
        except Exception as exc:
            logger.info("Job %s attempt %s failed", job.job_id, job.attempts, exc_info=True)
            return _Outcome("fail", error=_describe(exc), task=task)
        finally:
            if stopper is not None:
                stopper.cancel()
        try:
            return _Outcome("complete", result=orjson.loads(orjson.dumps(_jsonable(result))))
        except TypeError as exc:
            return _Outcome("fail", error=f"The result is not JSON: {exc}", is_final=True)

    def _arm_timeout(self, running: _Running, timeout: float | None) -> asyncio.TimerHandle | None:
        if timeout is None:
            return None

        def expire() -> None:
            self._stop_attempt(running, f"timeout:{timeout:g}")

        return asyncio.get_running_loop().call_later(timeout, expire)

    def _stop_attempt(self, running: _Running, reason: str) -> None:
        if not running.stop.done():
            running.stop_reason = reason
            running.context.mark_cancelled()
            running.stop.set_result(None)

    async def _record(self, job: Job, lease: Lease, outcome: _Outcome) -> None:
        """Write *outcome*, retrying with backoff while the store is unavailable.

        The attempt keeps its slot and its lease meanwhile (the heartbeat goes on renewing
        it), so a store outage shorter than the lease costs no second run of work already
        done. Retrying ends when the store answers (the write accepted, or `LeaseLost`)
        or when shutdown's grace period is over.
        """
        failures = 0
        while True:
            try:
                await self._finish(job, lease, outcome)
                return
            except StoreUnavailable as exc:
                if self._abandoning.is_set():
                    raise
                delay = reconnect_delay(failures)
                failures += 1
                logger.warning(
                    "Job %s: could not record the outcome (%s); retrying in %.1fs",
                    job.job_id,
                    exc,
                    delay,
                )
                await wait_set(self._abandoning, delay)

    async def _finish(self, job: Job, lease: Lease, outcome: _Outcome) -> None:
        store, now = self.queue.store, self.queue.clock.now()
        if outcome.kind == "lost":
            return  # another attempt owns the job: write nothing
        if outcome.kind == "complete":
            await self._completions.complete(lease, outcome.result)
        elif outcome.kind == "cancel":
            await store.finish_cancelled(lease, now)
        elif outcome.kind == "release":
            await store.release(lease, now)
        elif outcome.kind.startswith("timeout:"):
            seconds = outcome.kind.partition(":")[2]
            await store.fail(lease, f"Timed out after {seconds}s", self._retry_at(job), now)
        else:
            retry_at = None
            if not outcome.is_final:
                if outcome.retry_in is not None and job.attempts < job.max_attempts:
                    retry_at = now + timedelta(seconds=outcome.retry_in)
                else:
                    retry_at = self._retry_at(job, outcome.task)
            # An exception's text may hold anything, a job's error no NUL (see `NUL`).
            await store.fail(lease, outcome.error.replace(NUL, "\ufffd"), retry_at, now)

    def _retry_at(self, job: Job, task: Task | None = None) -> Any:
        if job.attempts >= job.max_attempts:
            return None
        backoff = (task.options.backoff if task else None) or self.queue.default_backoff
        return self.queue.clock.now() + timedelta(seconds=backoff.delay(job.attempts))

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
        store, now = self.queue.store, self.queue.clock.now()
        await store.register_worker(
            WorkerInfo(
                worker_id=self.worker_id,
                last_seen_at=now,
                running=len(self._running),
                host=socket.gethostname(),
                pid=os.getpid(),
            )
        )
        leases = [running.claim.lease for running in self._running.values()]
        if not leases:
            return
        result = await store.heartbeat(self.worker_id, leases, self.lease_seconds, now)
        for job_id in result.cancel_requested:
            if (running := self._running.get(job_id)) is not None:
                self._stop_attempt(running, "cancel")
        for job_id in result.lost:
            running = self._running.get(job_id)
            # A lease "lost" while recording was most likely ended by that very write.
            if running is not None and not running.is_recording:
                logger.warning("Job %s: lease lost; abandoning the attempt", job_id)
                self._stop_attempt(running, "lost")

    # -- shutdown ------------------------------------------------------------------

    async def _drain(self) -> None:
        attempts = [r.task for r in self._running.values() if r.task is not None]
        if not attempts:
            return
        logger.info("Waiting up to %ss for %d jobs", self.shutdown_grace_seconds, len(attempts))
        await asyncio.wait(attempts, timeout=self.shutdown_grace_seconds)
        self._abandoning.set()
        for running in list(self._running.values()):
            self._stop_attempt(running, "release")
        await asyncio.gather(*attempts, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How an attempt ended, before it is written."""

    kind: str  # complete | fail | cancel | release | lost | timeout:<seconds>
    result: Any = None
    error: str = ""
    is_final: bool = False
    retry_in: float | None = None
    task: Task | None = None


def _describe(exc: BaseException) -> str:
    frames = traceback.format_exception(exc)
    return f"{type(exc).__name__}: {exc}\n{''.join(frames[-6:])}".strip()


def _jsonable(result: Any) -> Any:
    dump = getattr(result, "model_dump", None)
    return dump(mode="json") if callable(dump) else result
