"""GET /api/jobs for pollers: the listing's ETag and 304, and ``fields=summary``."""

from __future__ import annotations

import httpx

from jobqueue.models import Progress
from jobqueue.wire import JobPage
from tests.api.conftest import Jobs, assert_problem, submit

BIG_RESULT = {"image": "x" * 20_000}
"""A result the size of a small picture: a hundred of them make a page of megabytes."""


async def listing(client: httpx.AsyncClient, etag: str | None = None, **params: str | int):
    headers = {"If-None-Match": etag} if etag else {}
    return await client.get("/api/jobs", params=params, headers=headers)


async def test_the_list_answers_304_while_its_etag_holds(client: httpx.AsyncClient):
    await submit(client, "one")
    first = await listing(client)
    etag = first.headers["etag"]

    again = await listing(client, etag)
    among_others = await listing(client, f'"stale", {etag}')

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "no-cache"
    assert among_others.status_code == 304


async def test_the_list_etag_changes_when_a_listed_job_changes(
    client: httpx.AsyncClient, jobs: Jobs
):
    job_id = await submit(client, "one")
    etags = [(await listing(client)).headers["etag"]]

    await jobs.start(job_id)
    etags.append((await listing(client)).headers["etag"])
    await jobs.progress(job_id, 1, 2)
    etags.append((await listing(client)).headers["etag"])
    await submit(client, "two")
    etags.append((await listing(client)).headers["etag"])
    answer = await listing(client, etags[0])

    assert len(set(etags)) == len(etags)
    assert answer.status_code == 200
    assert answer.headers["etag"] == etags[-1]


async def test_the_list_etag_depends_on_the_page_and_the_fields(client: httpx.AsyncClient):
    await submit(client, "old")
    await submit(client, "new")

    full = (await listing(client)).headers["etag"]
    summary = (await listing(client, fields="summary")).headers["etag"]
    first_page = (await listing(client, limit=1)).headers["etag"]
    queued = (await listing(client, status="queued")).headers["etag"]

    assert len({full, summary, first_page}) == 3
    assert queued == full  # the same jobs, represented the same way


async def test_a_summary_leaves_out_the_result_and_the_progress_message(
    client: httpx.AsyncClient, jobs: Jobs
):
    done = await submit(client, "done")
    await jobs.complete(done, BIG_RESULT)
    running = await submit(client, "running")
    await jobs.start(running)
    await jobs.queue.store.record_progress(
        jobs.leases[running], Progress(1, 4, "a long story"), jobs.now
    )

    full = (await listing(client)).json()
    summary = (await listing(client, fields="summary")).json()

    JobPage.model_validate(full)
    JobPage.model_validate(summary)  # the same shape: what is left out is null
    summaries = {job["jobId"]: job for job in summary["jobs"]}
    for job in full["jobs"]:
        expected = {**job, "result": None}
        if job["progress"] is not None:
            expected["progress"] = {"current": 1, "total": 4, "message": None}
        assert summaries[job["jobId"]] == expected


async def test_a_bad_fields_value_is_400(client: httpx.AsyncClient):
    assert_problem(await listing(client, fields="everything"), 400)


async def test_an_idle_summary_poll_over_a_hundred_big_jobs_moves_no_body(
    client: httpx.AsyncClient, jobs: Jobs
):
    for n in range(100):
        await jobs.complete(await submit(client, n), BIG_RESULT)

    full = await listing(client, limit=100)
    summary = await listing(client, limit=100, fields="summary")
    idle = await listing(client, summary.headers["etag"], limit=100, fields="summary")

    assert len(full.content) > 2_000_000
    assert len(summary.json()["jobs"]) == 100
    assert len(summary.content) < 50_000
    assert idle.status_code == 304
    assert idle.content == b""
