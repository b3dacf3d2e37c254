"""A page without an API key follows jobs over Server-Sent Events with read tokens
(``?token=`` on the one EventSource), on a server that wants keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser.conftest import USER_KEY
from tests.browser.test_many_watches import COUNT_EVENT_SOURCES

if TYPE_CHECKING:
    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser

# Runs in the page: follow each job with a client that holds only *token*.
WATCH_WITH_TOKEN = """
async ({ ids, token }) => {
  const { createClient } = await import("/jobqueue.js");
  const client = createClient({ token });
  const finals = await Promise.all(
    ids.map((id) => client.wait(id).then((job) => job.status, (error) => error.status)),
  );
  const refused = await client.cancel(ids[0]).then(() => null, (error) => error.status);
  return { finals, refused, streams: window.openedStreams };
}
"""


def test_a_tag_token_streams_every_job_of_the_page(
    keyed_web: BrowserPage, keyed_server: str
) -> None:
    page = keyed_web.page
    keyed_web.errors.expect(r"status of 403 .*/cancel")  # the refusal the test asks for
    page.add_init_script(COUNT_EVENT_SOURCES)
    page.goto("/")
    with httpx.Client(
        base_url=keyed_server, headers={"Authorization": f"Bearer {USER_KEY}"}, timeout=30
    ) as backend:
        ids = []
        for n in range(3):
            body = {"payload": {"prompt": f"token {n}", "width": 64, "height": 64}}
            submitted = backend.post("/api/jobs", json={**body, "tags": ["page-1"]})
            assert submitted.status_code == 202, submitted.text
            assert submitted.json()["readToken"]
            ids.append(submitted.json()["jobId"])
        token = backend.post("/api/jobs/tokens", json={"tags": ["page-1"]}).json()["token"]

    outcome: dict[str, Any] = page.evaluate(WATCH_WITH_TOKEN, {"ids": ids, "token": token})

    assert outcome["finals"] == ["completed"] * 3
    assert outcome["refused"] == 403  # a token only reads
    assert len(outcome["streams"]) == 1, outcome["streams"]
    stream = httpx.URL(outcome["streams"][0])
    assert stream.path == "/api/jobs/events"
    assert stream.params["token"] == token
    assert stream.params["ids"] == ",".join(ids)


def test_a_job_token_from_the_submit_answer_streams_that_job(
    keyed_web: BrowserPage, keyed_server: str
) -> None:
    page = keyed_web.page
    keyed_web.errors.expect(r"status of 403 .*/cancel")
    page.add_init_script(COUNT_EVENT_SOURCES)
    page.goto("/")
    headers = {"Authorization": f"Bearer {USER_KEY}"}
    body = {"payload": {"prompt": "one job", "width": 64, "height": 64}}
    submitted = httpx.post(f"{keyed_server}/api/jobs", json=body, headers=headers).json()
    ids, token = [submitted["jobId"]], submitted["readToken"]

    outcome: dict[str, Any] = page.evaluate(WATCH_WITH_TOKEN, {"ids": ids, "token": token})

    assert outcome["finals"] == ["completed"]
    assert [httpx.URL(url).params["token"] for url in outcome["streams"]] == [token]
