"""The demo page at ``/`` in headless Chromium against a real ``jobqueue demo`` server."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from jobqueue.demo import ImageRequest
from tests.browser.conftest import open_page, running_demo

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Browser, Locator, Page, Request, Route

    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser

#: A stream of one job (``/api/jobs/{id}/events``) or of many (``/api/jobs/events?ids=…``).
EVENTS = re.compile(r"/api/jobs/(?:[^/?]+/)?events(?:\?|$)")


def start_job(page: Page, prompt: str) -> Locator:
    """Submit *prompt* from the form the way a person does, and return its card."""
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.keyboard.press("Enter")
    card = page.locator(".job", has=page.get_by_role("heading", name=prompt, exact=True))
    expect(card).to_have_count(1)
    return card


def record_requests(page: Page, pattern: str) -> list[str]:
    """The URLs of the page's requests that match *pattern*, as they are made."""
    matcher = re.compile(pattern)
    urls: list[str] = []

    def on_request(request: Request) -> None:
        if matcher.search(request.url):
            urls.append(request.url)

    page.on("request", on_request)
    return urls


def progress_values_until_done(card: Locator, timeout: float = 30) -> set[int]:
    """Read the card's progress bar until the job is terminal; the distinct values seen."""
    bar = card.get_by_role("progressbar")
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = bar.get_attribute("aria-valuenow")
        if value is not None:
            seen.add(int(value))
        if card.get_attribute("data-status") in {"completed", "failed", "cancelled"}:
            return seen
        card.page.wait_for_timeout(50)
    raise AssertionError(f"the job did not finish in {timeout} s; progress seen: {seen}")


def test_prompt_to_image_with_live_progress(web: BrowserPage) -> None:
    page = web.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Turn a prompt into a picture")).to_be_visible()

    card = start_job(page, "A lighthouse at dusk, in watercolour")
    values = progress_values_until_done(card)

    expect(card).to_have_attribute("data-status", "completed")
    between = {value for value in values if 0 < value < 100}
    assert len(between) >= 3, f"progress was not followed live: {sorted(values)}"
    image = card.get_by_role("img")
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert image.evaluate("img => img.complete && img.naturalWidth") == 384
    expect(card.locator(".badge")).to_have_text("Done")
    expect(card.get_by_role("link", name="Download")).to_be_visible()

    # The card survives a reload: the page follows its jobs again from their ids.
    page.reload()
    expect(card.get_by_role("img")).to_be_visible()
    web.screenshot("demo-light")


def test_several_jobs_at_once_each_with_its_own_card(dark_web: BrowserPage) -> None:
    page = dark_web.page
    page.goto("/")
    prompts = [
        "Neon koi pond seen from above",
        "Foggy pine forest at sunrise",
        "Retro-futurist city skyline at night",
        "Desert dunes under a violet moon",
        "A red kite over green hills",
    ]
    cards = [start_job(page, prompt) for prompt in prompts]
    # More jobs than the client keeps streams open for: the rest are polled, all finish.
    for card in cards:
        expect(card).to_have_attribute("data-status", "completed", timeout=40_000)
        expect(card.get_by_role("img")).to_be_visible()
    page.get_by_label("Prompt", exact=True).fill("Storm clouds over a lighthouse")
    page.keyboard.press("Enter")
    running = page.locator(".job").first
    expect(running).to_have_attribute("data-status", "processing")
    dark_web.screenshot("demo-dark")
    running.get_by_role("button", name="Cancel").click()
    expect(running).to_have_attribute("data-status", "cancelled")


def test_cancel_from_the_page_with_the_keyboard(web: BrowserPage) -> None:
    page = web.page
    page.goto("/")
    card = start_job(page, "A very slow mural")
    expect(card).to_have_attribute("data-status", "processing")

    cancel = card.get_by_role("button", name="Cancel")
    cancel.focus()
    page.keyboard.press("Enter")

    expect(card).to_have_attribute("data-status", "cancelled")
    expect(card.locator(".badge")).to_have_text("Cancelled")
    expect(card.locator(".job-error")).to_be_visible()
    expect(cancel).to_be_hidden()
    # The job can be run again from the same card.
    card.get_by_role("button", name="Run again").click()
    expect(card).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(card.get_by_role("img")).to_be_visible()


