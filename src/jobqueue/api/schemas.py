"""The wire format: camelCase JSON bodies built from the snake_case models.

The pydantic models document the bodies (they feed ``/openapi.json``) and validate the
submit options; `jobqueue.wire` builds the response bodies directly, which is several
times faster than validating a model per response. A test checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from jobqueue.models import JobStatus
from jobqueue.queue import (
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    MAX_PRIORITY,
    MAX_TIMEOUT_SECONDS,
    MAX_TTL_SECONDS,
)

# The wire models spell fields as the JSON does, so they are camelCase on purpose.


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


JSON_INTEGER = BeforeValidator(_integral)
"""Put after a strict int's constraints to accept integers as JSON Schema does: ``3.0`` too."""


class ProgressOut(BaseModel):
    """The latest progress a running task reported."""

    current: float
    total: float | None
    message: str | None


class JobOut(BaseModel):
    """A job as the API represents it."""

    jobId: str
    task: str
    status: JobStatus
    progress: ProgressOut | None
    result: Any = Field(description="The task's return value once completed; any JSON.")
    error: str | None
    attempts: int = Field(ge=0)
    maxAttempts: int = Field(ge=1)
    createdAt: datetime
    startedAt: datetime | None
    completedAt: datetime | None
    expiresAt: datetime | None
    version: int = Field(ge=1)
    cancelRequested: bool = Field(
        description="True once cancellation of a processing job was asked for."
    )


class JobPage(BaseModel):
    """One page of a listing, newest first."""

    jobs: list[JobOut]
    nextCursor: str | None


class StatusCounts(BaseModel):
    """How many jobs are in each status."""

    queued: int = Field(ge=0)
    processing: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)
    cancelled: int = Field(ge=0)


class WorkerOut(BaseModel):
    """A worker seen lately."""

    id: str
    lastSeenAt: datetime
    running: int = Field(ge=0)
    host: str
    pid: int


class StatsOut(BaseModel):
    """Counts per task and status, their totals, and the workers seen lately."""

    tasks: dict[str, StatusCounts]
    totals: StatusCounts
    workers: list[WorkerOut]


class HealthOut(BaseModel):
    """The service and its store answer."""

    status: Literal["ok"]


class FieldError(BaseModel):
    """One reason a payload failed its task's schema."""

    field: str
    message: str


class Problem(BaseModel):
    """An error (RFC 9457 problem details); ``error`` is the message to show."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    error: str
    errors: list[FieldError] | None = Field(
        None, description="With 422: each payload field that failed, and why."
    )
    job: JobOut | None = Field(None, description="With 409: the job as it is.")


class SubmitFields(BaseModel):
    """The submit fields other than ``payload``; validated strictly (``1.0`` is no integer)."""

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)

    task: str | None = Field(
        None, min_length=1, max_length=200, description="Default: the default task."
    )
    priority: Annotated[int, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY), JSON_INTEGER] | None = Field(
        None, description="Higher runs first among ready jobs; default 0."
    )
    delaySeconds: float | None = Field(
        None, ge=0, le=MAX_DELAY_SECONDS, description="Do not start before now + delay."
    )
    timeoutSeconds: float | None = Field(
        None,
        gt=0,
        le=MAX_TIMEOUT_SECONDS,
        description="An attempt running longer is stopped and counts as failed.",
    )
    maxAttempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS), JSON_INTEGER] | None = Field(
        None, description="Attempts allowed."
    )
    ttlSeconds: float | None = Field(
        None, gt=0, le=MAX_TTL_SECONDS, description="How long a finished job is kept."
    )
