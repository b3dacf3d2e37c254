"""Listing: filters, newest-first order, and cursors that stay stable under inserts."""

from __future__ import annotations

import uuid

import pytest

from jobqueue.errors import InvalidRequest
from jobqueue.models import Job, JobFilter, JobStatus
from jobqueue.stores import Store
from tests.stores.conformance.helpers import TTL_SECONDS, job_in, submit

EVERYTHING = JobFilter()


async def _submit_many(store: Store, clock, n: int, **overrides: object) -> list[Job]:
    jobs = []
    for _ in range(n):
        jobs.append(await submit(store, clock, **overrides))
        clock.advance(1)
    return jobs


async def _all_pages(store: Store, clock, where: JobFilter, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await store.list_jobs(where, limit, cursor, clock.now())
        pages.append([job.job_id for job in page.jobs])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def _ids(jobs: list[Job]) -> list[str]:
    return [job.job_id for job in jobs]


async def test_an_empty_store_lists_nothing(store: Store, clock) -> None:
    page = await store.list_jobs(EVERYTHING, 10, None, clock.now())
    assert list(page.jobs) == []
    assert page.next_cursor is None


async def test_newest_first(store: Store, clock) -> None:
    jobs = await _submit_many(store, clock, 4)
    page = await store.list_jobs(EVERYTHING, 10, None, clock.now())
    assert _ids(list(page.jobs)) == _ids(jobs)[::-1]
    assert list(page.jobs) == list(reversed(jobs))
    assert page.next_cursor is None


async def test_jobs_created_together_are_ordered_by_id(store: Store, clock) -> None:
    ids = sorted(str(uuid.uuid4()) for _ in range(4))
    for job_id in ids:
        await submit(store, clock, job_id=job_id)
    pages = await _all_pages(store, clock, EVERYTHING, 3)
    assert pages == [ids[::-1][:3], ids[::-1][3:]]


async def test_pages_cover_every_job_once(store: Store, clock) -> None:
    jobs = await _submit_many(store, clock, 7)
    pages = await _all_pages(store, clock, EVERYTHING, 3)
    assert pages == [_ids(jobs)[6:3:-1], _ids(jobs)[3:0:-1], _ids(jobs)[:1]]


async def test_a_full_last_page_has_no_cursor(store: Store, clock) -> None:
    await _submit_many(store, clock, 2)
    page = await store.list_jobs(EVERYTHING, 2, None, clock.now())
    assert len(page.jobs) == 2
    assert page.next_cursor is None


async def test_pages_stay_stable_while_jobs_are_inserted(store: Store, clock) -> None:
    older = await _submit_many(store, clock, 5)
    first = await store.list_jobs(EVERYTHING, 2, None, clock.now())
    assert _ids(list(first.jobs)) == _ids(older)[:2:-1]

    await _submit_many(store, clock, 3)
    rest = []
    cursor = first.next_cursor
    while cursor is not None:
        page = await store.list_jobs(EVERYTHING, 2, cursor, clock.now())
        rest += _ids(list(page.jobs))
        cursor = page.next_cursor

    assert rest == _ids(older)[2::-1]


async def test_filters_by_status_task_and_owner(store: Store, clock) -> None:
    running_a = (await job_in(store, clock, JobStatus.PROCESSING, task="a", owner="bob")).job
    clock.advance(1)
    done_b = (await job_in(store, clock, JobStatus.COMPLETED, task="b", owner="ann")).job
    clock.advance(1)
    queued_a = await submit(store, clock, task="a", owner="ann")
    clock.advance(1)
    queued_b = await submit(store, clock, task="b", owner="bob")

    async def listed(where: JobFilter) -> list[str]:
        page = await store.list_jobs(where, 10, None, clock.now())
        return _ids(list(page.jobs))

    queued, processing, completed = JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.COMPLETED
    assert await listed(EVERYTHING) == _ids([queued_b, queued_a, done_b, running_a])
    assert await listed(JobFilter(statuses=frozenset({queued}))) == _ids([queued_b, queued_a])
    assert await listed(JobFilter(statuses=frozenset({processing, completed}))) == _ids(
        [done_b, running_a]
    )
    assert await listed(JobFilter(tasks=frozenset({"a"}))) == _ids([queued_a, running_a])
    assert await listed(JobFilter(tasks=frozenset({"a", "b"}))) == await listed(EVERYTHING)
    assert await listed(JobFilter(owner="ann")) == _ids([queued_a, done_b])
    assert await listed(
        JobFilter(owner="bob", tasks=frozenset({"a"}), statuses=frozenset({processing}))
    ) == _ids([running_a])
    assert await listed(JobFilter(statuses=frozenset({JobStatus.FAILED}))) == []
    assert await listed(JobFilter(owner="nobody")) == []


async def test_filtered_pages_cover_every_match_once(store: Store, clock) -> None:
    wanted = []
    for i in range(9):
        job = await submit(store, clock, task="a" if i % 3 else "b")
        if job.task == "a":
            wanted.append(job.job_id)
        clock.advance(1)
    pages = await _all_pages(store, clock, JobFilter(tasks=frozenset({"a"})), 4)
    assert pages == [wanted[::-1][:4], wanted[::-1][4:]]


async def test_filters_by_tag_page_by_page(store: Store, clock) -> None:
    wanted = []
    for i in range(9):
        tags = ("user:42", "batch.7") if i % 3 else ("user:421",)
        job = await submit(store, clock, tags=tags, task="a" if i % 2 else "b")
        assert job.tags == tags
        if i % 3:
            wanted.append(job.job_id)
        clock.advance(1)
    untagged = await submit(store, clock)

    pages = await _all_pages(store, clock, JobFilter(tag="user:42"), 4)
    one_task = await store.list_jobs(
        JobFilter(tag="batch.7", tasks=frozenset({"a"})), 9, None, clock.now()
    )

    assert pages == [wanted[::-1][:4], wanted[::-1][4:]]
    assert {job.task for job in one_task.jobs} == {"a"}
    assert all("batch.7" in job.tags for job in one_task.jobs)
    assert await _all_pages(store, clock, JobFilter(tag="user"), 4) == [[]]
    assert untagged.tags == ()
    assert (await store.get(wanted[0], clock.now())).tags == ("user:42", "batch.7")  # type: ignore[union-attr]


async def test_expired_jobs_are_left_out(store: Store, clock) -> None:
    done = (await job_in(store, clock, JobStatus.COMPLETED)).job
    clock.advance(1)
    queued = await submit(store, clock)

    clock.advance(TTL_SECONDS - 2)
    page = await store.list_jobs(EVERYTHING, 10, None, clock.now())
    assert _ids(list(page.jobs)) == [queued.job_id, done.job_id]

    clock.advance(1)
    page = await store.list_jobs(EVERYTHING, 10, None, clock.now())
    assert _ids(list(page.jobs)) == [queued.job_id]
    assert await store.get(done.job_id, clock.now()) is None


@pytest.mark.parametrize("cursor", ["not a cursor", "!!!", "W10", "eyJhIjoxfQ"])
async def test_an_invalid_cursor_is_refused(store: Store, clock, cursor: str) -> None:
    await submit(store, clock)
    with pytest.raises(InvalidRequest):
        await store.list_jobs(EVERYTHING, 10, cursor, clock.now())
