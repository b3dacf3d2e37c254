"""The warm process pool: long-lived child processes that run ``process=True`` tasks.

Each child runs the queue's start-up hooks once, into a ``ctx.state`` of its own, then
runs one job after another until it is recycled (after ``max_jobs_per_child`` jobs, or
when its resident memory, measured between jobs, is above ``max_child_memory_mb``) or
killed (a timeout, a cancellation, a lost lease, shutdown). A killed or exited child is
never reused; the next job that finds no idle child starts a fresh one, so children are
started lazily, at most one per slot of the worker.

The mechanism is the standard library's `multiprocessing` ``spawn`` context with one
duplex pipe per child, driven from the worker's event loop (`loop.add_reader`). Not
`concurrent.futures.ProcessPoolExecutor` or `multiprocessing.Pool`: neither can kill one
running job without breaking or hanging the whole pool, nor carry progress back while a
job runs, nor recycle by memory. ``spawn`` rather than ``fork``: a child never inherits
the worker's loop, threads, sockets or locks; rather than ``forkserver``: it works
wherever Python does, and a warm child pays its start-up once, so the faster start of a
forkserver child buys little.

The child speaks in ``(kind, value)`` messages; the parent dispatches each kind to a
handler (`_HANDLERS`): ``progress``, ``ended`` (how the job ended, and the child's
resident memory), ``startup_failed``. What a task sends besides (``ctx.emit``,
``ctx.save_artifact``) is one more kind and one more handler each. A child exits when
its pipe closes between jobs, and at once when its parent dies (it watches the parent's
sentinel in a thread), so no child outlives a SIGKILLed worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING, Any

from jobqueue.asyncutil import first_done
from jobqueue.errors import ConfigError
from jobqueue.lifecycle import Cancelled, HandedBack, TimedOut
from jobqueue.worker.child import UNPICKLABLE, ChildJob, Ended, child_main
from jobqueue.worker.execution import RemoteError, Stopped
from jobqueue.worker.pool_counts import PoolCounts

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from multiprocessing.process import BaseProcess

    from jobqueue.context import JobContext
    from jobqueue.models import Progress
    from jobqueue.queue import StartupHook
    from jobqueue.tasks import Task
    from jobqueue.worker.execution import Stop

logger = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
#: How long a retired child may take to exit on its own before it is killed.
EXIT_GRACE_SECONDS = 5.0
_MEBIBYTE = 1024 * 1024


# -- the parent's side ---------------------------------------------------------------


class _Child:
    """One child process, the parent's end of its pipe, and the job it runs (if any)."""

    def __init__(self, hooks: list[StartupHook], on_idle_exit: Callable[[_Child], None]) -> None:
        parent_end, child_end = _SPAWN.Pipe()
        self.process: BaseProcess = _SPAWN.Process(
            target=child_main, args=(hooks, child_end), daemon=True, name="jobqueue-pool"
        )
        try:
            self.process.start()
        except UNPICKLABLE as exc:
            parent_end.close()
            raise ConfigError(
                "Process tasks run the start-up hooks in each child process, so each hook"
                f" must be importable by name (a module-level function): {exc}"
            ) from exc
        finally:
            child_end.close()
        assert self.process.pid is not None  # started
        self.pid: int = self.process.pid
        self.conn = parent_end
        self.jobs_done = 0
        self.resident_bytes = 0
        self._on_idle_exit = on_idle_exit
        self.is_open = True
        self.last_words: str | None = None
        """What the child said before it exited on its own (why its start-up hooks failed)."""
        self._context: JobContext | None = None
        self._ended: asyncio.Future[Ended] | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(parent_end.fileno(), self._readable)

    async def run(self, job: memoryview, context: JobContext, stop: Stop) -> Ended | None:
        """Send the pickled *job* and wait for its end; None when *stop* came first."""
        self._context = context
        self._ended = ended = self._loop.create_future()
        # In a thread: a large payload fills the pipe while the child is still running
        # its start-up hooks, and the loop must go on meanwhile. An OSError: the child
        # is gone, and the end-of-file of its pipe resolves `ended`.
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.conn.send_bytes, job)
        try:
            await first_done(ended, stop)
        finally:
            self._context = self._ended = None
        return ended.result() if ended.done() else None

    def detach(self) -> None:
        """Stop reading from the child and close the pipe: the child exits at its next read."""
        if self.is_open:
            self.is_open = False
            self._loop.remove_reader(self.conn.fileno())
            self.conn.close()

    def _readable(self) -> None:
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            self._exited()
        except Exception as exc:  # a message that does not unpickle here
            self._end(Ended("error", f"A message of the task's process is unreadable: {exc}"))
        else:
            _HANDLERS[kind](self, value)

    def _progress(self, value: tuple[str, Progress]) -> None:
        job_id, progress = value
        if self._context is not None and self._context.job_id == job_id:
            self._context.progress(progress.current, progress.total, progress.message)

    def _job_ended(self, end: Ended) -> None:
        self.jobs_done += 1
        self.resident_bytes = end.resident_bytes
        self._end(end)

    def _startup_failed(self, text: str) -> None:
        self.last_words = text

    def _end(self, end: Ended) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(end)

    def _exited(self) -> None:
        self.detach()
        if self._ended is not None and not self._ended.done():
            self._end(Ended("exited", self.last_words))
        else:  # idle, or its job's end is being taken in
            self._on_idle_exit(self)


_HANDLERS: dict[str, Callable[[_Child, Any], None]] = {
    "progress": _Child._progress,
    "ended": _Child._job_ended,
    "startup_failed": _Child._startup_failed,
}


def _kill_reason(stopped_as: object) -> str:
    match stopped_as:
        case TimedOut():
            return "timeout"
        case Cancelled():
            return "cancel"
        case HandedBack():
            return "shutdown"
        case _:
            return "lease_lost"


