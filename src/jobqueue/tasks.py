"""The task registry: what `@queue.task` records about a function, and payload validation."""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydantic
from typing_extensions import TypedDict

from jobqueue.bounds import (
    MAX_ATTEMPTS,
    MAX_TASK_NAME_LENGTH,
    QUEUED_JOBS,
    SLOTS,
    TIMEOUT_SECONDS,
    TTL_SECONDS,
    check_length,
)
from jobqueue.context import JobContext
from jobqueue.errors import ConfigError, InvalidRequest, PayloadInvalid, UnknownTask, field_errors

if typing.TYPE_CHECKING:
    from jobqueue.models import JSONValue
    from jobqueue.retry import Backoff

TaskFunction = Callable[..., Any]
MAX_QUEUED_VARIABLE = "JOBQUEUE_MAX_QUEUED"


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Per-task defaults; None means the queue's default."""

    timeout_seconds: float | None = None
    max_attempts: int | None = None
    ttl_seconds: float | None = None
    backoff: Backoff | None = None
    is_process: bool = False
    """Run each attempt in a long-lived child process of the worker's pool, which
    timeouts and cancellation can kill."""
    max_queued: int | None = None
    """Refuse a submit (`QueueFull`) while this many jobs of the task are queued."""
    concurrency: int | None = None
    """At most this many of its jobs at once in one worker process."""
    global_concurrency: int | None = None
    """At most this many of its jobs at once across every worker."""
    key_concurrency: int | None = None
    """At most this many of its jobs with one ``concurrency_key`` at once, in every worker."""
    cost: int = 1
    """Slots of a worker's ``--concurrency`` that one of its jobs takes."""

    @property
    def limits(self) -> dict[str, int]:
        """The limits set on the task, by their API names (``keyConcurrency``...)."""
        limits = {
            "concurrency": self.concurrency,
            "globalConcurrency": self.global_concurrency,
            "keyConcurrency": self.key_concurrency,
            "cost": self.cost if self.cost != 1 else None,
            "maxQueued": self.max_queued,
        }
        return {name: value for name, value in limits.items() if value is not None}


class TaskSettings(TypedDict, total=False):
    """The keyword arguments of `JobQueue.task`."""

    name: str | None
    """The task's name (default: the function's name)."""
    timeout: float | None
    """Seconds an attempt may run before it is stopped."""
    max_attempts: int | None
    """Attempts allowed in all."""
    ttl: float | None
    """Seconds a finished job is kept."""
    backoff: Backoff | None
    """The delay policy between attempts."""
    process: bool
    """Run each attempt in one of the worker's long-lived child processes (each runs the
    start-up hooks once and keeps ``ctx.state`` across jobs), so a timeout or a
    cancellation can stop code that never yields (CPU-bound, C extensions) by killing
    that child."""
    default: bool
    """Use this task when a submission names none."""
    max_queued: int | None
    """Refuse a submit (`QueueFull`, HTTP 503) while this many of its jobs are queued."""
    concurrency: int | None
    """At most this many of its jobs at once in one worker process."""
    global_concurrency: int | None
    """At most this many of its jobs at once in all workers."""
    key_concurrency: int | None
    """At most this many of its jobs with one ``concurrency_key`` at once in all workers;
    jobs of a key at its limit wait without holding back the others."""
    cost: int
    """The slots of a worker's ``concurrency`` one job takes (default 1); a worker with
    fewer slots does not serve the task."""


def task_options(settings: TaskSettings) -> TaskOptions:
    """The options *settings* ask for; `InvalidRequest` when one is out of bounds."""
    check_length("name", settings.get("name"), MAX_TASK_NAME_LENGTH)
    return TaskOptions(
        timeout_seconds=TIMEOUT_SECONDS.number("timeout", settings.get("timeout")),
        max_attempts=MAX_ATTEMPTS.integer("max_attempts", settings.get("max_attempts")),
        ttl_seconds=TTL_SECONDS.number("ttl", settings.get("ttl")),
        backoff=settings.get("backoff"),
        is_process=settings.get("process", False),
        max_queued=QUEUED_JOBS.integer("max_queued", settings.get("max_queued")),
        concurrency=SLOTS.integer("concurrency", settings.get("concurrency")),
        global_concurrency=SLOTS.integer("global_concurrency", settings.get("global_concurrency")),
        key_concurrency=SLOTS.integer("key_concurrency", settings.get("key_concurrency")),
        cost=SLOTS.integer("cost", settings.get("cost")) or 1,
    )


def max_queued_setting(value: int | None) -> int | None:
    """*value*, else ``JOBQUEUE_MAX_QUEUED``; `ConfigError` unless a positive integer."""
    raw = os.environ.get(MAX_QUEUED_VARIABLE, "") if value is None else value
    if raw == "":
        return None
    try:
        return QUEUED_JOBS.integer("max_queued", int(raw) if isinstance(raw, str) else raw)
    except (ValueError, InvalidRequest):
        raise ConfigError(
            f"max_queued ({MAX_QUEUED_VARIABLE}) must be a positive integer, not {raw!r}"
        ) from None


