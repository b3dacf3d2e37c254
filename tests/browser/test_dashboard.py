"""The dashboard at ``/dashboard`` in headless Chromium, with jobs made through the API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Locator, Page

    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser


def submit(api: httpx.Client, prompt: str, **options: Any) -> str:
    answer = api.post("/api/jobs", json={"payload": {"prompt": prompt}, **options})
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["jobId"]
    return job_id


def row(page: Page, job_id: str) -> Locator:
    return page.locator(f'#rows tr[data-job-id="{job_id}"]')


def tile_count(page: Page, status: str) -> int:
    return int(page.locator(f'.tile[data-status="{status}"] .tile-count').inner_text())


def test_a_job_submitted_elsewhere_appears_and_changes_without_reload(
    web: BrowserPage, api: httpx.Client
) -> None:
    page = web.page
    # Some company for the job under test: waiting, cancelled, and failed for real (timed out).
    waiting = [submit(api, f"later {n}", delaySeconds=3600) for n in range(2)]
    api.post(f"/api/jobs/{submit(api, 'never mind', delaySeconds=3600)}/cancel")
    failed = submit(api, "far too slow", timeoutSeconds=0.5, maxAttempts=1)
    page.goto("/dashboard")
    expect(page.locator("#updated")).to_contain_text("Updated")
    expect(row(page, failed)).to_have_attribute("data-status", "failed", timeout=15_000)
    completed_before = tile_count(page, "completed")
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))

    job_id = submit(api, "A harbour at dawn")
    job_row = row(page, job_id)
    expect(job_row).to_be_visible()
    # It shows up while it is still waiting or running, then changes in place.
    expect(job_row).to_have_attribute("data-status", re.compile("queued|processing"))
    expect(job_row).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(job_row.locator(".pct")).to_have_text("100%")
    expect(page.locator('.tile[data-status="completed"] .tile-count')).not_to_have_text(
        str(completed_before)
    )
    assert loads == [], "the page reloaded"

    # The detail: timestamps, attempts, progress and the result.
    job_row.click()
    detail = page.locator("#detail-body")
    expect(detail.locator(".badge")).to_have_text("Done")
    expect(detail.locator(".detail-id")).to_have_text(job_id)
    facts = detail.locator(".facts")
    for label in ["Task", "Attempts", "Run time", "Created", "Started", "Finished", "Expires"]:
        expect(facts.get_by_text(label, exact=True)).to_be_visible()
    expect(facts).to_contain_text("1 of 3")
    expect(detail.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(detail.get_by_role("img")).to_be_visible()
    expect(detail.locator(".result-box")).to_contain_text('"prompt": "A harbour at dawn"')
    assert f"job={job_id}" in page.url
    web.screenshot("dashboard-light")

    # A real failure: its error is in the detail, with a way to retry.
    row(page, failed).click()
    expect(detail.locator(".badge")).to_have_text("Failed")
    expect(detail.locator(".error-box")).to_contain_text("0.5")
    expect(detail.get_by_role("button", name="Retry job")).to_be_visible()
    for job_id in waiting:
        api.post(f"/api/jobs/{job_id}/cancel")


def test_cancel_and_retry_from_the_detail(dark_web: BrowserPage, api: httpx.Client) -> None:
    page = dark_web.page
    job_id = submit(api, "A job to stop")
    page.goto(f"/dashboard?job={job_id}")
    detail = page.locator("#detail-body")
    expect(detail.locator(".badge")).to_have_text(re.compile("Queued|Running"))

    detail.get_by_role("button", name="Cancel job").click()
    expect(detail.locator(".badge")).to_have_text("Cancelled")
    expect(detail.locator(".error-box")).to_be_visible()
    expect(row(page, job_id)).to_have_attribute("data-status", "cancelled")

    detail.get_by_role("button", name="Retry job").click()
    expect(detail.locator(".badge")).to_have_text(re.compile("Queued|Running"))
    expect(detail.get_by_role("button", name="Cancel job")).to_be_visible()
    expect(detail.locator(".badge")).to_have_text("Done", timeout=30_000)
    expect(row(page, job_id)).to_have_attribute("data-status", "completed")
    expect(detail.locator(".facts")).to_contain_text("1 of 3")
    dark_web.screenshot("dashboard-dark")


def test_filters_and_paging(web: BrowserPage, api: httpx.Client) -> None:
    page = web.page
    # Delayed jobs stay queued; cancelling some gives the filters something to tell apart.
    ids = [submit(api, f"page filler {n}", delaySeconds=3600) for n in range(14)]
    for job_id in ids[:3]:
        assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    page.goto("/dashboard?limit=10")
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(10)
    expect(page.get_by_label("Per page", exact=True)).to_have_value("10")

    page.get_by_label("Status", exact=True).select_option("cancelled")
    expect(row(page, ids[0])).to_be_visible()
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"cancelled"}
    assert "status=cancelled" in page.url
    expect(page.locator('.tile[data-status="cancelled"]')).to_have_attribute("aria-pressed", "true")

    page.get_by_label("Status", exact=True).select_option("queued")
    page.get_by_label("Task", exact=True).select_option("generate_image")
    expect(row(page, ids[-1])).to_be_visible()
    newest_first = rows.evaluate_all("rows => rows.map(r => r.dataset.jobId)")
    assert newest_first == list(reversed(ids))[:10]

    page.get_by_role("button", name="Older →").click()
    expect(page.locator("#page-label")).to_have_text("Page 2")
    expect(row(page, ids[3])).to_be_visible()
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.status)")) == {"queued"}
    page.get_by_role("button", name="← Newer").click()
    expect(page.locator("#page-label")).to_have_text("Page 1")
    expect(row(page, ids[-1])).to_be_visible()

    for job_id in ids[3:]:
        api.post(f"/api/jobs/{job_id}/cancel")


def test_the_tag_filter_lists_the_jobs_of_one_tag(web: BrowserPage, api: httpx.Client) -> None:
    page = web.page
    tagged = [submit(api, f"tagged {n}", delaySeconds=3600, tags=["team:blue"]) for n in range(2)]
    other = submit(api, "other", delaySeconds=3600, tags=["team:red"])
    page.goto("/dashboard")
    expect(row(page, other)).to_be_visible()

    tag = page.get_by_label("Tag", exact=True)
    tag.fill("team:blue")
    tag.press("Enter")

    rows = page.locator("#rows tr")
    expect(rows).to_have_count(2)
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.jobId)")) == set(tagged)
    assert "tag=team%3Ablue" in page.url
    row(page, tagged[0]).click()
    expect(page.locator("#detail-body")).to_contain_text("team:blue")
    page.reload()
    expect(page.get_by_label("Tag", exact=True)).to_have_value("team:blue")
    expect(rows).to_have_count(2)
    for job_id in [*tagged, other]:
        api.post(f"/api/jobs/{job_id}/cancel")


def test_unknown_job_in_the_address_is_explained(web: BrowserPage) -> None:
    page = web.page
    web.errors.expect("404")
    page.goto("/dashboard?job=00000000-0000-4000-8000-000000000000")
    expect(page.locator("#detail-body")).to_contain_text("Job not found")


def test_a_lost_server_is_shown_and_the_dashboard_recovers(web: BrowserPage) -> None:
    page = web.page
    web.errors.expect(r"ERR_CONNECTION_REFUSED|ERR_FAILED|/api/jobs")
    page.goto("/dashboard")
    expect(page.locator("#updated")).to_contain_text("Updated")

    page.route("**/api/jobs/stats", lambda route: route.abort("connectionrefused"))
    banner = page.locator("#connection")
    expect(banner).to_contain_text("Cannot reach the server")

    page.unroute("**/api/jobs/stats")
    expect(banner).to_be_hidden(timeout=20_000)
