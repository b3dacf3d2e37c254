"""The SQLite store's operations: one synchronous function per `Store` method.

Each runs on the store's thread inside the `Transaction` that `SQLiteStore` opens, and
mirrors `MemoryStore` exactly; the SQL lives in ``queries.sql`` beside it. Timestamps
are stored as integer microseconds since the epoch (`jobqueue.stores.codec`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from jobqueue.errors import IdempotencyConflict, InvalidTransition, JobNotFound, QueueFull
from jobqueue.models import (
    RUNNING_KEYS_SHOWN,
    Claim,
    HeartbeatResult,
    Job,
    JobStatus,
    Lease,
    Page,
    Progress,
    Stats,
    WorkerInfo,
    busiest_keys,
    empty_counts,
    running_now,
)
from jobqueue.stores.base import CANCELLED_ERROR, LOST_WORKER_ERROR
from jobqueue.stores.claiming import Ready, TaskPick, pick, task_room, within_budget
from jobqueue.stores.codec import (
    encode_cursor,
    from_micros_or_none,
    json_text,
    micros,
    seconds_as_micros,
)
from jobqueue.stores.sqlite._transaction import Transaction, job_from_row, worker_from_row

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Collection, Sequence
    from datetime import datetime

    from jobqueue.models import Claimant, JobFilter, JSONValue, NewJob, QueueCap

_END_OF_TIME = 2**63 - 1


# -- submitting and reading -------------------------------------------------------


def create(tx: Transaction, new: NewJob, now: datetime) -> tuple[Job, bool]:
    """See `Store.create`."""
    if new.idempotency_key is not None:
        known = tx.row("find_key", key=new.idempotency_key, now=micros(now))
        if known is not None:
            if known["key_fingerprint"] != new.fingerprint:
                raise IdempotencyConflict
            return job_from_row(known), False
    if new.queue_cap is not None:
        _check_room(tx, new.task, new.queue_cap)
    job = new.build(now)
    row = tx.row(
        "insert_job",
        job_id=job.job_id,
        task=job.task,
        payload=json_text(job.payload),
        created_at=micros(job.created_at),
        run_at=micros(job.run_at),
        max_attempts=job.max_attempts,
        ttl_seconds=job.ttl_seconds,
        ttl_us=seconds_as_micros(job.ttl_seconds),
        priority=job.priority,
        timeout_seconds=job.timeout_seconds,
        idempotency_key=job.idempotency_key,
        owner=job.owner,
        concurrency_key=job.concurrency_key,
        tags=json_text(list(job.tags)),
        webhook=None if job.webhook is None else json_text(job.webhook.to_json()),
        seq=tx.next_seq(),
    )
    assert row is not None
    if new.idempotency_key is not None:
        tx.rows("save_key", key=new.idempotency_key, job_id=job.job_id, fingerprint=new.fingerprint)
    return tx.changed(row), True


def _check_room(tx: Transaction, task: str, cap: QueueCap) -> None:
    counts = tx.row(
        "count_queued", task=task, of_task=cap.of_task is not None, in_all=cap.in_all is not None
    )
    assert counts is not None
    if cap.is_reached(counts["of_task"], counts["in_all"]):
        raise QueueFull


def get(tx: Transaction, job_id: str, now: datetime) -> Job | None:
    """See `Store.get`."""
    row = tx.row("get_job", job_id=job_id, now=micros(now))
    return None if row is None else job_from_row(row)


def queue_position(tx: Transaction, job_id: str, now: datetime, limit: int) -> int | None:
    """See `Store.queue_position`."""
    now_us = micros(now)
    place = tx.row("queued_place", job_id=job_id, now=now_us)
    if place is None:
        return None
    row = tx.row("count_ahead", **dict(place), now=now_us, limit=limit + 1)
    assert row is not None
    ahead: int = row["ahead"]
    return ahead if ahead <= limit else None


def list_jobs(
    tx: Transaction,
    where: JobFilter,
    limit: int,
    after: tuple[datetime, str] | None,
    now: datetime,
) -> Page:
    """See `Store.list_jobs`; *after* is the decoded cursor."""
    rows = tx.rows(
        "list_jobs",
        before_created_at=_END_OF_TIME if after is None else micros(after[0]),
        before_job_id="" if after is None else after[1],
        now=micros(now),
        statuses=json_text(sorted(where.statuses)) if where.statuses else None,
        tasks=json_text(sorted(where.tasks)) if where.tasks else None,
        owner=where.owner,
        tag=where.tag,
        limit=limit + 1,
    )
    page = [job_from_row(row) for row in rows[:limit]]
    if len(rows) <= limit or not page:
        return Page(jobs=page)
    return Page(jobs=page, next_cursor=encode_cursor(page[-1].created_at, page[-1].job_id))


def stats(tx: Transaction, now: datetime, worker_horizon_seconds: float) -> Stats:
    """See `Store.stats`."""
    tasks: dict[str, dict[JobStatus, int]] = {}
    for row in tx.rows("count_jobs", now=micros(now)):
        tasks.setdefault(row["task"], empty_counts())[JobStatus(row["status"])] = row["n"]
    since = micros(now - timedelta(seconds=worker_horizon_seconds))
    held = {row["worker_id"]: row["n"] for row in tx.rows("running_per_worker")}
    seen = [worker_from_row(row) for row in tx.rows("recent_workers", since=since)]
    workers = running_now(seen, held)
    keys = busiest_keys(
        (row["task"], row["key"], row["n"])
        for row in tx.rows("busiest_keys", limit=RUNNING_KEYS_SHOWN)
    )
    return Stats(tasks=tasks, workers=workers, running_keys=keys)


# -- worker path ----------------------------------------------------------------


def claim(tx: Transaction, claimant: Claimant, limit: int, now: datetime) -> list[Claim]:
    """See `Store.claim`: the write lock held by the transaction makes the counts of
    running jobs true until it commits."""
    now_us = micros(now)
    picks: list[Ready] = []
    for task in claimant.tasks:
        terms = claimant.terms_of(task)
        running = _running_keys(tx, task) if terms.counts_running else {}
        room = task_room(terms, limit, sum(running.values()))
        running.pop("", None)

        def read(taking: TaskPick, task: str = task) -> list[Ready]:
            if not taking.saturated and not taking.chosen:
                rows = tx.rows("ready_jobs", task=task, now=now_us, limit=taking.missing)
            else:
                rows = tx.rows(
                    "ready_jobs_outside",
                    task=task,
                    now=now_us,
                    limit=taking.missing,
                    saturated=json_text(sorted(taking.saturated)),
                    chosen=json_text(taking.chosen_ids),
                )
            return [_ready(task, row) for row in rows]

        picks += pick(room, terms, running, read)
    taken = within_budget(picks, lambda task: claimant.terms_of(task).cost, limit)
    chosen = [ready.job_id for ready in taken]
    if not chosen:
        return []
    rows = tx.change_jobs(
        "claim_job",
        chosen,
        now=now_us,
        worker_id=claimant.worker_id,
        lease_expires_at=micros(now + timedelta(seconds=claimant.lease_seconds)),
    )
    # RETURNING comes in no particular order; hand the jobs out best first.
    by_id = {row["job_id"]: row for row in rows}
    return [
        Claim(tx.changed(by_id[job_id]), Lease(job_id, by_id[job_id]["lease_token"]))
        for job_id in chosen
    ]


def _running_keys(tx: Transaction, task: str) -> dict[str, int]:
    return {row["key"]: row["n"] for row in tx.rows("running_keys", task=task)}


def _ready(task: str, row: sqlite3.Row) -> Ready:
    order = (-row["priority"], row["run_at"], row["created_at"], row["rowid"])
    return Ready(row["job_id"], task, row["concurrency_key"], order)


def heartbeat(
    tx: Transaction, leases: Sequence[Lease], lease_seconds: float, now: datetime
) -> HeartbeatResult:
    """See `Store.heartbeat`."""
    until = micros(now + timedelta(seconds=lease_seconds))
    lost: set[str] = set()
    cancel: set[str] = set()
    for lease in leases:
        row = tx.row("renew_lease", lease_expires_at=until, job_id=lease.job_id, token=lease.token)
        if row is None:
            lost.add(lease.job_id)
        elif row["is_cancel_requested"]:
            cancel.add(lease.job_id)
    return HeartbeatResult(lost=frozenset(lost), cancel_requested=frozenset(cancel))


def record_progress(tx: Transaction, lease: Lease, progress: Progress) -> Job:
    """See `Store.record_progress`."""
    fields = {"current": progress.current, "total": progress.total, "message": progress.message}
    row = tx.row(
        "record_progress",
        progress=json_text(fields),
        job_id=lease.job_id,
        token=lease.token,
        seq=tx.next_seq(),
    )
    return tx.leased(lease, row)


def end_attempt(
    tx: Transaction,
    lease: Lease,
    status: JobStatus,
    *,
    completed_at: int | None = None,
    run_at: int | None = None,
    uncount: int = 0,
    result: str | None = None,
    error: str | None = None,
) -> Job:
    """End the leased attempt: as final *status* at *completed_at*, or as ``queued`` to run
    at *run_at* (*uncount* 1 gives the attempt back). Times are microseconds; None keeps
    the job's result or error."""
    row = tx.row(
        "end_attempt",
        status=status.value,
        completed_at=completed_at,
        run_at=run_at,
        uncount=uncount,
        result=result,
        error=error,
        job_id=lease.job_id,
        token=lease.token,
        seq=tx.next_seq(),
    )
    return tx.leased(lease, row)