@pytest.mark.parametrize("refusal", ["abort", "503"])
def test_falls_back_from_sse_to_polling_and_still_completes(web: BrowserPage, refusal: str) -> None:
    page = web.page
    streams: list[str] = []
    polls = record_requests(page, r"[?&]wait=")

    def refuse(route: Route) -> None:
        streams.append(route.request.url)
        if refusal == "abort":
            route.abort()
        else:
            body = json.dumps({"error": "No streams here", "status": 503})
            route.fulfill(status=503, content_type="application/json", body=body)

    page.route(EVENTS, refuse)
    web.errors.expect(r"/events")
    page.goto("/")

    card = start_job(page, "Through a proxy without streaming")
    values = progress_values_until_done(card)

    expect(card).to_have_attribute("data-status", "completed")
    expect(card.get_by_role("img")).to_be_visible()
    assert streams, "the page never tried Server-Sent Events"
    assert polls, "the page did not fall back to long-polling"
    assert len({v for v in values if 0 < v < 100}) >= 2, sorted(values)


def test_plain_polling_when_neither_sse_nor_long_poll_work(web: BrowserPage) -> None:
    page = web.page
    plain_polls = record_requests(page, r"/api/jobs/[0-9a-f-]{36}$")
    page.route(EVENTS, lambda route: route.abort())
    # A server that ignores `wait`: every long-poll answers at once with the same state.
    page.route(
        lambda url: "wait=" in url,
        lambda route: route.fulfill(response=route.fetch(url=route.request.url.split("?")[0])),
    )
    web.errors.expect(r"/events")
    page.goto("/")

    card = start_job(page, "Polled the old way")
    expect(card).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(card.get_by_role("img")).to_be_visible()
    assert plain_polls, "no plain status poll was made"


def test_a_failed_job_shows_its_error(web: BrowserPage) -> None:
    page = web.page

    # The demo task does not fail on its own; the stream reports a failure as a server would.
    def failed_stream(route: Route) -> None:
        job_id = parse_qs(urlsplit(route.request.url).query)["ids"][0].split(",")[0]
        job = {
            "jobId": job_id,
            "task": "generate_image",
            "status": "failed",
            "progress": {"current": 7, "total": 20, "message": "Painting the sky"},
            "result": None,
            "error": "CUDA out of memory\nTraceback (most recent call last): ...",
            "attempts": 3,
            "maxAttempts": 3,
            "createdAt": "2026-11-29T10:27:00.123Z",
            "startedAt": "2026-11-29T10:27:01.000Z",
            "completedAt": "2026-11-29T10:27:03.500Z",
            "expiresAt": "2026-11-30T10:27:03.500Z",
            "version": 1000,
            "cancelRequested": False,
        }
        body = f"event: job\nid: 1000\nretry: 2000\ndata: {json.dumps(job)}\n\n"
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route(EVENTS, failed_stream)
    page.goto("/")
    card = start_job(page, "Too big for the GPU")

    expect(card).to_have_attribute("data-status", "failed")
    expect(card.locator(".badge")).to_have_text("Failed")
    expect(card.locator(".job-error-text")).to_have_text("CUDA out of memory")
    expect(card.get_by_role("button", name="Run again")).to_be_visible()
    expect(card.get_by_role("button", name="Cancel")).to_be_hidden()
    # A finished card can be removed; the page forgets it, also across a reload.
    card.get_by_role("button", name="Remove").click()
    expect(card).to_have_count(0)
    expect(page.get_by_label("Prompt", exact=True)).to_be_focused()
    page.reload()
    expect(page.locator(".job")).to_have_count(0)


