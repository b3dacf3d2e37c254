"""The one owner of a job's life: every transition from submit to purge, and the only
code that writes to a store (`Lifecycle`); the worker reports how attempts end as an
`Outcome`."""

from __future__ import annotations

from jobqueue.lifecycle.outcomes import (
    Cancelled,
    Completed,
    Failed,
    HandedBack,
    Outcome,
    TimedOut,
)
from jobqueue.lifecycle.transitions import Lifecycle, Submission

__all__ = [
    "Cancelled",
    "Completed",
    "Failed",
    "HandedBack",
    "Lifecycle",
    "Outcome",
    "Submission",
    "TimedOut",
]
