"""The wire format: the API's camelCase JSON to models and back, and the builders agreeing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobqueue import ClientError, JobStatus
from jobqueue.models import JSONValue, Stats, WorkerInfo
from jobqueue.wire import (
    JobOut,
    StatsOut,
    WorkerOut,
    job_to_wire,
    parse_job,
    parse_page,
    parse_stats,
    stats_to_wire,
    timestamp,
)

JOB: dict[str, JSONValue] = {
    "jobId": "5f0c",
    "task": "render",
    "status": "completed",
    "progress": {"current": 20, "total": 20, "message": "done"},
    "result": {"url": "/x.png"},
    "error": None,
    "attempts": 1,
    "maxAttempts": 3,
    "createdAt": "2026-11-29T10:27:00.123Z",
    "startedAt": "2026-11-29T10:27:01.000Z",
    "completedAt": "2026-11-29T10:27:09.500Z",
    "expiresAt": "2026-11-30T10:27:09.500Z",
    "runAt": None,
    "tags": [],
    "queuePosition": None,
    "estimatedStartAt": None,
    "version": 24,
    "cancelRequested": False,
}


def test_a_job_round_trips() -> None:
    job = parse_job(JOB)
    assert job.status is JobStatus.COMPLETED
    assert job.created_at == datetime(2026, 11, 29, 10, 27, 0, 123000, tzinfo=UTC)
    assert job.progress is not None
    assert job.progress.message == "done"
    assert job.ttl_seconds == 86400
    assert job_to_wire(job) == JOB


def test_unknown_fields_are_ignored_and_missing_optional_ones_default() -> None:
    job = parse_job({**JOB, "progress": None, "someNewField": [1], "cancelRequested": None})
    assert job.progress is None
    assert not job.is_cancel_requested


def test_a_queued_job_says_when_it_may_start() -> None:
    queued = {**JOB, "status": "queued", "runAt": "2026-11-29T10:28:00.000Z", "startedAt": None}
    job = parse_job({**queued, "completedAt": None, "expiresAt": None})
    assert job.run_at == datetime(2026, 11, 29, 10, 28, tzinfo=UTC)
    assert job_to_wire(job)["runAt"] == "2026-11-29T10:28:00.000Z"
    # Once it is not queued, the start time is history: null, as API.md says.
    assert job_to_wire(parse_job(JOB))["runAt"] is None
    # A server that predates runAt: the job counts as runnable since its creation.
    older = parse_job({key: value for key, value in queued.items() if key != "runAt"})
    assert older.run_at == older.created_at


def test_a_waiting_job_says_when_it_is_expected_to_start() -> None:
    waiting = {**JOB, "status": "queued", "startedAt": None, "completedAt": None}
    job = parse_job({**waiting, "queuePosition": 3, "estimatedStartAt": "2026-11-29T10:28:00Z"})
    assert job.estimated_start_at == datetime(2026, 11, 29, 10, 28, tzinfo=UTC)
    assert job_to_wire(job)["estimatedStartAt"] == "2026-11-29T10:28:00.000Z"


@pytest.mark.parametrize(
    "change",
    [
        {"jobId": 5},
        {"status": "lost"},
        {"createdAt": "yesterday"},
        {"version": "1"},
        {"task": None},
    ],
)
def test_a_malformed_job_raises_client_error(change: dict[str, JSONValue]) -> None:
    with pytest.raises(ClientError, match="Unexpected job representation"):
        parse_job({**JOB, **change})


def test_a_page_and_stats_parse() -> None:
    page = parse_page({"jobs": [JOB], "nextCursor": "abc"})
    assert [j.job_id for j in page.jobs] == ["5f0c"]
    assert page.next_cursor == "abc"
    wire: dict[str, JSONValue] = {
        "tasks": {
            "render": {"queued": 1, "processing": 0, "completed": 2, "failed": 0, "cancelled": 3}
        },
        "totals": {"queued": 1, "processing": 0, "completed": 2, "failed": 0, "cancelled": 3},
        "workers": [
            {
                "id": "w1",
                "lastSeenAt": "2026-11-29T10:27:00.000Z",
                "running": 2,
                "host": "h",
                "pid": 9,
                "tasks": ["render"],
            }
        ],
        "runningKeys": {"render": {"customer-7": 1}},
        "limits": {},
    }
    stats = parse_stats(wire)
    assert stats.workers[0].tasks == ("render",)
    assert stats.running_keys == {"render": {"customer-7": 1}}
    assert stats.totals[JobStatus.CANCELLED] == 3
    assert stats_to_wire(stats) == wire
    with pytest.raises(ClientError, match="Unexpected job list"):
        parse_page({"jobs": None})


def test_times_are_written_as_the_api_writes_them() -> None:
    assert (
        timestamp(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    )
    assert timestamp(None) is None


def test_the_builders_write_exactly_the_models_fields() -> None:
    # The server builds bodies without the models (for speed); they must still agree.
    job = parse_job(JOB)
    body = job_to_wire(job)
    assert set(body) == {field.alias for field in JobOut.model_fields.values()}
    assert JobOut.model_validate(body).to_job() == job
    stats = stats_to_wire(Stats(workers=[WorkerInfo("w1", job.created_at, 2, "h", 9)]), ["t"])
    assert set(stats) == {field.alias for field in StatsOut.model_fields.values()}
    worker = stats["workers"][0]
    assert set(worker) == {field.alias for field in WorkerOut.model_fields.values()}
    assert StatsOut.model_validate(stats).to_stats().workers[0].worker_id == "w1"


def test_the_documented_schema_requires_every_field_the_server_sends() -> None:
    schema = JobOut.model_json_schema(mode="serialization")
    assert set(schema["required"]) == set(job_to_wire(parse_job(JOB)))
    assert "default" not in schema["properties"]["cancelRequested"]


def test_fields_api_md_does_not_promise_may_be_missing() -> None:
    job = parse_job({k: v for k, v in JOB.items() if k != "cancelRequested"})
    assert not job.is_cancel_requested
    counts = {"queued": 0, "processing": 0, "completed": 0, "failed": 0, "cancelled": 0}
    stats = parse_stats(
        {
            "tasks": {},
            "totals": counts,
            "workers": [{"id": "w1", "lastSeenAt": "2026-11-29T10:27:00.000Z", "running": 0}],
        }
    )
    assert (stats.workers[0].host, stats.workers[0].pid) == ("", 0)
    with pytest.raises(ClientError, match="Unexpected stats"):
        parse_stats({"tasks": {}, "totals": counts, "workers": [{"id": "w1"}]})