@dataclass(frozen=True, slots=True)
class QueueDefaults:
    """What a job gets when neither its submit nor its task says otherwise."""

    max_attempts: int
    ttl_seconds: float
    timeout_seconds: float | None
    backoff: Backoff
    max_queued: int | None = None
    """Refuse a submit (`QueueFull`) while this many jobs are queued, of every task."""


@dataclass(frozen=True, slots=True)
class Task:
    """A registered task: the function and how to call it."""

    name: str
    function: TaskFunction
    options: TaskOptions = field(default_factory=TaskOptions)
    payload_adapter: pydantic.TypeAdapter[Any] | None = None
    context_parameter: str | None = None

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (run on the worker's loop)."""
        return inspect.iscoroutinefunction(self.function)

    def validate(self, payload: JSONValue) -> Any:
        """The payload as the function receives it; `PayloadInvalid` says which field fails."""
        if self.payload_adapter is None:
            return payload
        try:
            return self.payload_adapter.validate_python(payload)
        except pydantic.ValidationError as exc:
            raise PayloadInvalid.of_fields(field_errors(exc.errors()), "Invalid payload") from None

    def payload_schema(self) -> dict[str, Any] | None:
        """The JSON schema of the payload, when the function declares one."""
        if self.payload_adapter is None:
            return None
        return self.payload_adapter.json_schema()


def describe(
    function: TaskFunction, name: str | None = None, options: TaskOptions | None = None
) -> Task:
    """Inspect *function*'s signature into a `Task`.

    The first parameter receives the payload; its annotation, when it has one, is the
    payload's type, validated at submit time. A parameter annotated `JobContext`
    receives the context.
    """
    if not callable(function):
        raise ConfigError(f"A task must be a function, got {function!r}")
    try:
        hints = typing.get_type_hints(function)
    except (NameError, TypeError) as exc:
        raise ConfigError(f"Cannot resolve the annotations of {function!r}: {exc}") from exc
    parameters = list(inspect.signature(function).parameters.values())
    context = next((p.name for p in parameters if hints.get(p.name) is JobContext), None)
    payload = [p for p in parameters if p.name != context]
    if not payload:
        raise ConfigError(f"Task {function.__qualname__} must take the payload as a parameter")
    if any(p.default is inspect.Parameter.empty for p in payload[1:]):
        raise ConfigError(
            f"Task {function.__qualname__} may only take the payload and a JobContext"
        )
    annotation = hints.get(payload[0].name, Any)
    adapter = None if annotation is Any else pydantic.TypeAdapter(annotation)
    return Task(
        name=name or function.__name__,
        function=function,
        options=options or TaskOptions(),
        payload_adapter=adapter,
        context_parameter=context,
    )


class TaskRegistry:
    """Tasks by name, and the default task (used when a submission names none).

    Built-in tasks (webhook deliveries) are jobqueue's own: workers serve them, but they
    are not among the `names` an application submits to and lists.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._default: str | None = None
        self._builtin: set[str] = set()

    def add(self, task: Task, *, is_default: bool = False, is_builtin: bool = False) -> None:
        """Register *task*; a name can only be registered once."""
        if task.name in self._tasks:
            raise ConfigError(f"A task named {task.name!r} is already registered")
        if is_default and self._default is not None:
            raise ConfigError(f"{self._default!r} is already the default task")
        self._tasks[task.name] = task
        if is_default:
            self._default = task.name
        if is_builtin:
            self._builtin.add(task.name)

    def is_builtin(self, name: str) -> bool:
        """Whether *name* is a built-in task (which no submit may name)."""
        return name in self._builtin

    def resolve(self, name: str | None) -> Task:
        """The task called *name*, or the default task for None; `UnknownTask` otherwise."""
        key = self._default if name is None else name
        if key is None or key not in self._tasks:
            raise UnknownTask(name)
        return self._tasks[key]

    @property
    def names(self) -> list[str]:
        """Every registered name but the built-in tasks', sorted."""
        return sorted(self._tasks.keys() - self._builtin)

    @property
    def served(self) -> list[str]:
        """What a worker serves unless told otherwise: every name, built-in ones too."""
        return sorted(self._tasks)

    @property
    def default(self) -> str | None:
        """The default task's name, if one was marked."""
        return self._default

    def __iter__(self) -> typing.Iterator[Task]:
        """The tasks of `names`."""
        return (task for name, task in self._tasks.items() if name not in self._builtin)

    def __len__(self) -> int:
        return len(self._tasks) - len(self._builtin)
