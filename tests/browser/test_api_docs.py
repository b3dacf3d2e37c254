"""/docs (Swagger UI) and /redoc (ReDoc) render the API without a request to another host."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Request

    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_reference_renders_offline(web: BrowserPage, path: str) -> None:
    # ReDoc's menu shows Redocly's logo from its CDN; the page's policy blocks it.
    web.errors.expect(r"Loading the image 'https://cdn\.redoc\.ly/.* has been blocked")
    requested: list[str] = []
    blocked: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    def record_blocked(request: Request) -> None:
        if request.failure == "csp":  # refused by the page's policy before it was sent
            blocked.append(request.url)

    web.page.on("request", record)
    web.page.on("requestfailed", record_blocked)
    web.page.goto(path)

    for operation in ("Submit a job", "Follow a job (Server-Sent Events)"):
        shown = web.page.get_by_text(operation, exact=True).filter(visible=True)
        expect(shown.first).to_be_visible()
    web.page.wait_for_load_state("networkidle")
    assert any(url.endswith("/openapi.json") for url in requested)
    sent = [url for url in requested if urlsplit(url).scheme != "blob" and url not in blocked]
    assert {urlsplit(url).hostname for url in sent} == {"127.0.0.1"}, sent
