"""What runs inside a pool child: the start-up hooks once, then one job after another,
each job's progress and end sent to the parent as ``(kind, value)`` messages."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import os
import pickle
import resource
import sys
import threading
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

from jobqueue.context import Fail, JobContext, Retry
from jobqueue.worker.execution import RemoteError, call_arguments

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from multiprocessing.connection import Connection

    from jobqueue.models import Progress
    from jobqueue.queue import StartupHook

#: What pickling an object that is not importable by name (a lambda, a closure) raises.
UNPICKLABLE = (pickle.PicklingError, AttributeError, TypeError)


def call_hook(hook: StartupHook, state: SimpleNamespace) -> object:
    """Call a start-up or shutdown *hook* as `JobQueue.on_startup` documents: with *state*
    when it takes a parameter. Returns what it returned (maybe an awaitable)."""
    return hook(state) if inspect.signature(hook).parameters else hook()


@dataclass(frozen=True, slots=True)
class ChildJob:
    """What the parent sends a child: one attempt to run."""

    function: Callable[..., Any]
    context_parameter: str | None
    payload: Any
    job_id: str
    task: str
    attempt: int


How = Literal["returned", "raised", "error", "exited"]


@dataclass(frozen=True, slots=True)
class Ended:
    """How a job ended in its child: returned *value*, raised `Retry`/`Fail` (*value*),
    failed otherwise (*value*: the traceback's text), or the child exited (*value*: its
    last words, if any). *resident_bytes*: the child's memory once the job was over."""

    how: How
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

    def send_end(self, how: How, value: Any) -> None:
        end = Ended(how, value, resident_bytes())
        try:
            self.send("ended", end)
        except UNPICKLABLE as exc:
            self.send("ended", Ended("error", f"The task's result cannot be sent: {exc}"))


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


def _run_job(
    job: ChildJob, state: SimpleNamespace, channel: _Channel, runner: asyncio.Runner
) -> None:
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


def child_main(hooks: list[StartupHook], conn: Connection) -> None:
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
