"""The API's JSON representation of jobs and stats: defined once, here, for every side.

The pydantic models are the definition: they document the bodies in ``/openapi.json``
and the Python client validates answers with them. The server and the command line
build bodies with `job_to_wire` and `stats_to_wire`, which write the same fields
directly (several times faster than a model per response; a test holds them to the
models). Free of any web framework, so the client side can use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import pydantic
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel

from jobqueue.errors import ClientError
from jobqueue.models import (
    POSITION_LIMIT,
    Job,
    JobStatus,
    Page,
    Progress,
    Stats,
    WorkerInfo,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from jobqueue.models import JSONValue

M = TypeVar("M", bound=BaseModel)


def timestamp(at: datetime | None) -> str | None:
    """*at* as the API writes times: UTC, milliseconds, ``Z`` (JavaScript's toISOString)."""
    if at is None:
        return None
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


#: An ISO-8601 string on the wire (the models are strict, times excepted), UTC in Python.
Timestamp = Annotated[datetime, Strict(False), AfterValidator(_utc)]
#: A status by its API string.
Status = Annotated[JobStatus, Strict(False)]


def _null_is_false(value: Any) -> Any:
    return False if value is None else value


def _always_sent(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _server_extra(default: Any, **field: Any) -> Any:
    """A field the server always sends but API.md does not promise.

    A client takes *default* when a server leaves it out; the schema documents it as
    always sent (required, no default), which is what this server does.
    """
    return Field(default, json_schema_extra=_always_sent, **field)


class _Wire(BaseModel):
    # Attributes are named as in `jobqueue.models`; the JSON spells them in camelCase.
    # Strict, so a wrong type is refused rather than coerced ("1" is no version), and
    # unknown fields are ignored, so a newer server's additions never break a client.
    model_config = ConfigDict(
        alias_generator=to_camel,
        strict=True,
        extra="ignore",
        json_schema_serialization_defaults_required=True,
    )


class ProgressOut(_Wire):
    """The latest progress a running task reported."""

    current: float
    total: float | None
    message: str | None


class JobOut(_Wire):
    """A job as the API represents it."""

    job_id: str
    task: str
    status: Status
    progress: ProgressOut | None
    result: Any = Field(description="The task's return value once completed; any JSON.")
    error: str | None
    attempts: int = Field(ge=0)
    max_attempts: int = Field(ge=1)
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    expires_at: Timestamp | None
    run_at: Timestamp | None = Field(
        None,
        json_schema_extra=_always_sent,
        description="While queued: the earliest time it may start (a delay, or a retry's "
        "backoff); null otherwise.",
    )
    tags: list[str] = Field(
        [], json_schema_extra=_always_sent, description="The tags given at submit (or none)."
    )
    queue_position: int | None = Field(
        None,
        ge=0,
        json_schema_extra=_always_sent,
        description="While queued and due, in a job's status and events: how many ready jobs "
        "of the same task would be claimed before this one (0: next); null otherwise, in "
        f"other answers, or when more than {POSITION_LIMIT:,} are ahead.",
    )
    estimated_start_at: Timestamp | None = Field(
        None,
        json_schema_extra=_always_sent,
        description="Where queuePosition is given, while queued: the best estimate of when "
        "the job starts, from the jobs ahead and how fast the task's jobs started lately "
        "(not before runAt); null when unknown (no recent starts, or too many ahead).",
    )
    version: int = Field(ge=1)
    is_cancel_requested: Annotated[bool, BeforeValidator(_null_is_false)] = _server_extra(
        False,
        alias="cancelRequested",
        description="True once cancellation of a processing job was asked for.",
    )

    def to_job(self) -> Job:
        """The `Job` this represents.

        What the representation leaves out is defaulted (no payload; a job that is not
        queued counts as runnable since its creation), and the TTL is derived from the
        expiry once there is one.
        """
        fields = dict(self)
        fields["run_at"] = self.run_at or self.created_at
        fields["tags"] = tuple(self.tags)
        if self.progress is not None:
            fields["progress"] = Progress(**dict(self.progress))
        ttl_seconds = 0.0
        if self.completed_at is not None and self.expires_at is not None:
            ttl_seconds = (self.expires_at - self.completed_at).total_seconds()
        return Job(**fields, payload=None, ttl_seconds=ttl_seconds)


@dataclass(frozen=True, slots=True)
class ReadToken:
    """A signed permission to read one job, or a key's jobs with some tags, until
    *expires_at* (API.md, "Read tokens"): what a token answer (`TokenOut`) carries."""

    token: str
    expires_at: datetime


class SubmittedJobOut(JobOut):
    """The submit answer: the job, and what lets a browser read it."""

    read_token: str | None = Field(
        None,
        json_schema_extra=_always_sent,
        description="With API keys: a read token for this job (status, long poll, events), "
        "to hand to a browser instead of a key; null without API keys.",
    )


class TokenOut(_Wire):
    """A read token and when it expires; both null when the server has no API keys."""

    token: str | None
    expires_at: Timestamp | None

    def to_token(self) -> ReadToken | None:
        """The `ReadToken` this represents; None when the server has no API keys."""
        if self.token is None or self.expires_at is None:
            return None
        return ReadToken(self.token, self.expires_at)


class JobPage(_Wire):
    """One page of a listing, newest first."""

    jobs: list[JobOut]
    next_cursor: str | None

    def to_page(self) -> Page:
        """The `Page` this represents."""
        return Page(jobs=[job.to_job() for job in self.jobs], next_cursor=self.next_cursor)


class StatusCounts(_Wire):
    """How many jobs are in each status."""

    queued: int = Field(ge=0)
    processing: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)
    cancelled: int = Field(ge=0)

    def by_status(self) -> dict[JobStatus, int]:
        """The counts keyed by `JobStatus`."""
        return {JobStatus(status): count for status, count in self}


class WorkerOut(_Wire):
    """A worker seen lately."""

    worker_id: str = Field(alias="id")
    last_seen_at: Timestamp
    running: int = Field(ge=0)
    host: str = _server_extra("")
    pid: int = _server_extra(0)
    tasks: list[str] = _server_extra([], description="The tasks it serves.")


class StatsOut(_Wire):
    """Counts per task and status, their totals, and the workers seen lately."""

    tasks: dict[str, StatusCounts]
    totals: StatusCounts
    workers: list[WorkerOut]
    running_keys: dict[str, dict[str, int]] = _server_extra(
        {},
        description="Per task, the running jobs of each concurrency key that has some "
        "(the 100 busiest keys).",
    )
    limits: dict[str, dict[str, int]] = _server_extra(
        {},
        description="Per task, the limits it sets: `concurrency`, `globalConcurrency`, "
        "`keyConcurrency`, `cost`, `maxQueued` (only those set).",
    )

    def to_stats(self) -> Stats:
        """The `Stats` this represents (the totals follow from the tasks' counts)."""
        return Stats(
            tasks={task: counts.by_status() for task, counts in self.tasks.items()},
            workers=[
                WorkerInfo(**{**dict(worker), "tasks": tuple(worker.tasks)})
                for worker in self.workers
            ],
            running_keys=self.running_keys,
        )


# -- building bodies (the server's hot path, and the command line's --json) ------------


def job_to_wire(job: Job) -> dict[str, Any]:
    """The API's job representation of *job* (`JobOut` in JSON)."""
    progress = job.progress
    return {
        "jobId": job.job_id,
        "task": job.task,
        "status": job.status.value,
        "progress": None
        if progress is None
        else {"current": progress.current, "total": progress.total, "message": progress.message},
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "maxAttempts": job.max_attempts,
        "createdAt": timestamp(job.created_at),
        "startedAt": timestamp(job.started_at),
        "completedAt": timestamp(job.completed_at),
        "expiresAt": timestamp(job.expires_at),
        "runAt": timestamp(job.run_at) if job.status is JobStatus.QUEUED else None,
        "tags": list(job.tags),
        "queuePosition": job.queue_position,
        "estimatedStartAt": timestamp(job.estimated_start_at),
        "version": job.version,
        "cancelRequested": job.is_cancel_requested,
    }


def token_to_wire(token: ReadToken | None) -> dict[str, Any]:
    """The token body (`TokenOut` in JSON)."""
    if token is None:
        return {"token": None, "expiresAt": None}
    return {"token": token.token, "expiresAt": timestamp(token.expires_at)}


def _counts(counts: Mapping[JobStatus, int]) -> dict[str, int]:
    return {status.value: counts.get(status, 0) for status in JobStatus}


def stats_to_wire(
    stats: Stats,
    task_names: Iterable[str] = (),
    limits: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """The stats body (`StatsOut` in JSON); the named tasks appear with zero counts when
    they have no jobs, and *limits* are each task's (the server's registry knows them).
    """
    tasks = {name: _counts({}) for name in task_names}
    tasks.update({name: _counts(counts) for name, counts in stats.tasks.items()})
    return {
        "tasks": dict(sorted(tasks.items())),
        "totals": _counts(stats.totals),
        "workers": [
            {
                "id": worker.worker_id,
                "lastSeenAt": timestamp(worker.last_seen_at),
                "running": worker.running,
                "host": worker.host,
                "pid": worker.pid,
                "tasks": list(worker.tasks),
            }
            for worker in stats.workers
        ],
        "runningKeys": stats.running_keys,
        "limits": {task: dict(set_) for task, set_ in (limits or {}).items() if set_},
    }


# -- reading answers (the Python client) ----------------------------------------------


def _validated(model: type[M], value: JSONValue, what: str) -> M:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the answer'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ClientError(f"Unexpected {what} from the server: {reasons}") from None


def parse_job(value: JSONValue) -> Job:
    """A `Job` from the API's job representation; `ClientError` when it is malformed."""
    return _validated(JobOut, value, "job representation").to_job()


def parse_page(value: JSONValue) -> Page:
    """A `Page` from a list answer (``{"jobs": [...], "nextCursor": ...}``)."""
    return _validated(JobPage, value, "job list").to_page()


def parse_token(value: JSONValue) -> ReadToken | None:
    """A `ReadToken` from a token answer; None from a server without API keys."""
    return _validated(TokenOut, value, "token").to_token()


def parse_stats(value: JSONValue) -> Stats:
    """`Stats` from the stats answer; statuses the client does not know are ignored."""
    return _validated(StatsOut, value, "stats").to_stats()