def test_the_server_refusing_a_job_shows_its_reason(web: BrowserPage) -> None:
    page = web.page
    web.errors.expect(r"422")
    page.goto("/")
    # A size the demo task does not accept: the server's validation error is shown as is.
    page.eval_on_selector("#size", "select => { select.options[0].value = '4096x4096'; }")
    page.get_by_label("Size", exact=True).select_option(index=0)
    page.get_by_label("Prompt", exact=True).fill("Far too large")
    page.keyboard.press("Enter")
    error = page.get_by_role("alert")
    expect(error).to_contain_text("The server refused the job")
    expect(error).to_contain_text("width")
    expect(page.locator(".job")).to_have_count(0)


def test_server_down_is_explained_and_the_page_recovers(web: BrowserPage) -> None:
    page = web.page
    web.errors.expect(r"ERR_FAILED|/api/jobs")
    page.goto("/")
    page.route("**/api/jobs", lambda route: route.abort("connectionrefused"))
    page.get_by_label("Prompt", exact=True).fill("Nobody is listening")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Cannot reach the server")

    page.unroute("**/api/jobs")
    card = start_job(page, "Back online")
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(card).to_have_attribute("data-status", "completed", timeout=30_000)


def test_a_lost_connection_shows_a_banner_until_it_comes_back(web: BrowserPage) -> None:
    page = web.page
    web.errors.expect(r"ERR_FAILED|ERR_CONNECTION_REFUSED|/api/jobs/")
    page.goto("/")
    # Streams and status requests fail: the watch retries with backoff and says so.
    status = re.compile(r"/api/jobs/[0-9a-f-]{36}(\?|$)")
    page.route(EVENTS, lambda route: route.abort("connectionrefused"))
    page.route(status, lambda route: route.abort("connectionrefused"))
    card = start_job(page, "Cut off mid-way")
    banner = page.locator("#connection")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Lost contact with the server")

    page.unroute(status)
    expect(banner).to_be_hidden(timeout=30_000)
    expect(card).to_have_attribute("data-status", "completed", timeout=30_000)


def test_the_prompt_field_takes_the_servers_length_limit(web: BrowserPage) -> None:
    page = web.page
    limit = ImageRequest.model_json_schema()["properties"]["prompt"]["maxLength"]
    page.goto("/")
    prompt = page.get_by_label("Prompt", exact=True)
    expect(prompt).to_have_attribute("maxlength", str(limit))
    prompt.fill("x" * (limit + 10))  # the field keeps what the server accepts, no more
    assert len(prompt.input_value()) == limit


@pytest.fixture
def one_slot(browser: Browser, tmp_path: Path) -> Iterator[BrowserPage]:
    """A page on a demo server whose worker runs one job at a time."""
    with running_demo(tmp_path, JOBQUEUE_DEMO_CONCURRENCY="1") as url:
        yield from open_page(browser, url, "light")


def test_a_waiting_job_says_how_many_jobs_are_ahead_and_when_it_starts(
    one_slot: BrowserPage,
) -> None:
    page = one_slot.page
    page.goto("/")
    for n in range(3):
        answer = page.request.post("/api/jobs", data={"payload": {"prompt": f"busy {n}"}})
        assert answer.status == 202

    card = start_job(page, "A red apple on a table")
    message = card.locator(".job-message")
    answer = page.request.post("/api/jobs", data={"payload": {"prompt": "last in line"}})
    last = answer.json()["jobId"]
    starts = r"· starts (in ~\d|any moment)"

    # The estimate joins the position once a job of the task has started lately.
    expect(message).to_have_text(re.compile(rf"^2 ahead of you( in the queue…| {starts})"))
    expect(message).to_have_text(
        re.compile(rf"^(1 ahead of you|Next in line) {starts}"), timeout=15_000
    )
    dashboard = page.context.new_page()
    dashboard.goto(f"/dashboard?job={last}")
    facts = dashboard.locator("#detail-body .facts")
    expect(facts).to_contain_text(re.compile(rf"In the queue(\d ahead|next) {starts}"))
    expect(message).to_have_text(re.compile(rf"^Next in line {starts}"), timeout=15_000)
