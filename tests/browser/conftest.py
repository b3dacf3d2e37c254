"""Fixtures of the browser suite: a real ``jobqueue demo`` server and headless Chromium.

The server is a subprocess (uvicorn and a worker in one process, SQLite in a temporary
directory) shared by the session. Chromium is Debian's package, driven by Playwright for
Python; when it is missing the ``browser`` tests skip with the reason, except under
``CI=true``, where they fail. Every page a test opens is watched for script errors and
console errors, and a test fails if one appears that it did not declare expected.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import IN_CI
from tests.support.processes import ROOT, free_port, stop, wait_healthy

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, ConsoleMessage, Error, Page, Playwright

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path(os.environ.get("JOBQUEUE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Each demo job paints 20 steps; shorter steps keep the suite quick while progress stays visible.
STEP_SECONDS = "0.2"


@contextlib.contextmanager
def running_demo(workdir: Path, **env: str) -> Iterator[str]:
    """Run ``jobqueue demo`` (its own SQLite file in *workdir*); yield its base URL."""
    port = free_port()
    log = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "jobqueue",
        "demo",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{workdir / 'x.db'}",
        "--log-level",
        "warning",
    ]
    environ = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "JOBQUEUE_DEMO_STEP_SECONDS": STEP_SECONDS,
        **env,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="package")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running ``jobqueue demo`` shared by the session."""
    with running_demo(tmp_path_factory.mktemp("demo-server")) as url:
        yield url


@pytest.fixture(scope="package")
def cors_server(tmp_path_factory: pytest.TempPathFactory, demo_server: str) -> Iterator[str]:
    """A second demo server, on another origin, that allows `demo_server`'s pages to call it."""
    workdir = tmp_path_factory.mktemp("cors-server")
    with running_demo(workdir, JOBQUEUE_CORS_ORIGINS=demo_server) as url:
        yield url


ADMIN_KEY = "admin-key-for-the-dashboard"
USER_KEY = "user-key-that-may-not-list"


@pytest.fixture(scope="package")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo server that wants API keys: `ADMIN_KEY` (admin) and `USER_KEY`."""
    workdir = tmp_path_factory.mktemp("keyed-server")
    with running_demo(
        workdir,
        JOBQUEUE_ADMIN_API_KEYS=ADMIN_KEY,
        JOBQUEUE_API_KEYS=USER_KEY,
        JOBQUEUE_SECRET="a-secret-for-the-tests-only",
    ) as url:
        yield url


@pytest.fixture
def api(demo_server: str) -> Iterator[httpx.Client]:
    """An HTTP client for the demo server's API, to act beside the page."""
    with httpx.Client(base_url=demo_server, timeout=30) as client:
        yield client


def require_chromium() -> None:
    """Skip (or, under CI, fail) when Debian's chromium is not installed."""
    if CHROMIUM.exists():
        return
    reason = (
        f"Chromium is not installed at {CHROMIUM} (apt-get update && apt-get install -y chromium)"
    )
    if IN_CI:
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(reason)


# Package scope, not session: Playwright's sync API keeps an event loop running in the
# main thread while it is open, which would break every later test that runs its own.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@dataclass
class PageErrors:
    """Script errors and console errors seen on a page; `expect` declares the anticipated ones."""

    seen: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        self.expected.append(re.compile(pattern))

    def on_page_error(self, error: Error) -> None:
        self.seen.append(f"pageerror: {error.message}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location.get("url", "")
            self.seen.append(f"console error: {message.text} ({location})")

    def unexpected(self) -> list[str]:
        return [text for text in self.seen if not any(p.search(text) for p in self.expected)]


@dataclass
class BrowserPage:
    """A fresh page on the demo server and the errors it reports."""

    page: Page
    errors: PageErrors
    base_url: str

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot under artifacts/screenshots/ (git-ignored)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path


def open_page(browser: Browser, demo_server: str, color_scheme: str) -> Iterator[BrowserPage]:
    """A fresh page on *demo_server* and the errors it reports, checked when it closes."""
    context = browser.new_context(
        base_url=demo_server,
        viewport={"width": 1280, "height": 900},
        color_scheme=color_scheme,  # type: ignore[arg-type]
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = PageErrors()
    page.on("pageerror", errors.on_page_error)
    page.on("console", errors.on_console)
    try:
        yield BrowserPage(page, errors, demo_server)
        unexpected = errors.unexpected()
        assert not unexpected, f"errors on the page: {unexpected}"
    finally:
        context.close()


@pytest.fixture
def web(browser: Browser, demo_server: str) -> Iterator[BrowserPage]:
    """A page in a fresh browser context (light colour scheme), failing on unexpected errors."""
    yield from open_page(browser, demo_server, "light")


@pytest.fixture
def dark_web(browser: Browser, demo_server: str) -> Iterator[BrowserPage]:
    """Like `web`, with the dark colour scheme."""
    yield from open_page(browser, demo_server, "dark")


@pytest.fixture
def keyed_web(browser: Browser, keyed_server: str) -> Iterator[BrowserPage]:
    """Like `web`, on `keyed_server`."""
    yield from open_page(browser, keyed_server, "light")
