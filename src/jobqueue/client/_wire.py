"""The client's one translation between the API's camelCase JSON and `jobqueue.models` values.

Parsing is strict about the fields API.md guarantees and lenient about the rest, so a
newer server that adds fields never breaks an older client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from jobqueue.errors import ClientError
from jobqueue.models import Job, JobStatus, Page, Progress, Stats, WorkerInfo

if TYPE_CHECKING:
    from jobqueue.models import JSONValue

JSONObject = Mapping[str, "JSONValue"]
T = TypeVar("T")


class _Malformed(Exception):
    """A field of the answer is missing or of the wrong type (turned into `ClientError`)."""


def _object(value: JSONValue, what: str) -> JSONObject:
    if not isinstance(value, Mapping):
        raise _Malformed(f"{what} is not an object")
    return value


def _str(data: JSONObject, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _Malformed(f"{key!r} is not a string")
    return value


def _optional_str(data: JSONObject, key: str) -> str | None:
    value = data.get(key)
    return None if value is None else _str(data, key)


def _int(data: JSONObject, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{key!r} is not an integer")
    return value


def _number(value: JSONValue, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(f"{key!r} is not a number")
    return float(value)


def _time(data: JSONObject, key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(_str(data, key))
    except ValueError:
        raise _Malformed(f"{key!r} is not an ISO-8601 timestamp") from None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required_time(data: JSONObject, key: str) -> datetime:
    value = _time(data, key)
    if value is None:
        raise _Malformed(f"{key!r} is missing")
    return value


def _progress(value: JSONValue) -> Progress | None:
    if value is None:
        return None
    data = _object(value, "'progress'")
    total = data.get("total")
    return Progress(
        current=_number(data.get("current"), "current"),
        total=None if total is None else _number(total, "total"),
        message=_optional_str(data, "message"),
    )


def _job(data: JSONObject) -> Job:
    created_at = _required_time(data, "createdAt")
    completed_at = _time(data, "completedAt")
    expires_at = _time(data, "expiresAt")
    # The representation leaves out scheduling details the server keeps to itself;
    # when a server adds them they are used, otherwise they are derived or defaulted.
    ttl = data.get("ttlSeconds")
    if ttl is not None:
        ttl_seconds = _number(ttl, "ttlSeconds")
    elif completed_at is not None and expires_at is not None:
        ttl_seconds = (expires_at - completed_at).total_seconds()
    else:
        ttl_seconds = 0.0
    timeout = data.get("timeoutSeconds")
    return Job(
        job_id=_str(data, "jobId"),
        task=_str(data, "task"),
        status=JobStatus(_str(data, "status")),
        payload=data.get("payload"),
        created_at=created_at,
        run_at=_time(data, "runAt") or created_at,
        max_attempts=_int(data, "maxAttempts"),
        ttl_seconds=ttl_seconds,
        version=_int(data, "version"),
        priority=_int(data, "priority", 0),
        timeout_seconds=None if timeout is None else _number(timeout, "timeoutSeconds"),
        progress=_progress(data.get("progress")),
        result=data.get("result"),
        error=_optional_str(data, "error"),
        attempts=_int(data, "attempts"),
        started_at=_time(data, "startedAt"),
        completed_at=completed_at,
        expires_at=expires_at,
        is_cancel_requested=data.get("cancelRequested") is True,
    )


def _parsed(parse: Callable[[JSONValue], T], value: JSONValue, what: str) -> T:
    try:
        return parse(value)
    except (_Malformed, ValueError) as exc:
        raise ClientError(f"Unexpected {what} from the server: {exc}") from None


def parse_job(value: JSONValue) -> Job:
    """A `Job` from the API's job representation; `ClientError` when it is malformed."""
    return _parsed(lambda v: _job(_object(v, "the job")), value, "job representation")


def parse_page(value: JSONValue) -> Page:
    """A `Page` from a list answer (``{"jobs": [...], "nextCursor": ...}``)."""

    def parse(v: JSONValue) -> Page:
        data = _object(v, "the answer")
        jobs = data.get("jobs")
        if not isinstance(jobs, list):
            raise _Malformed("'jobs' is not a list")
        return Page(
            jobs=[_job(_object(item, "a job")) for item in jobs],
            next_cursor=_optional_str(data, "nextCursor"),
        )

    return _parsed(parse, value, "job list")


def parse_stats(value: JSONValue) -> Stats:
    """`Stats` from the stats answer; statuses the client does not know are ignored."""

    def parse(v: JSONValue) -> Stats:
        data = _object(v, "the answer")
        tasks: dict[str, dict[JobStatus, int]] = {}
        for task, counts in _object(data.get("tasks", {}), "'tasks'").items():
            by_status = _object(counts, f"the counts of {task!r}")
            tasks[task] = {s: _int(by_status, s.value, 0) for s in JobStatus}
        workers = data.get("workers", [])
        if not isinstance(workers, list):
            raise _Malformed("'workers' is not a list")
        return Stats(tasks=tasks, workers=[_worker(_object(w, "a worker")) for w in workers])

    return _parsed(parse, value, "stats")


def _worker(data: JSONObject) -> WorkerInfo:
    return WorkerInfo(
        worker_id=_str(data, "id"),
        last_seen_at=_required_time(data, "lastSeenAt"),
        running=_int(data, "running", 0),
        host=_optional_str(data, "host") or "",
        pid=_int(data, "pid", 0),
    )
