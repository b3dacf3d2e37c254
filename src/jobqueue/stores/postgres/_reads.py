"""The PostgreSQL store's listings and stats: the statement a listing runs, and the
`Page` and `Stats` that its rows make.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from psycopg import sql

from jobqueue.models import (
    JobStatus,
    Page,
    Stats,
    WorkerInfo,
    busiest_keys,
    empty_counts,
    running_now,
)
from jobqueue.stores.codec import decode_cursor, encode_cursor
from jobqueue.stores.postgres._rows import QUERIES, job_from_row

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from psycopg.rows import DictRow

    from jobqueue.models import JobFilter

_LIST_FILTERS: Mapping[str, str] = {
    "statuses": "status = ANY(%(statuses)s)",
    "tasks": "task = ANY(%(tasks)s)",
    "owner": "owner = %(owner)s",
    "tag": "tags @> ARRAY[%(tag)s]::text[]",
    "after_at": "(created_at, job_id) < (%(after_at)s, %(after_id)s)",
}
"""The condition each parameter of a listing adds, when present."""


def list_query(
    where: JobFilter, limit: int, cursor: str | None, now: datetime
) -> tuple[sql.Composed, dict[str, Any]]:
    """The statement and parameters of one page of `Store.list_jobs` (and one row more,
    which tells whether another page follows); `InvalidRequest` for a bad cursor."""
    params: dict[str, Any] = {"now": now, "limit": limit + 1}
    if where.statuses:
        params["statuses"] = sorted(status.value for status in where.statuses)
    if where.tasks:
        params["tasks"] = sorted(where.tasks)
    if where.owner is not None:
        params["owner"] = where.owner
    if where.tag is not None:
        params["tag"] = where.tag
    if cursor:
        params["after_at"], params["after_id"] = decode_cursor(cursor)
    filters = [sql.SQL(text) for key, text in _LIST_FILTERS.items() if key in params]
    query = sql.SQL(QUERIES["list_jobs"]).format(
        filters=sql.SQL(" AND ").join(filters or [sql.SQL("true")])
    )
    return query, params


def page_of(rows: list[DictRow], limit: int) -> Page:
    """The page that the rows of a `list_query` make."""
    page = [job_from_row(row) for row in rows[:limit]]
    last = page[-1] if page else None
    more = len(rows) > limit
    return Page(
        jobs=page,
        next_cursor=encode_cursor(last.created_at, last.job_id) if more and last else None,
    )


def stats_of(
    counts: list[DictRow], workers: list[DictRow], keys: list[DictRow], held: list[DictRow]
) -> Stats:
    """The stats that the rows of ``count_jobs``, ``recent_workers``, ``busiest_keys`` and
    ``running_per_worker`` make."""
    tasks: defaultdict[str, dict[JobStatus, int]] = defaultdict(empty_counts)
    for row in counts:
        tasks[row["task"]][JobStatus(row["status"])] = row["n"]
    return Stats(
        tasks=dict(tasks),
        workers=running_now(
            (
                WorkerInfo(
                    worker_id=row["worker_id"],
                    last_seen_at=row["last_seen_at"],
                    running=row["running"],
                    host=row["host"],
                    pid=row["pid"],
                    tasks=tuple(row["tasks"]),
                )
                for row in workers
            ),
            {row["worker_id"]: row["n"] for row in held},
        ),
        running_keys=busiest_keys((row["task"], row["key"], row["n"]) for row in keys),
    )
