"""The client commands (submit, status, watch, cancel, retry, list, stats) against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from jobqueue import Client, JobStatus
from jobqueue.cli import cli
from tests.client.live import running_server
from tests.support.processes import ROOT, free_port

SLOW = '{"steps": 3, "delay": 0.05}'
Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture
def run(server_url: str) -> Invoke:
    runner = CliRunner(env={"JOBQUEUE_SERVER": server_url})

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    return invoke


@pytest.fixture
def client(server_url: str) -> Iterator[Client]:
    with Client(server_url) as client:
        yield client


def test_submit_prints_the_job_id_and_status_shows_it(run: Invoke, client: Client) -> None:
    submitted = run("submit", "echo", '{"a": 1}')
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    client.wait(job_id, timeout=30)
    shown = run("status", job_id)
    assert shown.exit_code == 0
    assert "completed" in shown.stdout
    assert '{"a":1}' in shown.stdout
    as_json = json.loads(run("status", job_id, "--json").stdout)
    assert (as_json["jobId"], as_json["status"], as_json["result"]) == (
        job_id,
        "completed",
        {"a": 1},
    )


def test_submit_json_prints_the_queued_job(run: Invoke) -> None:
    result = run("submit", "echo", "[1]", "--json", "--priority", "3", "--max-attempts", "2")
    assert result.exit_code == 0
    job = json.loads(result.stdout)
    assert (job["status"], job["maxAttempts"]) == ("queued", 2)


def test_submit_wait_prints_the_result_and_exits_0(run: Invoke) -> None:
    result = run("submit", "slow", SLOW, "--wait", "--timeout", "30", "--ttl", "600")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"steps": 3}


def test_submit_wait_on_a_failing_job_exits_1_with_the_error(run: Invoke) -> None:
    result = run("submit", "fail", '"why"', "--wait")
    assert result.exit_code == 1
    assert "failed: Fail: failed on purpose: why" in result.stderr
    assert result.stdout == ""
    as_json = run("submit", "fail", '"why"', "--wait", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["status"] == "failed"


def test_bad_json_payload_is_a_usage_error(run: Invoke) -> None:
    result = run("submit", "echo", "{not json")
    assert result.exit_code == 2
    assert "PAYLOAD_JSON" in result.stderr
    assert "not valid JSON" in result.stderr


def test_server_side_refusals_exit_with_the_errors_code(run: Invoke) -> None:
    unknown = run("submit", "nope", "{}")
    assert unknown.exit_code == 2
    assert "Error: Unknown task" in unknown.stderr
    missing = run("status", "no-such-job")
    assert missing.exit_code == 1
    assert "Error: Job not found" in missing.stderr


def test_watch_follows_to_the_end_and_json_prints_every_state(run: Invoke, client: Client) -> None:
    job = client.submit("slow", json.loads(SLOW))
    result = run("watch", job.job_id, "--json")
    assert result.exit_code == 0
    states = [json.loads(line) for line in result.stdout.splitlines()]
    assert states[-1]["status"] == "completed"
    assert [s["version"] for s in states] == sorted({s["version"] for s in states})
    again = run("watch", job.job_id)
    assert again.exit_code == 0
    assert json.loads(again.stdout) == {"steps": 3}


def test_cancel_watch_and_retry(run: Invoke, client: Client) -> None:
    job = client.submit("sleepy", {})
    cancelled = run("cancel", job.job_id)
    assert cancelled.exit_code == 0
    assert job.job_id in cancelled.stdout
    watched = run("watch", job.job_id)
    assert watched.exit_code == 3
    assert "cancelled" in watched.stderr
    again = run("cancel", job.job_id)
    assert again.exit_code == 1
    assert "Error: Job is cancelled" in again.stderr
    retried = run("retry", job.job_id, "--json")
    assert json.loads(retried.stdout)["status"] == "queued"
    client.cancel(job.job_id)


def test_list_and_stats(run: Invoke, client: Client) -> None:
    job = client.submit("echo", "listed", wait=30)
    listed = json.loads(run("list", "--task", "echo", "--status", "completed", "--json").stdout)
    assert job.job_id in {j["jobId"] for j in listed}
    assert {j["status"] for j in listed} == {"completed"}
    table = run("list", "--task", "echo", "--limit", "1")
    assert table.exit_code == 0
    assert "echo" in table.stdout
    assert "completed" in table.stdout
    stats = json.loads(run("stats", "--json").stdout)
    assert stats["tasks"]["echo"]["completed"] >= 1
    assert stats["workers"]
    shown = run("stats")
    assert "echo" in shown.stdout
    assert "total" in shown.stdout
    assert client.stats().totals[JobStatus.COMPLETED] >= 1


def test_an_unreachable_server_is_reported(run: Invoke) -> None:
    result = run("stats", "--server", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "Cannot reach the jobqueue server" in result.stderr


def test_a_real_process_submit_wait(server_url: str) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobqueue",
            "submit",
            "slow",
            SLOW,
            "--wait",
            "--server",
            server_url,
        ],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("JOBQUEUE_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"steps": 3}


def test_the_list_fits_80_columns_and_a_delayed_job_says_when_it_starts(
    server_url: str, client: Client
) -> None:
    delayed = client.submit("echo", "later", delay_seconds=3600)
    narrow = CliRunner(env={"JOBQUEUE_SERVER": server_url, "COLUMNS": "80"})

    table = narrow.invoke(cli, ["list", "--limit", "5"]).stdout
    shown = narrow.invoke(cli, ["status", delayed.job_id]).stdout

    assert all(len(line) <= 80 for line in table.splitlines()), table
    assert {"Job", "Task", "Status"} <= set(table.split())
    assert delayed.job_id in table
    assert "starts in" in table
    assert "Starts" in shown
    assert "starts in 3600 s" in shown or "starts in 3599 s" in shown
    client.cancel(delayed.job_id)


def test_submit_tags_a_job_and_list_finds_it_by_tag(run: Invoke, client: Client) -> None:
    submitted = run("submit", "echo", '"tagged"', "--tag", "cli:tag-test", "--tag", "b")
    assert submitted.exit_code == 0, submitted.output
    job_id = submitted.stdout.strip()
    run("submit", "echo", '"not tagged"')

    listed = json.loads(run("list", "--tag", "cli:tag-test", "--json").stdout)
    shown = run("status", job_id).stdout

    assert [job["jobId"] for job in listed] == [job_id]
    assert "cli:tag-test, b" in shown
    assert [job.job_id for job in client.list(tag="b")][:1] == [job_id]
    assert run("list", "--tag", "not a tag").exit_code != 0
