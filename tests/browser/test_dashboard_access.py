"""The dashboard against a server with API keys, its light polling, and delayed jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_KEY, USER_KEY

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request

    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser

KEY_STORAGE = "jobqueue.apiKey"


def api_requests(page: Page) -> list[Request]:
    """Every request the page makes to the job API from now on, in order."""
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request) if "/api/jobs" in request.url else None)
    return seen


def settle_requests(page: Page) -> None:
    """Return once every request the page started so far has been reported."""
    page.evaluate("fetch('/healthz').then((answer) => answer.status)")


def enter_key(page: Page, key: str) -> None:
    page.locator("#api-key").fill(key)
    page.get_by_role("button", name="Use this key").click()


def test_the_dashboard_asks_for_a_key_and_sends_it_only_in_a_header(
    keyed_web: BrowserPage,
) -> None:
    page = keyed_web.page
    keyed_web.errors.expect("401")
    with httpx.Client(base_url=keyed_web.base_url) as api:
        answer = api.post(
            "/api/jobs",
            json={"payload": {"prompt": "behind a key"}, "delaySeconds": 3600},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        job_id = answer.json()["jobId"]
    requests = api_requests(page)
    page.goto("/dashboard")
    form = page.locator("#key-form")
    expect(form).to_be_visible()
    expect(page.locator("#key-reason")).to_contain_text("needs an API key")
    expect(page.locator("#updated")).to_have_text("Paused: API key needed")
    keyed_web.screenshot("dashboard-key-prompt")

    enter_key(page, ADMIN_KEY)

    expect(page.locator(f'#rows tr[data-job-id="{job_id}"]')).to_be_visible()
    expect(form).to_be_hidden()
    expect(page.locator("#updated")).to_contain_text("Updated")
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") == ADMIN_KEY
    assert page.evaluate(f"localStorage.getItem('{KEY_STORAGE}')") is None
    settle_requests(page)
    assert ADMIN_KEY not in page.url
    assert not [request.url for request in requests if ADMIN_KEY in request.url]
    keyed = [r for r in requests if r.headers.get("authorization") == f"Bearer {ADMIN_KEY}"]
    assert keyed, "the key is sent in the Authorization header"


def test_a_refused_key_stops_the_polling_and_says_why(keyed_web: BrowserPage) -> None:
    page = keyed_web.page
    keyed_web.errors.expect("401|403")
    page.clock.install()
    page.goto("/dashboard")
    expect(page.locator("#key-form")).to_be_visible()
    requests = api_requests(page)

    enter_key(page, "not-a-key-of-this-server")
    reason = page.locator("#key-reason")
    expect(reason).to_contain_text("The server refused the key: Unknown API key")
    expect(reason).to_contain_text("paused")
    settle_requests(page)
    refused = len(requests)
    page.clock.run_for(120_000)  # a minute of retries and more, had the polling gone on
    settle_requests(page)
    assert len(requests) == refused
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") == "not-a-key-of-this-server"

    enter_key(page, USER_KEY)
    expect(reason).to_contain_text("This key may not read the dashboard: Only admin API keys")
    settle_requests(page)
    refused = len(requests)
    page.clock.run_for(120_000)
    settle_requests(page)
    assert len(requests) == refused


def test_an_idle_dashboard_polls_summaries_and_is_answered_304(
    web: BrowserPage, api: httpx.Client
) -> None:
    page = web.page
    job_id = api.post(
        "/api/jobs", json={"payload": {"prompt": "stays cancelled"}, "delaySeconds": 3600}
    ).json()["jobId"]
    api.post(f"/api/jobs/{job_id}/cancel")
    requests = api_requests(page)
    # Cancelled jobs never change, so this listing stays the same from poll to poll.
    page.goto("/dashboard?status=cancelled")
    expect(page.locator(f'#rows tr[data-job-id="{job_id}"]')).to_be_visible()

    with page.expect_response(
        lambda answer: answer.url.split("?")[0].endswith("/api/jobs") and answer.status == 304
    ) as idle:
        pass
    assert idle.value.request.headers.get("if-none-match")
    listings = [r.url for r in requests if r.url.split("?")[0].endswith("/api/jobs")]
    assert listings
    assert all("fields=summary" in url for url in listings)
    expect(page.locator(f'#rows tr[data-job-id="{job_id}"]')).to_be_visible()


def test_a_delayed_job_shows_when_it_starts(web: BrowserPage, api: httpx.Client) -> None:
    page = web.page
    job_id = api.post(
        "/api/jobs", json={"payload": {"prompt": "in an hour"}, "delaySeconds": 3600}
    ).json()["jobId"]
    page.goto(f"/dashboard?status=queued&job={job_id}")
    job_row = page.locator(f'#rows tr[data-job-id="{job_id}"]')
    expect(job_row.locator("td").nth(6)).to_contain_text("starts in")
    expect(page.locator("#detail-body .facts")).to_contain_text("Starts")
    api.post(f"/api/jobs/{job_id}/cancel")
