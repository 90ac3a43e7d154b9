"""/book's calendar as a person sees it: the sandbox's web chat in Debian's Chromium at a phone's
size (390×844), the real bot behind it; a screenshot is kept under the test's tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from assistant.app import Edge
from assistant.demo import DemoPeople
from assistant.sandbox import FakeTelegram
from assistant.sandbox.webchat import WebChat
from assistant.storage.db import Database
from tests.bot.conftest import Clock
from tests.bot.test_booking import struck

CHROMIUM = Path("/usr/bin/chromium")
STUDENT = "2023010001"  # 郑博嘉, who lives in building 1
UI_TIMEOUT = 15_000  # milliseconds, as Playwright counts


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium (Playwright may download no browser of its own here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `sh scripts/browser-deps` to install it")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """A headless Chromium."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium),
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            headless=True,
        )
        try:
            yield browser
        finally:
            await browser.close()


async def test_the_calendar_of_book_on_a_phone(
    edge: Edge,
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    browser: Browser,
    tmp_path: Path,
) -> None:
    # Tuesday 1 December 2026, 16:00 campus time.
    clock.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    webchat = WebChat(tg, DemoPeople(tg, campus))
    page = await browser.new_page(viewport={"width": 390, "height": 844})
    try:
        await page.goto(await webchat.start(port=0))
        await page.get_by_test_id("search").fill(STUDENT)
        await page.get_by_test_id(f"person-{STUDENT}").click()
        await expect(page.get_by_test_id("me-name")).to_have_text("郑博嘉")
        await page.get_by_test_id("composer").fill("/book")
        await page.get_by_test_id("send").click()

        bot = page.locator('[data-testid="message"][data-from="bot"]')
        await (
            bot.last.get_by_test_id("button")
            .filter(has_text="党团活动室")
            .click(timeout=UI_TIMEOUT)
        )
        await expect(bot.last).to_contain_text("请选择房间", timeout=UI_TIMEOUT)
        await bot.last.get_by_test_id("button").filter(has_text="商学院党团活动室").click()
        days = bot.last
        await expect(days).to_contain_text("哪一天", timeout=UI_TIMEOUT)
        keys = days.get_by_test_id("button")
        # The month, the weekdays, five weeks of days, Back and Cancel.
        await expect(keys).to_have_count(1 + 7 + 35 + 2)
        labels = await keys.all_inner_texts()
        assert labels[:8] == ["2026年12月", "一", "二", "三", "四", "五", "六", "日"]
        # Today marked; weekends (closed) and days past the 14 days ahead struck through.
        assert labels[8:15] == ["·", "•1", "2", "3", "4", struck("5"), struck("6")]
        assert labels[36:43] == [*map(struck, ("28", "29", "30", "31")), "·", "·", "·"]
        assert all(label.strip() for label in labels)
        screenshot = tmp_path / "calendar.png"
        await days.scroll_into_view_if_needed()
        await page.screenshot(path=screenshot)
        # Each week is one row of seven keys, as many as the weekdays above them.
        rows = days.locator(".keyboard-row")
        for week in range(1, 7):
            await expect(rows.nth(week).get_by_test_id("button")).to_have_count(7)
        assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    finally:
        await page.close()
        await webchat.stop()