def complete(tx: Transaction, lease: Lease, result: JSONValue, now: datetime) -> Job:
    """See `Store.complete`."""
    return end_attempt(
        tx, lease, JobStatus.COMPLETED, completed_at=micros(now), result=json_text(result)
    )


def fail(
    tx: Transaction, lease: Lease, error: str, retry_at: datetime | None, now: datetime
) -> Job:
    """See `Store.fail`."""
    if retry_at is None:
        return end_attempt(tx, lease, JobStatus.FAILED, completed_at=micros(now), error=error)
    return end_attempt(tx, lease, JobStatus.QUEUED, run_at=micros(retry_at), error=error)


def finish_cancelled(tx: Transaction, lease: Lease, now: datetime) -> Job:
    """See `Store.finish_cancelled`."""
    return end_attempt(
        tx, lease, JobStatus.CANCELLED, completed_at=micros(now), error=CANCELLED_ERROR
    )


def release(tx: Transaction, lease: Lease, now: datetime) -> Job:
    """See `Store.release`."""
    return end_attempt(tx, lease, JobStatus.QUEUED, run_at=micros(now), uncount=1)


def next_run_at(tx: Transaction, tasks: Collection[str]) -> datetime | None:
    """See `Store.next_run_at`."""
    times = [
        row[0]
        for task in set(tasks)
        if (row := tx.row("next_run_at", task=task)) is not None and row[0] is not None
    ]
    return from_micros_or_none(min(times, default=None))


