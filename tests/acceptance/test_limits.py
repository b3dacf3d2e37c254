"""Concurrency limits across three real worker processes on each shared store.

The run log is appended inside each attempt, which lies inside the span between its claim
and the write that ends it; so the attempts that overlap in the log's order are never more
than those the store counted as running at once, and the log can only under-count.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence

import httpx

from tests.acceptance.jobs_api import wait_until_completed
from tests.acceptance.processes import Processes, until
from tests.support.processes import RunLog
from tests.support.recording_app import GLOBAL_LIMIT, KEY_LIMIT

JOBS = 24
PAYLOAD = {"sleep": 0.05}
COMPLETION_SECONDS = 90.0


def _most_at_once(log: RunLog, groups: dict[str, str]) -> dict[str, int]:
    """The most attempts overlapping in the log, per group of jobs."""
    now: dict[str, int] = {}
    most: dict[str, int] = {}
    for run in log.runs():
        group = groups[run.job_id]
        now[group] = now.get(group, 0) + (1 if run.event == "start" else -1)
        most[group] = max(most.get(group, 0), now[group])
    return most


async def _run(
    processes: Processes, client: httpx.AsyncClient, bodies: Sequence[Mapping[str, object]]
) -> list[str]:
    server = (await processes.serve()).base_url
    for _ in range(3):
        processes.worker("--concurrency", "4")
    ids = []
    for body in bodies:
        answer = await client.post(f"{server}/api/jobs", json=body)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["jobId"])
    await wait_until_completed(client, server, len(bodies), COMPLETION_SECONDS)
    return ids


async def test_global_concurrency_holds_across_worker_processes(
    processes: Processes, client: httpx.AsyncClient
) -> None:
    body = {"task": "record_global", "payload": PAYLOAD}
    ids = await _run(processes, client, [body] * JOBS)

    assert _most_at_once(processes.log, dict.fromkeys(ids, "all")) == {"all": GLOBAL_LIMIT}


async def test_key_concurrency_holds_per_key_across_worker_processes(
    processes: Processes, client: httpx.AsyncClient
) -> None:
    keys = ["a", "b", "c"] * (JOBS // 3)
    bodies = [{"task": "record_keyed", "payload": PAYLOAD, "concurrencyKey": key} for key in keys]
    ids = await _run(processes, client, bodies)

    most = _most_at_once(processes.log, dict(zip(ids, keys, strict=True)))
    assert most == dict.fromkeys("abc", KEY_LIMIT)


async def test_a_key_held_by_a_killed_worker_comes_back_with_the_lease(
    processes: Processes, client: httpx.AsyncClient
) -> None:
    server = (await processes.serve()).base_url
    doomed = processes.worker("--lease-seconds", "2")
    body = {"task": "record_keyed", "concurrencyKey": "k"}
    first = await client.post(f"{server}/api/jobs", json={**body, "payload": {"sleep": 3}})
    first_id = first.json()["jobId"]
    await until(lambda: processes.log.count("start")[first_id] == 1, COMPLETION_SECONDS)
    second = await client.post(f"{server}/api/jobs", json={**body, "payload": {"sleep": 0}})
    second_id = second.json()["jobId"]

    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    processes.worker("--lease-seconds", "2")
    await wait_until_completed(client, server, 2, COMPLETION_SECONDS)

    # The killed attempt never ended and its job ran again; the second job of the key ran
    # too, so the key's place came back with the lost lease.
    assert processes.log.count("start") == {first_id: 2, second_id: 1}
    assert processes.log.count("done") == {first_id: 1, second_id: 1}
