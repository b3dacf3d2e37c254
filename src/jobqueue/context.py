"""What a running task receives (`JobContext`) and the exceptions it raises on purpose
(`Retry`, `Fail`)."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from jobqueue.models import Progress

if TYPE_CHECKING:
    from collections.abc import Callable, Generator


class _Reported:
    """The value of `JobContext.progress`: awaitable in async tasks, ignorable in sync ones."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


_REPORTED = _Reported()


class JobContext:
    """The running attempt, as the task sees it.

    ``progress`` is safe to call from the worker's loop and from any thread; reports
    are coalesced, and the latest one is always stored and pushed.
    """

    __slots__ = ("_cancelled", "_report", "attempt", "job_id", "state", "task")

    def __init__(
        self,
        *,
        job_id: str,
        task: str,
        attempt: int,
        report: Callable[[Progress], None],
        state: SimpleNamespace | None = None,
    ) -> None:
        self.job_id = job_id
        self.task = task
        self.attempt = attempt
        self.state = state if state is not None else SimpleNamespace()
        """Resources the worker's start-up hooks loaded (a model, a client, ...)."""
        self._report = report
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        """True once cancellation of this job was requested (or its timeout passed)."""
        return self._cancelled

    def mark_cancelled(self) -> None:
        """Make `cancelled` true; the worker calls it when it stops the attempt.

        A plain attribute: a task in a thread reads it as promptly as an event's flag.
        """
        self._cancelled = True

    def progress(
        self, current: float, total: float | None = None, message: str | None = None
    ) -> Any:  # awaitable, yet fine to ignore: typed Any so neither use is flagged
        """Report progress: ``await ctx.progress(...)`` in async tasks, a call in sync ones."""
        if not math.isfinite(current) or (total is not None and not math.isfinite(total)):
            raise ValueError("progress values must be finite numbers")
        self._report(Progress(current=current, total=total, message=message))
        return _REPORTED


class Retry(Exception):
    """Raised by a task to run again after *delay_seconds* (counts as an attempt)."""

    def __init__(self, delay_seconds: float = 0.0, reason: str = "Retry requested") -> None:
        super().__init__(reason)
        self.delay_seconds = delay_seconds


class Fail(Exception):
    """Raised by a task to fail at once, without retrying whatever attempts are left."""
