"""The web chat in a real browser (Debian's Chromium driven by Playwright).

Some tests run the real sandbox (`assistant run` without a token) as a first-time visitor would,
on a phone and on a desktop; two run the page in-process to check how it shows what the bot
sends (documents too). The screenshots each test saves under its tmp_path are there to be looked
at.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload, Page, async_playwright, expect
from telegram import Bot

from assistant.sandbox import FakeChat, FakeTelegram, FakeUser
from assistant.sandbox.webchat import SandboxPerson, Suggestion, WebChat, Words

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STUDENT = "2023010001"  # 郑博嘉 of the demo campus
FLOOR_1_LEADER = "2023010004"  # 徐梦, floor leader of B1-1
B1_FLOOR_3_LEADER = "2023020001"  # 高艳芳
# Migrating and importing the demo campus, then linking everyone, on a slow machine.
START_TIMEOUT = 120.0
UI_TIMEOUT = 15_000  # milliseconds, as Playwright counts


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _wait_for_line(process: asyncio.subprocess.Process, needle: str, stderr: Path) -> None:
    """Reads stdout until a line contains ``needle``; fails with what was printed if none does."""
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while line := await process.stdout.readline():
                lines.append(line.decode().rstrip())
                if needle in lines[-1]:
                    return
            # Its stdout closed: the sandbox is ending, so its exit status tells why.
            ended = f"exited with status {await process.wait()}"
    except TimeoutError:
        ended = f"is still starting after {START_TIMEOUT:.0f} s"
    _fail_to_start(f"the sandbox {ended} without printing {needle}", lines, stderr)


def _fail_to_start(problem: str, stdout: list[str], stderr: Path) -> None:
    output = "\n".join(stdout)
    pytest.fail(f"{problem}.\nstdout:\n{output}\nstderr:\n{stderr.read_text(errors='replace')}")


async def _drain(stream: asyncio.StreamReader) -> None:
    # A full pipe would block the sandbox's next print.
    while await stream.readline():
        pass


@dataclass(frozen=True)
class Sandbox:
    """A running `assistant run` without a token."""

    url: str
    """The web chat's."""
    api: str
    """The fake Telegram's, whose /sandbox/ client API shows its users and chats."""
    process: asyncio.subprocess.Process


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """`assistant run` without a token in a fresh folder, once it has given the page's address."""
    web_port, api_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{web_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env["PYTHONUNBUFFERED"] = "1"
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "assistant", "run"],
            *["--port", str(api_port), "--web-port", str(web_port)],
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    assert process.stdout is not None
    drain: asyncio.Task[None] | None = None
    try:
        await _wait_for_line(process, url, stderr)
        drain = asyncio.create_task(_drain(process.stdout))
        yield Sandbox(url, f"http://127.0.0.1:{api_port}", process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if drain is not None:
            await drain


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, which Playwright drives (it may download no browser of its own here)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (scripts/browser-deps); "
            "run `sh scripts/browser-deps` to install it"
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """A headless Chromium."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


async def test_a_student_changes_the_language_in_the_browser(
    browser: Browser, sandbox: Sandbox, tmp_path: Path
) -> None:
    screenshot = tmp_path / "webchat.png"
    page = await browser.new_page()
    await page.goto(sandbox.url)
    await page.get_by_test_id("search").fill(STUDENT)
    await page.get_by_test_id(f"person-{STUDENT}").click()
    await expect(page.get_by_test_id("me-name")).to_have_text("郑博嘉")
    await page.get_by_test_id("composer").fill("/lang")
    await page.get_by_test_id("send").click()

    bot_messages = page.locator('[data-testid="message"][data-from="bot"]')
    offer = bot_messages.filter(has=page.get_by_test_id("button")).last
    await expect(offer.get_by_test_id("button")).to_have_text(
        ["中文", "English"], timeout=UI_TIMEOUT
    )
    message_id = await offer.get_attribute("data-message-id")
    await offer.get_by_test_id("button").filter(has_text="English").click()

    # The same bubble changes: still one message with that id, now with the new text.
    same = page.locator(f'[data-testid="message"][data-message-id="{message_id}"]')
    await expect(same.get_by_test_id("message-text")).to_have_text(
        "Language set to English.", timeout=UI_TIMEOUT
    )
    await expect(same).to_have_count(1)
    await page.screenshot(path=screenshot, full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert screenshot.stat().st_size > 1000

    sandbox.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await sandbox.process.wait() == 0


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200, url
        return await response.json()


async def test_everyone_is_linked_before_the_page_is_announced(sandbox: Sandbox) -> None:
    people = (await _get(f"{sandbox.url}/api/people"))["people"]
    users = [user for user in await _get(f"{sandbox.api}/sandbox/users") if not user["is_bot"]]
    assert len(users) == len(people) and all(user["started_bot"] for user in users)
    # Nobody has been on the page yet, and the floor leader's link is already answered.
    [leader] = [p["name"] for p in people if p["key"] == FLOOR_1_LEADER]
    [user_id] = [user["id"] for user in users if user["first_name"] == leader]
    messages = await _get(f"{sandbox.api}/sandbox/chats/{user_id}/messages")
    assert [m["from"]["is_bot"] for m in messages][:2] == [False, True]


@dataclass(frozen=True)
class Screen:
    """A browser window a first-time visitor might use."""

    name: str
    width: int
    height: int
    locale: str
    phone: bool


PHONE = Screen("phone", 390, 844, "zh-CN", phone=True)
DESKTOP = Screen("desktop", 1280, 800, "en-US", phone=False)
# What the page shows for the words the tests look for, in each of its languages.
WORDS = {
    "zh-CN": {
        "title": "选一个人来扮演",
        "counsellor": "辅导员",
        "floor": "1号楼3层 层长",
        "leader": "1号楼3层 层长",
    },
    "en": {
        "title": "Pick someone to be",
        "counsellor": "counsellor",
        "floor": "building 1 floor 3 floor leader",
        "leader": "Floor leader, Building 1 floor 3",
    },
}


async def _find(page: Page, language: str, shots: Path) -> None:
    """Searches the picker for the counsellors, then for the leader of one floor."""
    words = WORDS[language]
    await expect(page.locator("h1")).to_have_text(words["title"])
    await page.get_by_test_id("search").fill(words["counsellor"])
    found = page.locator('[data-testid^="person-"]')
    await expect(found.first).to_be_visible()
    counsellors = await found.all_inner_texts()
    assert len(counsellors) >= 6 and all(words["counsellor"] in t.lower() for t in counsellors)
    await expect(page.get_by_test_id("person-T0005")).to_contain_text(
        "第一社区" if language == "zh-CN" else "Community 1"
    )
    await page.screenshot(path=shots / f"search-counsellor-{language}.png")
    await page.get_by_test_id("search").fill(words["floor"])
    await expect(found).to_have_count(1)
    await expect(page.get_by_test_id(f"person-{B1_FLOOR_3_LEADER}")).to_contain_text(
        words["leader"]
    )
    await page.screenshot(path=shots / f"search-floor-{language}.png")
    # A room's number finds who lives there, not everyone whose student number holds it.
    await page.get_by_test_id("search").fill("301")
    await expect(found.first).to_be_visible()
    homes = await found.get_by_test_id("home").all_inner_texts()
    assert homes and all("301" in home for home in homes)
    await page.get_by_test_id("search").fill("")


async def _in_view(page: Page, test_id: str) -> None:
    await expect(page.get_by_test_id(test_id)).to_be_in_viewport(ratio=1)


@pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=lambda screen: screen.name)
async def test_a_first_time_visitor_finds_people_tries_things_and_chats(
    browser: Browser, sandbox: Sandbox, tmp_path: Path, screen: Screen
) -> None:
    listing = await _get(f"{sandbox.url}/api/people")
    people = {p["key"]: p for p in listing["people"]}
    tries = {s["kind"]: s for s in listing["suggestions"]}
    context = await browser.new_context(
        viewport={"width": screen.width, "height": screen.height},
        locale=screen.locale,
        is_mobile=screen.phone,
        has_touch=screen.phone,
    )
    page = await context.new_page()
    await page.goto(sandbox.url)
    # The page speaks the browser's language, and the other one at a tap.
    first = "zh-CN" if screen.locale == "zh-CN" else "en"
    second = "en" if first == "zh-CN" else "zh-CN"
    await expect(page.locator("html")).to_have_attribute("lang", first)
    await page.screenshot(path=tmp_path / f"picker-{first}.png")
    await page.locator("#everyone").evaluate("heading => heading.scrollIntoView()")
    await page.screenshot(path=tmp_path / f"picker-{first}-everyone.png")
    await _find(page, first, tmp_path)
    await page.get_by_test_id("language").click()
    await expect(page.locator("html")).to_have_attribute("lang", second)
    await page.screenshot(path=tmp_path / f"picker-{second}.png")
    await _find(page, second, tmp_path)

    student = people[tries["report"]["key"]]
    await page.get_by_test_id("try-report").click()
    await expect(page.get_by_test_id("chat-title")).to_have_text("Community Assistant")
    await expect(page.get_by_test_id("composer")).to_have_value("/report")
    # Who is being played stays in sight, and so does the whole message box.
    acting = "acting-name" if screen.phone else "me-name"
    await expect(page.get_by_test_id(acting)).to_have_text(student["name"])
    await _in_view(page, acting)
    for part in ("composer-bar", "composer", "send", "commands"):
        await _in_view(page, part)
    await expect(page.get_by_test_id("ready-hint")).to_be_visible()
    await page.screenshot(path=tmp_path / f"try-report-{second}.png")
    bot_messages = page.locator('[data-testid="message"][data-from="bot"]')
    before = await bot_messages.count()
    await page.get_by_test_id("send").click()
    await expect(page.locator('[data-from="me"]').last).to_contain_text("/report")
    await expect(bot_messages).not_to_have_count(before, timeout=UI_TIMEOUT)
    await expect(page.get_by_test_id("ready-hint")).to_be_hidden()
    await page.screenshot(path=tmp_path / f"reporting-{second}.png")
    # However long the chat grows, the message box stays put and the newest message in sight.
    before = await bot_messages.count()
    await page.get_by_test_id("composer").fill("/help")
    await page.get_by_test_id("composer").press("Enter")
    await expect(bot_messages).not_to_have_count(before, timeout=UI_TIMEOUT)
    for part in ("composer-bar", "composer", "send"):
        await _in_view(page, part)
    await expect(bot_messages.last).to_be_in_viewport()
    await page.screenshot(path=tmp_path / f"help-{second}.png")

    # The chat list: on a phone one tap away, on a desktop in sight; the language switch with it.
    group = page.locator('[data-testid^="chat--"]')
    if screen.phone:
        await expect(group).to_be_hidden()
        await page.get_by_test_id("open-chats").click()
        await page.screenshot(path=tmp_path / f"chats-{second}.png")
    await expect(group).to_be_visible()
    await page.get_by_test_id("language").click()
    await expect(page.locator("html")).to_have_attribute("lang", first)
    await page.screenshot(path=tmp_path / f"chats-{first}.png")
    title = (await group.locator(".name").inner_text()).strip()
    await group.click()
    await expect(page.get_by_test_id("chat-title")).to_have_text(title)
    await _in_view(page, "composer-bar")
    await page.screenshot(path=tmp_path / f"group-{first}.png")

    await page.get_by_test_id("acting-switch" if screen.phone else "switch-person").click()
    counsellor = people[tries["approve"]["key"]]
    await page.get_by_test_id("try-approve").click()
    await expect(page.get_by_test_id(acting)).to_have_text(counsellor["name"])
    await expect(page.get_by_test_id("composer")).to_have_value("/pending")
    await page.screenshot(path=tmp_path / f"try-approve-{first}.png")
    await context.close()


class OneStudent:
    """One student, alone with the bot in their floor's group chat."""

    person = SandboxPerson(
        STUDENT,
        "郑博嘉",
        group=Words("学生", "Students"),
        label=Words("学生", "Student"),
        home=Words("1号楼301室", "Building 1 room 301"),
    )

    def __init__(self, tg: FakeTelegram) -> None:
        self.tg = tg
        self.user: FakeUser | None = None
        self.group: FakeChat | None = None

    async def list_people(self) -> list[SandboxPerson]:
        return [self.person]

    async def suggestions(self) -> list[Suggestion]:
        return []

    async def become(self, key: str) -> FakeUser:
        if self.user is None:
            self.user = self.tg.add_user(self.person.name)
            self.group = await self.tg.add_group("1号楼 3层 B1-3", [self.user])
        return self.user


async def test_the_page_shows_formatting_edits_photos_and_groups(
    browser: Browser, tg: FakeTelegram, bot: Bot, png: Callable[[int, int], bytes]
) -> None:
    people = OneStudent(tg)
    webchat = WebChat(tg, people)
    page = await browser.new_page()
    try:
        await page.goto(await webchat.start(port=0))
        await page.get_by_test_id(f"person-{STUDENT}").click()
        await expect(page.get_by_test_id("chat-title")).to_have_text(tg.bot.first_name)
        assert people.user is not None and people.group is not None
        user_id, group_id = people.user.id, people.group.id
        # Bots may only write to people who wrote to them first.
        await page.get_by_test_id("composer").fill("/start")
        await page.get_by_test_id("composer").press("Enter")
        await expect(page.locator('[data-from="me"]')).to_have_count(1)

        sent = await bot.send_message(
            user_id,
            "<b>粗体</b> <i>斜体 <code>code</code></i> <a href='https://example.edu/a'>链接</a>"
            " &lt;img src=x onerror=alert(1)&gt; <a href='javascript:alert(1)'>坏链接</a>",
            parse_mode="HTML",
        )
        text = page.locator(f'[data-message-id="{sent.message_id}"] [data-testid="message-text"]')
        await expect(text.locator("strong")).to_have_text("粗体")
        await expect(text.locator("em > code")).to_have_text("code")
        await expect(text.locator("a")).to_have_count(1)
        await expect(text.locator("a")).to_have_attribute("href", "https://example.edu/a")
        await expect(text).to_contain_text("<img src=x onerror=alert(1)> 坏链接")
        await expect(page.locator("#messages img")).to_have_count(0)

        await bot.edit_message_text("改好了 / edited", chat_id=user_id, message_id=sent.message_id)
        await expect(text).to_have_text("改好了 / edited")
        await expect(page.locator('[data-from="bot"]')).to_have_count(1)

        await page.get_by_test_id("photo-input").set_input_files(
            files=FilePayload(name="room.png", mimeType="image/png", buffer=png(40, 30))
        )
        photo = page.locator('[data-from="me"] [data-testid="photo"]')
        await expect(photo).to_have_count(1)
        await expect(photo).to_have_js_property("naturalWidth", 40)  # loaded from the server

        await bot.send_message(group_id, "今晚 8 点开层会 / Floor meeting at 8 pm")
        group = page.get_by_test_id(f"chat-{group_id}")
        await expect(group.get_by_test_id("unread")).to_have_text("1")
        await group.click()
        await expect(page.get_by_test_id("message-text")).to_have_text(
            "今晚 8 点开层会 / Floor meeting at 8 pm"
        )
    finally:
        await page.close()
        await webchat.stop()


async def test_documents_show_as_cards_that_download_the_bytes_sent(
    browser: Browser, tg: FakeTelegram, bot: Bot, tmp_path: Path
) -> None:
    people = OneStudent(tg)
    webchat = WebChat(tg, people)
    url = await webchat.start(port=0)
    calendar = b"BEGIN:VCALENDAR\r\nSUMMARY:Party-history quiz\r\nEND:VCALENDAR\r\n" * 30
    sheet = bytes(range(256)) * 12
    long_name = "第一社区1号楼2026年秋季学期各楼层值班安排与党团活动室预约情况汇总表（终稿）.xlsx"
    try:
        desktop = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = await desktop.new_page()
        await page.goto(url)
        await page.get_by_test_id(f"person-{STUDENT}").click()
        assert people.user is not None
        user_id = people.user.id
        await page.get_by_test_id("composer").fill("/start")
        await page.get_by_test_id("composer").press("Enter")
        await expect(page.locator('[data-from="me"]')).to_have_count(1)

        ics = await bot.send_document(
            user_id, calendar, filename="activity-1.ics", caption="E-1 · Party-history quiz"
        )
        await bot.send_document(user_id, sheet, filename=long_name)
        assert ics.document is not None
        await bot.send_document(user_id, ics.document.file_id)  # sent again by its file_id
        cards = page.get_by_test_id("document")
        await expect(cards).to_have_count(3)
        await expect(cards.get_by_test_id("document-name")).to_have_text(
            ["activity-1.ics", long_name, "activity-1.ics"]
        )
        await expect(cards.get_by_test_id("document-size")).to_have_text(
            ["1.8 KB · Download", "3 KB · Download", "1.8 KB · Download"]
        )
        first = page.locator(f'[data-message-id="{ics.message_id}"]')
        await expect(first.get_by_test_id("message-text")).to_have_text("E-1 · Party-history quiz")
        await page.screenshot(path=tmp_path / "documents-desktop.png")
        downloads = [("activity-1.ics", calendar), (long_name, sheet), ("activity-1.ics", calendar)]
        for index, (name, data) in enumerate(downloads):
            async with page.expect_download() as waiting:
                await cards.nth(index).click()
            download = await waiting.value
            assert download.suggested_filename == name
            assert await asyncio.to_thread((await download.path()).read_bytes) == data

        phone = await browser.new_context(
            viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
        )
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_test_id(f"person-{STUDENT}").click()
        cards = page.get_by_test_id("document")
        await expect(cards.get_by_test_id("document-size")).to_have_text(
            ["1.8 KB · 下载", "3 KB · 下载", "1.8 KB · 下载"]
        )
        # The long name takes at most two lines and the card stays inside the screen.
        name = cards.nth(1).get_by_test_id("document-name")
        box = await name.bounding_box()
        line = await name.evaluate("node => parseFloat(getComputedStyle(node).lineHeight)")
        card = await cards.nth(1).bounding_box()
        assert box is not None and card is not None
        assert box["height"] <= 2 * line + 1
        assert card["x"] + card["width"] <= 390
        await page.screenshot(path=tmp_path / "documents-phone.png")
    finally:
        await webchat.stop()
