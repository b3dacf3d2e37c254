"""The JS client on one origin drives a server on another, as the README's CORS setting allows."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser

# Runs in the page: submit to another origin and follow the job there until it ends.
FOLLOW_ELSEWHERE = """
async (baseUrl) => {
  const { createClient } = await import("/jobqueue.js");
  const client = createClient({ baseUrl });
  try {
    const job = await client.submit(null, { prompt: "across origins", width: 64, height: 64 });
    const versions = [];
    const onUpdate = (update) => versions.push(update.version);
    const done = await client.wait(job.jobId, { onUpdate });
    const page = await client.list({ status: "completed", limit: 1 });
    const listed = page.jobs[0].jobId === job.jobId;
    return { status: done.status, updates: versions.length, listed };
  } catch (error) {
    return { error: error.message, status: error.status };
  }
}
"""


def test_a_page_follows_a_job_on_a_server_that_allows_its_origin(
    web: BrowserPage, cors_server: str
) -> None:
    page = web.page
    streams: list[str] = []
    page.on("request", lambda request: streams.append(request.url))
    page.goto("/")

    outcome: dict[str, Any] = page.evaluate(FOLLOW_ELSEWHERE, cors_server)

    assert outcome == {"status": "completed", "updates": outcome["updates"], "listed": True}
    assert outcome["updates"] >= 3
    events = [url for url in streams if url.startswith(f"{cors_server}/api/jobs/events?ids=")]
    assert events, "the job was not followed over Server-Sent Events across origins"


def test_a_server_without_the_setting_refuses_other_origins(
    web: BrowserPage, cors_server: str, demo_server: str
) -> None:
    page = web.page
    web.errors.expect(r"CORS|Failed to load resource|ERR_FAILED")
    # This time the page is served by the CORS server, and the session's server has no setting.
    page.goto(cors_server + "/")

    outcome: dict[str, Any] = page.evaluate(FOLLOW_ELSEWHERE, demo_server)

    assert outcome["status"] == 0
    assert re.match(r"Cannot reach the job server", outcome["error"])
