"""How `RedisStore` lays a job out in a Redis hash, and reads it back.

Times are integer epoch microseconds (`jobqueue.stores.codec`: exact in Lua's numbers);
structured and numeric values are JSON that the Lua scripts never decode. A field that is
absent means None.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import orjson

from jobqueue.models import (
    Job,
    JobStatus,
    Progress,
    QueueCap,
    Stats,
    Webhook,
    WorkerInfo,
    busiest_keys,
    empty_counts,
    running_now,
)
from jobqueue.stores.claiming import task_room
from jobqueue.stores.codec import (
    from_micros,
    from_micros_or_none,
    json_text,
    micros,
    seconds_as_micros,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from jobqueue.models import Claimant, NewJob


def optional(value: str | None) -> str:
    """An optional script argument: '' for None, else the value after '='."""
    return "" if value is None else f"={value}"


def create_arguments(new: NewJob, job: Job) -> list[str | bytes]:
    """The arguments of ``create.lua`` after the prefix and the time, for *job* built from
    *new*: its id, key and fingerprint, fields, task and queue cap."""
    cap = new.queue_cap or QueueCap()
    return [
        job.job_id,
        optional(new.idempotency_key),
        optional(new.fingerprint),
        encode_job(job),
        job.task,
        optional_int(cap.of_task),
        optional_int(cap.in_all),
    ]


def claim_arguments(claimant: Claimant, slots: int) -> list[str | int]:
    """The slots and the tasks with their terms, as ``claim.lua`` reads them."""
    arguments: list[str | int] = [slots, len(claimant.tasks)]
    for task in sorted(claimant.tasks):
        terms = claimant.terms_of(task)
        arguments += [task, task_room(terms, slots, 0), terms.cost]
        arguments += [optional_int(terms.global_concurrency), optional_int(terms.key_concurrency)]
    return arguments


def optional_int(value: int | None) -> str:
    """An optional integer argument, as `optional` writes it."""
    return optional(None if value is None else str(value))


def pairs(flat: Sequence[str]) -> dict[str, str]:
    """A flat [field, value, ...] reply as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def encode_job(job: Job) -> bytes:
    """The hash fields of a job that was never claimed (as `NewJob.build` makes it).

    A JSON array of field, value, ... strings: the create script decodes it, since one
    argument costs far less to send through redis-py than thirty.
    """
    flat = [
        "job_id", job.job_id,
        "task", job.task,
        "status", job.status.value,
        "payload", json_text(job.payload),
        "created_at", str(micros(job.created_at)),
        "run_at", str(micros(job.run_at)),
        "max_attempts", str(job.max_attempts),
        "ttl_seconds", json_text(job.ttl_seconds),
        "ttl_us", str(seconds_as_micros(job.ttl_seconds)),
        "version", str(job.version),
        "priority", str(job.priority),
        "attempts", str(job.attempts),
        "is_cancel_requested", "1" if job.is_cancel_requested else "0",
    ]  # fmt: skip
    if job.timeout_seconds is not None:
        flat += ("timeout_seconds", json_text(job.timeout_seconds))
    if job.idempotency_key is not None:
        flat += ("idempotency_key", job.idempotency_key)
    if job.owner is not None:
        flat += ("owner", job.owner)
    if job.concurrency_key is not None:
        flat += ("concurrency_key", job.concurrency_key)
    if job.tags:
        flat += ("tags", json_text(list(job.tags)))
    if job.webhook is not None:
        flat += ("webhook", json_text(job.webhook.to_json()))
    return orjson.dumps(flat)


def decode_job(flat: Sequence[str]) -> Job:
    """The job a script or HGETALL returned as flat field/value pairs."""
    return decode_fields(pairs(flat))


def decode_fields(fields: Mapping[str, str]) -> Job:
    """The job stored in *fields*."""
    get = fields.get
    return Job(
        job_id=fields["job_id"],
        task=fields["task"],
        status=JobStatus(fields["status"]),
        payload=orjson.loads(fields["payload"]),
        created_at=from_micros(fields["created_at"]),
        run_at=from_micros(fields["run_at"]),
        max_attempts=int(fields["max_attempts"]),
        ttl_seconds=orjson.loads(fields["ttl_seconds"]),
        version=int(fields["version"]),
        priority=int(fields["priority"]),
        timeout_seconds=_json_or_none(get("timeout_seconds")),
        progress=None if (raw := get("progress")) is None else Progress(*orjson.loads(raw)),
        result=_json_or_none(get("result")),
        error=get("error"),
        attempts=int(fields["attempts"]),
        started_at=from_micros_or_none(get("started_at")),
        completed_at=from_micros_or_none(get("completed_at")),
        expires_at=from_micros_or_none(get("expires_at")),
        is_cancel_requested=fields["is_cancel_requested"] == "1",
        idempotency_key=get("idempotency_key"),
        owner=get("owner"),
        concurrency_key=get("concurrency_key"),
        tags=tuple(orjson.loads(tagged)) if (tagged := get("tags")) else (),
        webhook=Webhook.from_json(orjson.loads(hooked)) if (hooked := get("webhook")) else None,
        worker_id=get("worker_id"),
        lease_expires_at=from_micros_or_none(get("lease_expires_at")),
    )


def encode_progress(progress: Progress) -> str:
    """The progress field's JSON."""
    return json_text([progress.current, progress.total, progress.message])


def encode_worker(info: WorkerInfo) -> str:
    """A worker's entry in the workers hash."""
    fields = [info.worker_id, micros(info.last_seen_at), info.running, info.host, info.pid]
    return json_text([*fields, list(info.tasks)])


def decode_worker(raw: str) -> WorkerInfo:
    """The worker `encode_worker` stored (before version 2: without its tasks)."""
    worker_id, last_seen, running, host, pid, *tasks = orjson.loads(raw)
    served = tuple(tasks[0]) if tasks else ()
    return WorkerInfo(worker_id, from_micros(last_seen), running, host, pid, served)


def decode_running_key(field: str) -> tuple[str, str]:
    """The task and concurrency key of a field of the running-keys hash (``claim.lua``):
    the task's length, ``:``, the task, then the key."""
    length, _, rest = field.partition(":")
    return rest[: int(length)], rest[int(length) :]


def _json_or_none(raw: str | None) -> Any:
    return None if raw is None else orjson.loads(raw)


def decode_stats(reply: Sequence[Any], horizon: datetime) -> Stats:
    """The `Stats` of a ``stats.lua`` reply, with the workers seen since *horizon*."""
    counts, expired, workers, keys, held = reply
    tasks: defaultdict[str, dict[JobStatus, int]] = defaultdict(empty_counts)
    for field, value in pairs(counts).items():
        status, _, task = field.partition(":")
        tasks[task][JobStatus(status)] += int(value)
    for field in expired:
        status, _, task = field.partition(":")
        tasks[task][JobStatus(status)] -= 1
    seen = (decode_worker(raw) for raw in pairs(workers).values())
    return Stats(
        tasks={task: counts for task, counts in tasks.items() if any(counts.values())},
        workers=running_now(
            (worker for worker in seen if worker.last_seen_at >= horizon),
            {worker: int(n) for worker, n in pairs(held).items()},
        ),
        running_keys=busiest_keys(
            (*decode_running_key(field), int(n)) for field, n in pairs(keys).items()
        ),
    )
