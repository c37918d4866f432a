"""Mobile first: at 390 px (a common phone width) no page scrolls sideways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

from tests.conftest import Platform
from tests.e2e.portal import no_horizontal_scroll
from tests.e2e.tour import full_tour

PHONE = {"width": 390, "height": 844}


def test_no_page_scrolls_sideways_at_390_px(
    browser: Browser, browser_context_args: dict[str, Any], platform: Platform, artifacts: Path
) -> None:
    folder = artifacts / "mobile-390"
    folder.mkdir(exist_ok=True)
    too_wide: dict[str, int] = {}

    def visit(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        overflow = no_horizontal_scroll(page)
        if overflow > 0:
            too_wide[name] = overflow

    args = {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True}
    full_tour(browser, args, platform, visit, "Petra Lange")
    assert too_wide == {}, f"pages wider than 390 px (excess in px): {too_wide}"
