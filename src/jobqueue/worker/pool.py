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
import collections
import contextlib
import inspect
import logging
import multiprocessing
import os
import pickle
import resource
import sys
import threading
import traceback
from dataclasses import dataclass, field
from multiprocessing.reduction import ForkingPickler
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from jobqueue.asyncutil import first_done
from jobqueue.context import Fail, JobContext, Retry
from jobqueue.errors import ConfigError
from jobqueue.lifecycle import Cancelled, HandedBack, TimedOut
from jobqueue.worker.execution import RemoteError, Stopped, call_arguments

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from prometheus_client import Counter

    from jobqueue.models import Progress
    from jobqueue.queue import StartupHook
    from jobqueue.tasks import Task
    from jobqueue.worker.execution import Stop

logger = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")
#: How long a retired child may take to exit on its own before it is killed.
EXIT_GRACE_SECONDS = 5.0
_MEBIBYTE = 1024 * 1024
#: What pickling an object that is not importable by name (a lambda, a closure) raises.
_UNPICKLABLE = (pickle.PicklingError, AttributeError, TypeError)


def call_hook(hook: StartupHook, state: SimpleNamespace) -> object:
    """Call a start-up or shutdown *hook* as `JobQueue.on_startup` documents: with *state*
    when it takes a parameter. Returns what it returned (maybe an awaitable)."""
    return hook(state) if inspect.signature(hook).parameters else hook()


# -- counts ------------------------------------------------------------------------


class _Exported(NamedTuple):
    """The process's Prometheus counters (in prometheus_client's default registry)."""

    starts: Counter
    recycles: Counter
    kills: Counter


def _prometheus_counters() -> _Exported | None:
    """The counters every pool of this process adds to, when prometheus_client is installed."""
    try:
        from prometheus_client import Counter
    except ImportError:
        return None
    return _Exported(
        Counter("jobqueue_pool_process_starts", "Child processes started for process tasks."),
        Counter("jobqueue_pool_recycles", "Pool children replaced on a limit.", ["reason"]),
        Counter("jobqueue_pool_kills", "Pool children killed or lost mid-job.", ["reason"]),
    )


_EXPORTED = _prometheus_counters()


@dataclass
class PoolCounts:
    """What one pool did: children started, recycled and killed, by reason.

    Recycle reasons: ``jobs``, ``memory``. Kill reasons: ``timeout``, ``cancel``,
    ``crashed`` (the child exited by itself), ``lease_lost``, ``shutdown``. Each count
    is also added to the process's Prometheus counters when prometheus_client is there.
    """

    starts: int = 0
    recycles: collections.Counter[str] = field(default_factory=collections.Counter)
    kills: collections.Counter[str] = field(default_factory=collections.Counter)

    def started(self) -> None:
        self.starts += 1
        if _EXPORTED is not None:
            _EXPORTED.starts.inc()

    def recycled(self, reason: str) -> None:
        self.recycles[reason] += 1
        if _EXPORTED is not None:
            _EXPORTED.recycles.labels(reason).inc()

    def killed(self, reason: str) -> None:
        self.kills[reason] += 1
        if _EXPORTED is not None:
            _EXPORTED.kills.labels(reason).inc()

    def __str__(self) -> str:
        def listed(counts: collections.Counter[str]) -> str:
            return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items())) or "none"

        return (
            f"{self.starts} process starts; recycled: {listed(self.recycles)};"
            f" killed: {listed(self.kills)}"
        )


# -- the child's side ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Job:
    """What the parent sends a child: one attempt to run."""

    function: Callable[..., Any]
    context_parameter: str | None
    payload: Any
    job_id: str
    task: str
    attempt: int


_How = Literal["returned", "raised", "error", "exited"]


@dataclass(frozen=True, slots=True)
class _Ended:
    """How a job ended in its child: returned *value*, raised `Retry`/`Fail` (*value*),
    failed otherwise (*value*: the traceback's text), or the child exited (*value*: its
    last words, if any). *resident_bytes*: the child's memory once the job was over."""

    how: _How
    value: Any = None
    resident_bytes: int = 0

    def outcome(self) -> Any:
        """The job's result, or what it raised, raised here."""
        if self.how == "returned":
            return self.value
        if self.how == "raised":
            raise self.value
        raise RemoteError(self.value)


