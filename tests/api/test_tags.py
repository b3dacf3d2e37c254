"""Tags: given at submit, carried by the job, listed by with ?tag=, checked strictly."""

from __future__ import annotations

import httpx
import pytest

from jobqueue import JobQueue
from tests.api.conftest import assert_problem, submit


async def test_tags_come_back_and_list_their_jobs(client: httpx.AsyncClient):
    tagged = await submit(client, tags=["user:42", "batch.7", "user:42"])
    other = await submit(client, tags=["user:7"])
    untagged = await submit(client)

    job = (await client.get(f"/api/jobs/{tagged}")).json()
    listed = (await client.get("/api/jobs", params={"tag": "user:42"})).json()["jobs"]
    queued = (await client.get("/api/jobs", params={"tag": "batch.7", "status": "queued"})).json()

    assert job["tags"] == ["user:42", "batch.7"]  # a repeat is kept once
    assert (await client.get(f"/api/jobs/{untagged}")).json()["tags"] == []
    assert [entry["jobId"] for entry in listed] == [tagged]
    assert [entry["jobId"] for entry in queued["jobs"]] == [tagged]
    assert other not in {entry["jobId"] for entry in listed}


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        (["a"] * 11, "tags"),
        (["with space"], "tags.0"),
        ([""], "tags.0"),
        (["x" * 101], "tags.0"),
        ("user:42", "tags"),
        ([42], "tags.0"),
    ],
)
async def test_a_bad_tag_is_refused_and_nothing_is_created(
    client: httpx.AsyncClient, queue: JobQueue, tags: object, field: str
):
    response = await client.post("/api/jobs", json={"payload": 1, "tags": tags})

    assert_problem(response, 400)
    assert field in {error["field"] for error in response.json().get("errors", [])} or (
        response.json()["detail"].startswith(f"{field}:")
    )
    assert (await queue.list()).jobs == []


async def test_a_bad_tag_filter_is_refused(client: httpx.AsyncClient):
    assert_problem(await client.get("/api/jobs", params={"tag": "no spaces"}), 400)


async def test_the_python_api_checks_tags_the_same(queue: JobQueue):
    with pytest.raises(ValueError, match="at most 10"):
        await queue.submit("echo", 1, tags=[f"t{n}" for n in range(11)])
    job = await queue.submit("echo", 1, tags=["a-b_c.d:e"])
    assert job.tags == ("a-b_c.d:e",)
    assert [found.job_id for found in (await queue.list(tag="a-b_c.d:e")).jobs] == [job.job_id]
