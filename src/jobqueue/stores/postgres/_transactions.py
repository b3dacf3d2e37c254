"""The PostgreSQL store's transitions that take more than one statement: each runs in one
transaction on the connection it is given, holding the row locks its checks rely on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Json

from jobqueue.errors import (
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    QueueFull,
    StoreError,
)
from jobqueue.models import JobStatus
from jobqueue.stores.base import CANCELLED_ERROR
from jobqueue.stores.claiming import Ready, TaskPick, pick_async, task_room, within_budget
from jobqueue.stores.postgres._rows import CLAIM_CHOSEN, QUERIES, fetch_one, job_from_row

if TYPE_CHECKING:
    from datetime import datetime

    from psycopg.rows import DictRow

    from jobqueue.models import Claimant, Job, NewJob, QueueCap, TaskTerms
    from jobqueue.stores.postgres._connection import Connection

# A key can vanish (purged) between the conflicting insert and the read of its job.
_KEY_RACE_ATTEMPTS = 3


async def create(conn: Connection, new: NewJob, now: datetime) -> tuple[Job, bool]:
    """See `Store.create`: insert, or lock and replay the job that holds the key."""
    job = new.build(now)
    params = {
        "job_id": job.job_id,
        "task": job.task,
        "payload": Json(job.payload),
        "created_at": job.created_at,
        "run_at": job.run_at,
        "max_attempts": job.max_attempts,
        "ttl_seconds": job.ttl_seconds,
        "priority": job.priority,
        "timeout_seconds": job.timeout_seconds,
        "idempotency_key": job.idempotency_key,
        "fingerprint": new.fingerprint,
        "owner": job.owner,
        "concurrency_key": job.concurrency_key,
        "tags": list(job.tags),
        "webhook": None if job.webhook is None else Json(job.webhook.to_json()),
    }
    cap = new.queue_cap
    async with conn.transaction():
        if cap is not None:
            await conn.execute(QUERIES["lock_queue"], _cap_params(new.task, cap))
        for _ in range(_KEY_RACE_ATTEMPTS):
            if (row := await fetch_one(conn, "insert_job", params)) is not None:
                if cap is not None:
                    await _check_room(conn, new.task, cap)
                return job_from_row(row), True
            existing = await fetch_one(conn, "lock_by_key", {"key": new.idempotency_key})
            if existing is None:
                continue
            if existing["expires_at"] is not None and existing["expires_at"] <= now:
                # The key's job expired (not yet purged): the key is free again.
                await conn.execute(QUERIES["free_key"], {"job_id": existing["job_id"]})
                continue
            if existing["fingerprint"] != new.fingerprint:
                raise IdempotencyConflict
            return job_from_row(existing), False
    raise StoreError("The idempotency key kept changing hands; try again")


def _cap_params(task: str, cap: QueueCap) -> dict[str, object]:
    return {"task": task, "of_task": cap.of_task is not None, "in_all": cap.in_all is not None}


async def _check_room(conn: Connection, task: str, cap: QueueCap) -> None:
    """`QueueFull` (rolling the insert back) if the queue had no room before the new job.

    Checked after the insert, so an idempotent replay, which inserts nothing, always
    passes; the counts include the new job, hence the one taken off.
    """
    counts = await fetch_one(conn, "count_queued", _cap_params(task, cap))
    assert counts is not None
    if cap.is_reached(counts["of_task"] - 1, counts["in_all"] - 1):
        raise QueueFull


async def claim_counting(
    conn: Connection, claimant: Claimant, slots: int, params: dict[str, Any]
) -> list[DictRow]:
    """See `Store.claim`, for claimants with a task whose running jobs are counted: its
    claims are serialised (`lock_claims`, in task order, so they cannot deadlock) and its
    jobs chosen by `jobqueue.stores.claiming`; *params* carries the claim's time, worker
    and lease. Returns the claimed rows."""
    tasks = sorted(claimant.tasks)
    async with conn.transaction():
        for task in tasks:
            if claimant.terms_of(task).counts_running:
                await conn.execute(QUERIES["lock_claims"], {"task": task})
        picks: list[Ready] = []
        for task in tasks:
            picks += await _pick_of(conn, task, claimant.terms_of(task), slots, params["now"])
        taken = within_budget(picks, lambda task: claimant.terms_of(task).cost, slots)
        if not taken:
            return []
        cursor = await conn.execute(
            CLAIM_CHOSEN, {**params, "job_ids": [ready.job_id for ready in taken]}
        )
        return await cursor.fetchall()


async def _pick_of(
    conn: Connection, task: str, terms: TaskTerms, slots: int, now: datetime
) -> list[Ready]:
    running: dict[str, int] = {}
    if terms.counts_running:
        cursor = await conn.execute(QUERIES["running_keys"], {"task": task})
        running = {row["key"]: row["n"] for row in await cursor.fetchall()}
    room = task_room(terms, slots, sum(running.values()))
    running.pop("", None)

    async def read(taking: TaskPick) -> list[Ready]:
        cursor = await conn.execute(
            QUERIES["ready_jobs_outside"],
            {
                "task": task,
                "now": now,
                "limit": taking.missing,
                "saturated": sorted(taking.saturated),
                "chosen": taking.chosen_ids,
            },
        )
        return [
            Ready(
                row["job_id"],
                task,
                row["concurrency_key"],
                (-row["priority"], row["run_at"], row["created_at"], row["queued_seq"]),
            )
            for row in await cursor.fetchall()
        ]

    return await pick_async(room, terms, running, read)


async def _lock(conn: Connection, job_id: str, now: datetime) -> Job:
    row = await fetch_one(conn, "lock_job", {"job_id": job_id, "now": now})
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row)


async def request_cancel(conn: Connection, job_id: str, now: datetime) -> Job:
    """See `Store.request_cancel`."""
    async with conn.transaction():
        job = await _lock(conn, job_id, now)
        if job.status is JobStatus.QUEUED:
            row = await fetch_one(
                conn,
                "finish",
                {
                    "job_id": job_id,
                    "token": None,
                    "status": JobStatus.CANCELLED.value,
                    "from_status": JobStatus.QUEUED.value,
                    "now": now,
                    "result": None,
                    "error": CANCELLED_ERROR,
                },
            )
        elif job.status is JobStatus.PROCESSING:
            if job.is_cancel_requested:
                return job
            row = await fetch_one(conn, "flag_cancel", {"job_id": job_id})
        else:
            raise InvalidTransition(job)
    assert row is not None  # the row is locked in its checked status
    return job_from_row(row)


async def retry(conn: Connection, job_id: str, now: datetime) -> Job:
    """See `Store.retry`."""
    async with conn.transaction():
        job = await _lock(conn, job_id, now)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise InvalidTransition(job)
        row = await fetch_one(conn, "retry", {"job_id": job_id, "now": now})
    assert row is not None  # the row is locked in its checked status
    return job_from_row(row)
