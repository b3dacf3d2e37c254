"""Running one attempt of a task function where it can be stopped.

Async functions run on the worker's loop and are cancelled. Sync functions run in a
thread of their own: a thread cannot be killed, so a stopped one is abandoned (its
context reports ``cancelled`` and its later writes are dropped) and its slot is freed
at once. Process tasks run in a child process, which is killed. `attempt_outcome` turns
what the function did into the `Outcome` the lifecycle writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import threading
import traceback
from typing import TYPE_CHECKING, Any

import orjson

from jobqueue.context import Fail, JobContext, Retry
from jobqueue.lifecycle import Completed, Failed

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection

    from jobqueue.lifecycle import Outcome
    from jobqueue.models import Progress
    from jobqueue.tasks import Task

logger = logging.getLogger(__name__)

_SPAWN = multiprocessing.get_context("spawn")


class Stopped(Exception):
    """The attempt was stopped from outside (timeout, cancellation, shutdown)."""


class RemoteError(Exception):
    """An exception raised by a task in a child process, carried back as text."""


def _arguments(
    context_parameter: str | None, payload: Any, ctx: JobContext
) -> tuple[list[Any], dict[str, Any]]:
    kwargs = {context_parameter: ctx} if context_parameter else {}
    return [payload], kwargs


async def attempt_outcome(
    task: Task, payload: Any, ctx: JobContext, stop: asyncio.Future[None]
) -> Outcome:
    """Run one attempt (see `run_attempt`) and say how it ended.

    Raises `Stopped` when *stop* wins: the caller knows why it stopped the attempt.
    """
    try:
        result = await run_attempt(task, payload, ctx, stop)
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


async def run_attempt(task: Task, payload: Any, ctx: JobContext, stop: asyncio.Future[None]) -> Any:
    """Run *task* with *payload* until it returns, raises, or *stop* is resolved.

    Raises `Stopped` when *stop* wins; whatever the function raises otherwise.
    """
    if task.options.is_process:
        work: asyncio.Future[Any] = asyncio.ensure_future(_in_process(task, payload, ctx))
    elif task.is_async:
        args, kwargs = _arguments(task.context_parameter, payload, ctx)
        work = asyncio.ensure_future(task.function(*args, **kwargs))
    else:
        args, kwargs = _arguments(task.context_parameter, payload, ctx)
        work = _in_thread(task.function, args, kwargs)
    # Callbacks rather than asyncio.wait: no extra task per attempt on the hot path.
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def settle(_: object) -> None:
        if not ended.done():
            ended.set_result(None)

    work.add_done_callback(settle)
    stop.add_done_callback(settle)
    try:
        await ended
    finally:
        stop.remove_done_callback(settle)
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


# -- child processes -------------------------------------------------------------


def _child_main(
    function: Callable[..., Any],
    context_parameter: str | None,
    payload: Any,
    identity: tuple[str, str, int],
    conn: Connection,
) -> None:
    """Entry point of a process task's child: run it, send back progress and the outcome."""

    def report(progress: Progress) -> None:
        conn.send(("progress", progress))

    job_id, task, attempt = identity
    ctx = JobContext(job_id=job_id, task=task, attempt=attempt, report=report)
    args, kwargs = _arguments(context_parameter, payload, ctx)
    try:
        result = function(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
    except (Retry, Fail) as raised:  # raised on purpose: re-raised as they are in the worker
        conn.send(("raised", raised))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
    else:
        conn.send(("result", result))
    finally:
        conn.close()


async def _in_process(task: Task, payload: Any, ctx: JobContext) -> Any:
    receiver, sender = _SPAWN.Pipe(duplex=False)
    child = _SPAWN.Process(
        target=_child_main,
        args=(
            task.function,
            task.context_parameter,
            payload,
            (ctx.job_id, ctx.task, ctx.attempt),
            sender,
        ),
        daemon=True,
        name=f"jobqueue-{task.name}",
    )
    child.start()
    sender.close()
    loop = asyncio.get_running_loop()
    messages: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def readable() -> None:
        try:
            messages.put_nowait(receiver.recv())
        except (EOFError, OSError):
            loop.remove_reader(receiver.fileno())
            messages.put_nowait(("exit", None))

    loop.add_reader(receiver.fileno(), readable)
    try:
        while True:
            kind, value = await messages.get()
            if kind == "progress":
                ctx.progress(value.current, value.total, value.message)
            elif kind == "result":
                return value
            elif kind == "raised":
                raise value
            elif kind == "error":
                raise RemoteError(value)
            else:
                await asyncio.to_thread(child.join, 1)
                raise RemoteError(f"The task's process exited with code {child.exitcode}")
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(receiver.fileno())
        receiver.close()
        if child.is_alive():
            child.kill()
        await asyncio.to_thread(child.join, 5)
