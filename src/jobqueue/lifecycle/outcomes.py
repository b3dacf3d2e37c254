"""How an attempt ended, as the worker tells `Lifecycle.finish`: the lifecycle, not the
worker, decides what each outcome does to the job (retry or not, and when)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobqueue.models import JSONValue


@dataclass(frozen=True, slots=True)
class Completed:
    """The task returned *result* (already JSON)."""

    result: JSONValue


@dataclass(frozen=True, slots=True)
class Failed:
    """The attempt failed with *error*.

    It is retried with the task's backoff while attempts are left, unless *is_final*;
    *retry_in* (the task raised `Retry`) replaces the backoff's delay.
    """

    error: str
    retry_in: float | None = None
    is_final: bool = False


@dataclass(frozen=True, slots=True)
class TimedOut:
    """The attempt ran past its timeout of *seconds* and was stopped: a failed attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Cancelled:
    """The attempt was stopped because cancellation was requested."""


@dataclass(frozen=True, slots=True)
class HandedBack:
    """The worker stops before the attempt ended: back to ``queued``, the attempt uncounted."""


Outcome = Completed | Failed | TimedOut | Cancelled | HandedBack
