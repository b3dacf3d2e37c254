"""A page that watches many jobs follows them all over one EventSource (jobqueue.js)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser

# Runs before the page's own scripts: every EventSource the page makes is recorded.
COUNT_EVENT_SOURCES = """
(() => {
  const Original = window.EventSource;
  window.openedStreams = [];
  window.EventSource = class extends Original {
    constructor(url, init) {
      super(url, init);
      window.openedStreams.push(String(url));
    }
  };
})();
"""

# Runs in the page: watch every job at once until each has ended.
WATCH_ALL = """
async (ids) => {
  const { watch } = await import("/jobqueue.js");
  const updates = {};
  const finals = await Promise.all(
    ids.map(
      (id) =>
        new Promise((resolve, reject) => {
          watch(
            id,
            (job) => {
              updates[id] = (updates[id] ?? 0) + 1;
              if (["completed", "failed", "cancelled"].includes(job.status)) resolve(job.status);
            },
            { onError: (error, { willRetry }) => willRetry || reject(error.message) },
          );
        }),
    ),
  );
  return { finals, updates: ids.map((id) => updates[id]), streams: window.openedStreams };
}
"""


def test_ten_watched_jobs_share_one_event_source(web: BrowserPage, api: httpx.Client) -> None:
    page = web.page
    page.add_init_script(COUNT_EVENT_SOURCES)
    page.goto("/")
    ids = []
    for n in range(10):
        body = {"payload": {"prompt": f"one of ten, {n}", "width": 64, "height": 64}}
        submitted = api.post("/api/jobs", json=body)
        assert submitted.status_code == 202, submitted.text
        ids.append(submitted.json()["jobId"])

    outcome: dict[str, Any] = page.evaluate(WATCH_ALL, ids)

    assert outcome["finals"] == ["completed"] * 10
    assert all(count >= 2 for count in outcome["updates"]), outcome["updates"]
    assert len(outcome["streams"]) == 1, outcome["streams"]
    assert outcome["streams"][0].endswith("/api/jobs/events?ids=" + "%2C".join(ids))
