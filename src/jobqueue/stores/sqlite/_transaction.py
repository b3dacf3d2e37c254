"""The SQLite store's transactions: a `Transaction` runs the named statements of
``queries.sql`` on the store's connection and records the changes it makes; the rows it
returns become `Job` and `WorkerInfo` values here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from jobqueue.errors import LeaseLost
from jobqueue.models import Change, Job, JobStatus, Progress, Webhook, WorkerInfo
from jobqueue.stores.codec import from_micros, from_micros_or_none, json_text
from jobqueue.stores.statements import read_statements

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence

    from jobqueue.models import Lease

STATEMENTS = read_statements("jobqueue.stores.sqlite", "queries.sql")


def _progress(raw: str | None) -> Progress | None:
    if raw is None:
        return None
    fields = orjson.loads(raw)
    return Progress(fields["current"], fields["total"], fields["message"])


def job_from_row(row: sqlite3.Row) -> Job:
    """The `Job` a ``jobs`` row holds."""
    return Job(
        job_id=row["job_id"],
        task=row["task"],
        status=JobStatus(row["status"]),
        payload=orjson.loads(row["payload"]),
        created_at=from_micros(row["created_at"]),
        run_at=from_micros(row["run_at"]),
        max_attempts=row["max_attempts"],
        # float(): RETURNING reports values before the column's REAL affinity applies.
        ttl_seconds=float(row["ttl_seconds"]),
        version=row["version"],
        priority=row["priority"],
        timeout_seconds=None if row["timeout_seconds"] is None else float(row["timeout_seconds"]),
        progress=_progress(row["progress"]),
        result=None if row["result"] is None else orjson.loads(row["result"]),
        error=row["error"],
        attempts=row["attempts"],
        started_at=from_micros_or_none(row["started_at"]),
        completed_at=from_micros_or_none(row["completed_at"]),
        expires_at=from_micros_or_none(row["expires_at"]),
        is_cancel_requested=bool(row["is_cancel_requested"]),
        idempotency_key=row["idempotency_key"],
        owner=row["owner"],
        concurrency_key=row["concurrency_key"],
        tags=tuple(orjson.loads(row["tags"])),
        webhook=None if row["webhook"] is None else Webhook.from_json(orjson.loads(row["webhook"])),
        worker_id=row["worker_id"],
        lease_expires_at=from_micros_or_none(row["lease_expires_at"]),
    )


def worker_from_row(row: sqlite3.Row) -> WorkerInfo:
    """The `WorkerInfo` a ``workers`` row holds."""
    return WorkerInfo(
        worker_id=row["worker_id"],
        last_seen_at=from_micros(row["last_seen_at"]),
        running=row["running"],
        host=row["host"],
        pid=row["pid"],
        tasks=tuple(orjson.loads(row["tasks"])),
    )


class Transaction:
    """One open transaction on the store's connection; it records the changes it makes."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self.changes: list[Change] = []
        self.seq: int | None = None
        """The change counter value this transaction stamps on the rows it changes."""

    def rows(self, name: str, **params: object) -> list[sqlite3.Row]:
        """Run the named statement and return every row."""
        return self._connection.execute(STATEMENTS[name], params).fetchall()

    def row(self, name: str, **params: object) -> sqlite3.Row | None:
        """Run the named statement and return its first row, if any."""
        rows = self.rows(name, **params)  # fetch all: a RETURNING statement must finish
        return rows[0] if rows else None

    def next_seq(self) -> int:
        """Bump the change counter once for this transaction."""
        if self.seq is None:
            row = self.row("next_seq")
            assert row is not None
            self.seq = int(row[0])
        return self.seq

    def change_jobs(self, name: str, job_ids: Sequence[str], **params: object) -> list[sqlite3.Row]:
        """Run the named statement that changes every job of *job_ids* (a JSON array in
        the statement) under this transaction's change counter; return the rows changed."""
        return self.rows(name, job_ids=json_text(job_ids), seq=self.next_seq(), **params)

    def changed(self, row: sqlite3.Row) -> Job:
        """The job a changed row holds, recorded for publication after commit."""
        job = job_from_row(row)
        self.changes.append(Change(job.job_id, job.version, job.status))
        return job

    def leased(self, lease: Lease, row: sqlite3.Row | None) -> Job:
        """The job a lease-fenced statement changed; `LeaseLost` when it matched nothing."""
        if row is None:
            raise LeaseLost(lease.job_id)
        return self.changed(row)