class ProcessPool:
    """Long-lived children for one worker's process tasks (see the module's docstring).

    Args:
        hooks: the start-up hooks each child runs once (the queue's list: read at
            each child's start).
        size: children at most, one per job the worker may run at once.
        max_jobs_per_child: recycle a child after this many jobs (None: never).
        max_child_memory_mb: recycle a child whose resident memory after a job is
            above this many MiB (None: never).
    """

    def __init__(
        self,
        hooks: Sequence[StartupHook],
        *,
        size: int,
        max_jobs_per_child: int | None = None,
        max_child_memory_mb: float | None = None,
    ) -> None:
        if max_jobs_per_child is not None and max_jobs_per_child < 1:
            raise ValueError("max_jobs_per_child must be at least 1")
        if max_child_memory_mb is not None and max_child_memory_mb <= 0:
            raise ValueError("max_child_memory_mb must be positive")
        self._hooks = hooks
        self._slots = asyncio.Semaphore(size)
        self.max_jobs_per_child = max_jobs_per_child
        self.max_child_memory_mb = max_child_memory_mb
        self.counts = PoolCounts()
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._reaping: set[asyncio.Task[int | None]] = set()

    @property
    def pids(self) -> list[int]:
        """The process ids of the live children, idle and busy."""
        return [child.pid for child in (*self._idle, *self._busy)]

    async def run(self, task: Task, payload: Any, ctx: JobContext, stop: Stop) -> Any:
        """Run one attempt of *task* in a child; what it returns, or what it raised.

        Raises `Stopped` when *stop* wins (the child is killed), `RemoteError` when the
        task failed there or its child died.
        """
        # Pickled here, before a child is involved: a payload that cannot be sent fails
        # the attempt and leaves the child as it was.
        job = ForkingPickler.dumps(
            ChildJob(
                task.function, task.context_parameter, payload, ctx.job_id, ctx.task, ctx.attempt
            )
        )
        async with self._slots:
            child = self._idle.pop() if self._idle else self._start()
            self._busy.add(child)
            try:
                end = await child.run(job, ctx, stop)
            except BaseException:  # cancelled from outside: the child's state is unknown
                self._kill(child, "shutdown")
                raise
            if end is None:
                self._kill(child, _kill_reason(stop.result()))
                raise Stopped
            if end.how == "exited":
                code = await self._crashed(child)
                raise RemoteError(end.value or f"The task's process exited with code {code}")
            self._release(child)
            return end.outcome()

    async def close(self) -> None:
        """Stop every child (idle ones exit, busy ones are killed) and wait until they did."""
        for child in list(self._busy):
            self._kill(child, "shutdown")
        while self._idle:
            self._retire(self._idle.pop())
        await asyncio.gather(*self._reaping)

    def _start(self) -> _Child:
        child = _Child(list(self._hooks), self._lost)
        self.counts.started()
        logger.info("Started process %d for process tasks", child.pid)
        return child

    def _release(self, child: _Child) -> None:
        """Take back *child* after a job: idle again, or recycled on a limit."""
        self._busy.discard(child)
        if not child.is_open:
            return  # it exited as its job ended: `_lost` took care of it
        reason = self._recycle_reason(child)
        if reason is None:
            self._idle.append(child)
            return
        self.counts.recycled(reason)
        logger.info(
            "Recycling process %d (%s: %d jobs, %.0f MiB)",
            child.pid,
            reason,
            child.jobs_done,
            child.resident_bytes / _MEBIBYTE,
        )
        self._retire(child)

    def _recycle_reason(self, child: _Child) -> str | None:
        if self.max_jobs_per_child is not None and child.jobs_done >= self.max_jobs_per_child:
            return "jobs"
        limit = self.max_child_memory_mb
        if limit is not None and child.resident_bytes > limit * _MEBIBYTE:
            return "memory"
        return None

    def _kill(self, child: _Child, reason: str) -> None:
        self._busy.discard(child)
        self.counts.killed(reason)
        logger.info("Killing process %d (%s)", child.pid, reason)
        child.detach()
        child.process.kill()
        self._reap(child.process, grace=0)

    def _retire(self, child: _Child) -> None:
        """Close *child*'s pipe so that it exits by itself; kill it if it takes too long."""
        child.detach()
        self._reap(child.process, grace=EXIT_GRACE_SECONDS)

    async def _crashed(self, child: _Child) -> int | None:
        """Count and reap *child*, which exited during a job; its exit code."""
        self._busy.discard(child)
        self.counts.killed("crashed")
        code = await _reaped(child.process, EXIT_GRACE_SECONDS)
        logger.warning("Process %d exited during a job with code %s", child.pid, code)
        return code

    def _lost(self, child: _Child) -> None:
        """*child* exited between jobs (its start-up hooks failed, say): forget it."""
        with contextlib.suppress(ValueError):
            self._idle.remove(child)
        self.counts.killed("crashed")
        logger.warning("Process %d exited between jobs: %s", child.pid, child.last_words)
        self._reap(child.process, grace=EXIT_GRACE_SECONDS)

    def _reap(self, process: BaseProcess, *, grace: float) -> None:
        reaping = asyncio.create_task(_reaped(process, grace))
        self._reaping.add(reaping)
        reaping.add_done_callback(self._reaping.discard)


async def _reaped(process: BaseProcess, grace: float) -> int | None:
    """Wait up to *grace* seconds for *process* to exit, then kill it; release it.

    Returns its exit code (negative: the signal that ended it).
    """
    await asyncio.to_thread(process.join, grace)
    if process.exitcode is None:
        process.kill()
        await asyncio.to_thread(process.join)
    code = process.exitcode
    process.close()
    return code
