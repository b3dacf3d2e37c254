"""The PostgreSQL store's named statements (``queries.sql``) and the `Job` a row of
``jobs`` holds.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from jobqueue.models import Job, JobStatus, Progress, Webhook
from jobqueue.stores.statements import read_statements

if TYPE_CHECKING:
    from collections.abc import Mapping

    from psycopg.rows import DictRow

    from jobqueue.stores.postgres._connection import Connection

QUERIES = read_statements("jobqueue.stores.postgres", "queries.sql")
CLAIM_READY, CLAIM_CHOSEN = (
    QUERIES["claim"].format(picked=QUERIES[picked])
    for picked in ("ready_to_claim", "chosen_to_claim")
)
"""The claim statement, of the jobs it chooses itself or of jobs chosen before."""
_READ_NOT_STORED = frozenset({"queue_position", "estimated_start_at"})
_JOB_FIELDS = tuple(field.name for field in fields(Job) if field.name not in _READ_NOT_STORED)
"""The columns of a job (its queue position and estimated start are read, not stored)."""


async def fetch_one(conn: Connection, name: str, params: Mapping[str, Any]) -> DictRow | None:
    """Run the named statement on *conn* and return its first row, if any."""
    cursor = await conn.execute(QUERIES[name], params)
    return await cursor.fetchone()


def job_from_row(row: DictRow) -> Job:
    """The `Job` a ``jobs`` row (or a ``RETURNING *``) holds."""
    values = {name: row[name] for name in _JOB_FIELDS}
    values["status"] = JobStatus(row["status"])
    values["tags"] = tuple(row["tags"])
    if row["webhook"] is not None:
        values["webhook"] = Webhook.from_json(row["webhook"])
    if row["progress"] is not None:
        values["progress"] = Progress(**row["progress"])
    return Job(**values)
