"""The API's JSON representation of jobs and stats, built from the models.

Shared by the HTTP service (response bodies) and the command line (``--json``), and
free of any web framework so the client side can use it too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jobqueue.models import JobStatus

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from jobqueue.models import Job, Stats


def timestamp(at: datetime | None) -> str | None:
    """*at* as the API writes times: UTC, milliseconds, ``Z`` (JavaScript's toISOString)."""
    if at is None:
        return None
    at = at.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def job_to_wire(job: Job) -> dict[str, Any]:
    """The API's job representation of *job*."""
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
        "version": job.version,
        "cancelRequested": job.is_cancel_requested,
    }


def _counts(counts: Mapping[JobStatus, int]) -> dict[str, int]:
    return {status.value: counts.get(status, 0) for status in JobStatus}


def stats_to_wire(stats: Stats, task_names: Iterable[str] = ()) -> dict[str, Any]:
    """The stats body; the named tasks appear with zero counts when they have no jobs."""
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
            }
            for worker in stats.workers
        ],
    }