def resident_bytes() -> int:
    """This process's resident memory now, from ``/proc/self/statm``.

    Where there is no /proc (macOS), the peak resident size instead: never below the
    current one, so a limit checked against it recycles early, never late.
    """
    try:
        with open("/proc/self/statm", "rb") as statm:  # noqa: PTH123 (one small read)
            return int(statm.read().split()[1]) * resource.getpagesize()
    except (OSError, IndexError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # bytes there, KiB elsewhere


class _Channel:
    """The child's end of its pipe; sends from the job's threads and its own, one at a time."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, kind: str, value: Any) -> None:
        with self._lock:
            self.conn.send((kind, value))

    def send_end(self, how: _How, value: Any) -> None:
        end = _Ended(how, value, resident_bytes())
        try:
            self.send("ended", end)
        except _UNPICKLABLE as exc:
            self.send("ended", _Ended("error", f"The task's result cannot be sent: {exc}"))


def _exit_with_parent() -> None:
    """Exit this child the moment its parent dies (even by SIGKILL, mid-job)."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()  # waits on the parent's sentinel: readable once the parent is gone
        os._exit(1)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"


def _run_job(job: _Job, state: SimpleNamespace, channel: _Channel, runner: asyncio.Runner) -> None:
    def report(progress: Progress) -> None:
        channel.send("progress", (job.job_id, progress))

    ctx = JobContext(
        job_id=job.job_id, task=job.task, attempt=job.attempt, report=report, state=state
    )
    args, kwargs = call_arguments(job.context_parameter, job.payload, ctx)
    try:
        result = job.function(*args, **kwargs)
        if inspect.isawaitable(result):
            result = runner.run(_awaited(result))
    except (Retry, Fail) as raised:  # raised on purpose: re-raised as they are in the worker
        channel.send_end("raised", raised)
    except BaseException as exc:
        channel.send_end("error", _describe(exc))
    else:
        channel.send_end("returned", result)


def _child_main(hooks: list[StartupHook], conn: Connection) -> None:
    """A child's life: the start-up hooks once, then each job sent until the pipe closes.

    One event loop for the child's whole life, so what an async hook opens (a client
    bound to its loop) still works in the async tasks that use it.
    """
    threading.Thread(target=_exit_with_parent, daemon=True, name="jobqueue-parent").start()
    channel = _Channel(conn)
    state = SimpleNamespace()
    with asyncio.Runner() as runner:
        try:
            for hook in hooks:
                result = call_hook(hook, state)
                if inspect.isawaitable(result):
                    runner.run(_awaited(result))
        except BaseException as exc:
            channel.send("startup_failed", f"A start-up hook failed: {_describe(exc)}")
            return
        while True:
            try:
                message = conn.recv_bytes()
            except EOFError:
                return  # retired, or the pool closed
            try:
                job = ForkingPickler.loads(message)
            except Exception as exc:  # the task's module does not import here, say
                channel.send_end("error", f"The job cannot be read here: {_describe(exc)}")
            else:
                _run_job(job, state, channel, runner)


# -- the parent's side ---------------------------------------------------------------


class _Child:
    """One child process, the parent's end of its pipe, and the job it runs (if any)."""

    def __init__(self, hooks: list[StartupHook], on_idle_exit: Callable[[_Child], None]) -> None:
        parent_end, child_end = _SPAWN.Pipe()
        self.process: BaseProcess = _SPAWN.Process(
            target=_child_main, args=(hooks, child_end), daemon=True, name="jobqueue-pool"
        )
        try:
            self.process.start()
        except _UNPICKLABLE as exc:
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
        self._ended: asyncio.Future[_Ended] | None = None
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(parent_end.fileno(), self._readable)

    async def run(self, job: memoryview, context: JobContext, stop: Stop) -> _Ended | None:
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
            self._end(_Ended("error", f"A message of the task's process is unreadable: {exc}"))
        else:
            _HANDLERS[kind](self, value)

    def _progress(self, value: tuple[str, Progress]) -> None:
        job_id, progress = value
        if self._context is not None and self._context.job_id == job_id:
            self._context.progress(progress.current, progress.total, progress.message)

    def _job_ended(self, end: _Ended) -> None:
        self.jobs_done += 1
        self.resident_bytes = end.resident_bytes
        self._end(end)

    def _startup_failed(self, text: str) -> None:
        self.last_words = text

    def _end(self, end: _Ended) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(end)

    def _exited(self) -> None:
        self.detach()
        if self._ended is not None and not self._ended.done():
            self._end(_Ended("exited", self.last_words))
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
            _Job(task.function, task.context_parameter, payload, ctx.job_id, ctx.task, ctx.attempt)
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