# -- operator actions -------------------------------------------------------------


def _live(tx: Transaction, job_id: str, now: datetime) -> Job:
    row = tx.row("get_job", job_id=job_id, now=micros(now))
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row)


def request_cancel(tx: Transaction, job_id: str, now: datetime) -> Job:
    """See `Store.request_cancel`."""
    job = _live(tx, job_id, now)
    if job.status is JobStatus.QUEUED:
        name = "cancel_queued"
        params: dict[str, object] = {"error": CANCELLED_ERROR, "now": micros(now)}
    elif job.status is JobStatus.PROCESSING:
        if job.is_cancel_requested:
            return job
        name, params = "flag_cancel", {}
    else:
        raise InvalidTransition(job)
    row = tx.row(name, job_id=job_id, seq=tx.next_seq(), **params)
    assert row is not None
    return tx.changed(row)


def retry(tx: Transaction, job_id: str, now: datetime) -> Job:
    """See `Store.retry`."""
    job = _live(tx, job_id, now)
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise InvalidTransition(job)
    row = tx.row("retry_job", job_id=job_id, now=micros(now), seq=tx.next_seq())
    assert row is not None
    return tx.changed(row)


# -- maintenance --------------------------------------------------------------------


def reap_expired_leases(tx: Transaction, now: datetime, limit: int) -> list[Job]:
    """See `Store.reap_expired_leases`."""
    now_us = micros(now)
    expired = [row["job_id"] for row in tx.rows("expired_leases", now=now_us, limit=limit)]
    if not expired:
        return []
    rows = tx.change_jobs(
        "reap_leases",
        expired,
        now=now_us,
        cancelled_error=CANCELLED_ERROR,
        lost_error=LOST_WORKER_ERROR,
    )
    return [tx.changed(row) for row in rows]


def count_hit(tx: Transaction, key: str, until: datetime) -> int:
    """See `Store.count_hit`."""
    row = tx.row("count_hit", key=key, until=micros(until))
    assert row is not None
    return int(row["hits"])


def purge_expired(tx: Transaction, now: datetime, limit: int) -> int:
    """See `Store.purge_expired`."""
    tx.rows("purge_hits", now=micros(now))
    purged = tx.rows("purge_jobs", now=micros(now), limit=limit)
    for row in purged:
        if row["idempotency_key"] is not None:
            tx.rows("forget_key", key=row["idempotency_key"], job_id=row["job_id"])
    return len(purged)


def register_worker(tx: Transaction, info: WorkerInfo) -> None:
    """See `Store.register_worker`."""
    tx.rows(
        "save_worker",
        worker_id=info.worker_id,
        host=info.host,
        pid=info.pid,
        running=info.running,
        last_seen_at=micros(info.last_seen_at),
        tasks=json_text(list(info.tasks)),
    )


def unregister_worker(tx: Transaction, worker_id: str) -> None:
    """See `Store.unregister_worker`."""
    tx.rows("forget_worker", worker_id=worker_id)
