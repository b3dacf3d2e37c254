"""jobqueue: reliable long-running jobs behind a web page (asynchronous request-reply)."""

from __future__ import annotations

from jobqueue.client import AsyncClient, Client
from jobqueue.clock import Clock, FakeClock, SystemClock
from jobqueue.context import Fail, JobContext, Retry
from jobqueue.errors import (
    ClientError,
    ConfigError,
    IdempotencyConflict,
    InvalidRequest,
    InvalidTransition,
    JobNotFound,
    JobQueueError,
    LeaseLost,
    MissingDependency,
    PayloadInvalid,
    QueueFull,
    RateLimited,
    StoreError,
    StoreUnavailable,
    UnknownTask,
)
from jobqueue.lifecycle import Submission
from jobqueue.models import Job, JobStatus, Progress, SubmitOptions, Webhook
from jobqueue.queue import JobQueue
from jobqueue.retry import Backoff

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Backoff",
    "Client",
    "ClientError",
    "Clock",
    "ConfigError",
    "Fail",
    "FakeClock",
    "IdempotencyConflict",
    "InvalidRequest",
    "InvalidTransition",
    "Job",
    "JobContext",
    "JobNotFound",
    "JobQueue",
    "JobQueueError",
    "JobStatus",
    "LeaseLost",
    "MissingDependency",
    "PayloadInvalid",
    "Progress",
    "QueueFull",
    "RateLimited",
    "Retry",
    "StoreError",
    "StoreUnavailable",
    "Submission",
    "SubmitOptions",
    "SystemClock",
    "UnknownTask",
    "Webhook",
    "__version__",
]
