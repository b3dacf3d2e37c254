"""Every page loads in Chromium, light and dark, without a script or console error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from tests.browser.conftest import BrowserPage

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_page_loads_cleanly_in_light_mode(web: BrowserPage, path: str) -> None:
    web.page.goto(path)
    expect(web.page.locator("main")).to_be_visible()
    web.page.wait_for_load_state("networkidle")
    assert web.errors.seen == []


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_page_loads_cleanly_in_dark_mode(dark_web: BrowserPage, path: str) -> None:
    dark_web.page.goto(path)
    expect(dark_web.page.locator("main")).to_be_visible()
    background = dark_web.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 15, 22)", "the dark colour scheme is applied"
    assert dark_web.errors.seen == []


def test_the_demo_is_usable_by_keyboard_alone(web: BrowserPage) -> None:
    page = web.page
    page.goto("/")
    # The first Tab reaches the skip link, which leads to the prompt.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the prompt")).to_be_focused()
    page.keyboard.press("Enter")
    prompt = page.get_by_label("Prompt", exact=True)
    expect(prompt).to_be_focused()
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Enter")
    card = page.locator(".job").first
    expect(card).to_be_visible()
    expect(prompt).to_be_focused()
    expect(prompt).to_have_value("")
    # Tab moves through the form's controls to the card's Cancel button.
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.textContent") == "Cancel":
            break
    expect(card.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(card).to_have_attribute("data-status", "cancelled")
