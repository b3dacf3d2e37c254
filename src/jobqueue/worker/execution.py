"""Running one attempt of a task function where it can be stopped.

Async functions run on the worker's loop and are cancelled. Sync functions run in a
thread of their own: a thread cannot be killed, so a stopped one is abandoned (its
context reports ``cancelled`` and its later writes are dropped) and its slot is freed
at once. Process tasks run in a child of the worker's `ProcessPool`, which kills that
child to stop them. `attempt_outcome` turns what the function did into the `Outcome`
the lifecycle writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import traceback
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

from jobqueue.asyncutil import first_done
from jobqueue.context import Fail, Retry
from jobqueue.lifecycle import Completed, Failed

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobqueue.context import JobContext
    from jobqueue.lifecycle import Outcome
    from jobqueue.tasks import Task
    from jobqueue.worker.pool import ProcessPool

logger = logging.getLogger(__name__)

Stop: TypeAlias = "asyncio.Future[Outcome | None]"
"""Resolved to stop an attempt: with the outcome to write, or None when its lease was lost."""


class Stopped(Exception):
    """The attempt was stopped from outside (timeout, cancellation, shutdown)."""


class RemoteError(Exception):
    """An exception raised by a task in a child process, carried back as text."""


def call_arguments(
    context_parameter: str | None, payload: Any, ctx: JobContext
) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments a task function is called with."""
    kwargs = {context_parameter: ctx} if context_parameter else {}
    return [payload], kwargs


async def attempt_outcome(
    task: Task, payload: Any, ctx: JobContext, stop: Stop, pool: ProcessPool
) -> Outcome:
    """Run one attempt (see `run_attempt`) and say how it ended.

    Raises `Stopped` when *stop* wins: the caller knows why it stopped the attempt.
    """
    try:
        result = await run_attempt(task, payload, ctx, stop, pool)
    except Stopped:
        raise
    except Retry as exc:
        return Failed(str(exc), retry_in=exc.delay_seconds)
    except Fail as exc:
        return Failed(f"{type(exc).__name__}: {exc}", is_final=True)
    except RemoteError as exc:
        return Failed(str(exc))
    except Exception as exc:
        logger.info("Job %s attempt %s failed", ctx.job_id, ctx.attempt, exc_info=True)
        return Failed(_describe(exc))
    try:
        return Completed(orjson.loads(orjson.dumps(_jsonable(result))))
    except TypeError as exc:
        return Failed(f"The result is not JSON: {exc}", is_final=True)


def _describe(exc: BaseException) -> str:
    frames = traceback.format_exception(exc)
    return f"{type(exc).__name__}: {exc}\n{''.join(frames[-6:])}".strip()


def _jsonable(result: Any) -> Any:
    dump = getattr(result, "model_dump", None)
    return dump(mode="json") if callable(dump) else result


async def run_attempt(
    task: Task, payload: Any, ctx: JobContext, stop: Stop, pool: ProcessPool
) -> Any:
    """Run *task* with *payload* until it returns, raises, or *stop* is resolved.

    Raises `Stopped` when *stop* wins; whatever the function raises otherwise.
    """
    if task.options.is_process:
        return await pool.run(task, payload, ctx, stop)
    args, kwargs = call_arguments(task.context_parameter, payload, ctx)
    if task.is_async:
        work: asyncio.Future[Any] = asyncio.ensure_future(task.function(*args, **kwargs))
    else:
        work = _in_thread(task.function, args, kwargs)
    await first_done(work, stop)
    if work.done():
        return work.result()
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        # An async task gets the chance to clean up; a thread is abandoned.
        await asyncio.wait_for(asyncio.shield(work), 0.5 if task.is_async else 0)
    raise Stopped


def _in_thread(
    function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]
) -> asyncio.Future[Any]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return  # stopped and abandoned meanwhile
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def target() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (function(*args, **kwargs), None)
        except BaseException as exc:
            outcome = (None, exc)
        # An abandoned attempt may end after its worker's loop closed: nobody waits for it.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=target, daemon=True, name=f"jobqueue-{function.__name__}").start()
    return future
