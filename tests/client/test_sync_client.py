"""`Client` against a live server: every endpoint, and errors as typed exceptions."""

from __future__ import annotations

import uuid

import pytest

from jobqueue import (
    Client,
    ClientError,
    IdempotencyConflict,
    InvalidRequest,
    InvalidTransition,
    JobNotFound,
    JobStatus,
    PayloadInvalid,
)
from tests.client.live import Proxy
from tests.support.processes import free_port


def test_submit_then_wait_returns_the_result(client: Client) -> None:
    job = client.submit("echo", {"hello": "world"}, priority=5, max_attempts=2, ttl_seconds=60)
    assert job.status is JobStatus.QUEUED
    assert (job.task, job.max_attempts, job.version) == ("echo", 2, job.version)
    done = client.wait(job.job_id, timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert done.result == {"hello": "world"}
    assert done.completed_at is not None
    assert done.expires_at is not None
    assert client.get(job.job_id) == done


def test_submit_with_wait_answers_with_the_finished_job(client: Client) -> None:
    job = client.submit(None, [1, 2, 3], wait=30)
    assert job.task == "echo"  # the default task
    assert job.status is JobStatus.COMPLETED
    assert job.result == [1, 2, 3]


def test_stream_yields_newer_states_until_the_terminal_one(client: Client) -> None:
    job = client.submit("slow", {"steps": 5, "delay": 0.05})
    states = list(client.stream(job.job_id))
    versions = [state.version for state in states]
    assert versions == sorted(set(versions))
    assert states[-1].status is JobStatus.COMPLETED
    assert states[-1].result == {"steps": 5}
    assert states[-1].progress is not None
    assert states[-1].progress.message == "step 5"
    assert all(state.status is not JobStatus.COMPLETED for state in states[:-1])


def test_a_failed_job_can_be_retried_but_not_cancelled(client: Client) -> None:
    job = client.wait(client.submit("fail", "x").job_id, timeout=30)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert "failed on purpose: x" in job.error
    with pytest.raises(InvalidTransition) as caught:
        client.cancel(job.job_id)
    assert caught.value.job.status is JobStatus.FAILED
    retried = client.retry(job.job_id)
    assert retried.status is JobStatus.QUEUED
    assert retried.version > job.version
    assert client.wait(job.job_id, timeout=30).status is JobStatus.FAILED


def test_cancel_stops_a_running_job(client: Client) -> None:
    job = client.submit("sleepy", {})
    cancelled = client.cancel(job.job_id)
    assert cancelled.status in {JobStatus.CANCELLED, JobStatus.PROCESSING}
    assert client.wait(job.job_id, timeout=30).status is JobStatus.CANCELLED


def test_wait_raises_timeout_error_at_its_deadline(client: Client) -> None:
    job = client.submit("sleepy", {})
    with pytest.raises(TimeoutError):
        client.wait(job.job_id, timeout=0.5)
    client.cancel(job.job_id)


def test_unknown_jobs_raise_job_not_found(client: Client) -> None:
    for call in (client.get, client.cancel, client.retry, client.wait):
        with pytest.raises(JobNotFound):
            call("no-such-job")
    with pytest.raises(JobNotFound):
        list(client.stream("no-such-job"))


def test_bad_submissions_raise_the_servers_reasons(client: Client) -> None:
    with pytest.raises(InvalidRequest, match="Unknown task"):
        client.submit("nope", {})
    with pytest.raises(InvalidRequest, match="Payload required"):
        client.submit("echo", None)
    with pytest.raises(PayloadInvalid) as caught:
        client.submit("slow", {"steps": "many"})
    assert [error["field"] for error in caught.value.errors] == ["steps"]


def test_an_idempotency_key_replays_or_conflicts(client: Client) -> None:
    key = uuid.uuid4().hex
    first = client.submit("echo", {"n": 1}, idempotency_key=key)
    assert client.submit("echo", {"n": 1}, idempotency_key=key).job_id == first.job_id
    with pytest.raises(IdempotencyConflict):
        client.submit("echo", {"n": 2}, idempotency_key=key)


def test_list_pages_through_jobs_newest_first(client: Client) -> None:
    tag = uuid.uuid4().hex
    ids = [client.submit("echo", {"tag": tag, "n": n}).job_id for n in range(5)]
    for job_id in ids:
        client.wait(job_id, timeout=30)
    newest = list(client.list(tasks=["echo"], statuses=["completed"], page_size=2, limit=3))
    assert [job.job_id for job in newest] == ids[::-1][:3]
    everything = list(client.list(tasks=["echo"], page_size=2))
    assert len({job.job_id for job in everything}) == len(everything)
    assert set(ids) <= {job.job_id for job in everything}
    assert all(job.status is JobStatus.FAILED for job in client.list(statuses=["failed"]))


def test_stats_count_jobs_per_task_and_show_the_worker(client: Client) -> None:
    client.submit("echo", "counted", wait=30)
    stats = client.stats()
    assert stats.tasks["echo"][JobStatus.COMPLETED] >= 1
    assert set(stats.tasks) >= {"echo", "slow", "fail", "sleepy"}
    assert stats.totals[JobStatus.COMPLETED] >= stats.tasks["echo"][JobStatus.COMPLETED]
    assert stats.workers


def test_the_api_key_is_sent_as_a_bearer_token(proxy: Proxy) -> None:
    with Client(proxy.url, api_key="k-123") as client:
        client.stats()
    assert b"authorization: bearer k-123" in bytes(proxy.sent[0]).lower()


def test_an_unreachable_server_raises_client_error() -> None:
    with Client(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(ClientError) as caught:
        client.get("x")
    assert caught.value.status is None
    assert "Cannot reach" in caught.value.message
