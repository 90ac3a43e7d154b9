"""The HTTP face: PTB over real HTTP, raw requests, webhook delivery, the client API, the CLI."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from assistant.sandbox import FakeTelegram, FakeTelegramServer
from assistant.sandbox.entities import JSONDict
from assistant.sandbox.server import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
async def server(tg: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    server = FakeTelegramServer(tg, webhook_initial_backoff=0.01, webhook_max_backoff=0.05)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http_bot(tg: FakeTelegram, server: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=server.api_url, base_file_url=server.file_url) as bot:
        yield bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_ptb_over_http_sends_uploads_and_downloads(
    tg: FakeTelegram, http_bot: Bot, png: Callable[[int, int], bytes]
) -> None:
    alice = tg.add_user("Alice")
    await tg.user_send(alice, "hi")
    sent = await http_bot.send_message(alice.id, "<b>Hello</b>", parse_mode="HTML")
    assert sent.text == "Hello" and sent.entities[0].type == "bold"
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await http_bot.send_message(1, "nobody")

    image = png(4, 3)
    photo = await http_bot.send_photo(alice.id, image, caption="multipart")
    file = await http_bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == image


async def test_raw_requests_in_every_encoding(
    tg: FakeTelegram, server: FakeTelegramServer, http: aiohttp.ClientSession
) -> None:
    alice = tg.add_user("Alice")
    await tg.user_send(alice, "hi")
    api = f"{server.api_url}{tg.token}"
    keyboard = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}

    async with http.post(
        f"{api}/sendMessage", json={"chat_id": alice.id, "text": "json", "reply_markup": keyboard}
    ) as response:
        body = await response.json()
    assert body["result"]["reply_markup"] == keyboard
    async with http.get(f"{api}/sendmessage", params={"chat_id": alice.id, "text": "query"}) as r:
        assert (r.status, (await r.json())["result"]["text"]) == (200, "query")
    async with http.post(
        f"{api}/sendMessage", data={"chat_id": str(alice.id), "text": "form"}
    ) as r:
        assert (await r.json())["result"]["text"] == "form"

    tg.inject_fault("sendMessage", "429", retry_after=3)
    async with http.post(f"{api}/sendMessage", data={"chat_id": str(alice.id), "text": "x"}) as r:
        assert (r.status, r.headers["Retry-After"]) == (429, "3")
        assert (await r.json())["parameters"] == {"retry_after": 3}
    async with http.get(f"{server.api_url}1:WRONG/getMe") as r:
        assert (r.status, await r.json()) == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
    async with http.get(f"{api}/noSuchMethod") as r:
        assert (r.status, (await r.json())["description"]) == (404, "Not Found: method not found")


async def test_application_polls_over_http(tg: FakeTelegram, server: FakeTelegramServer) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None and update.message.text is not None
        await update.message.reply_text(update.message.text.upper())

    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(server.api_url)
        .base_file_url(server.file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    alice = tg.add_user("Alice")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling()
        try:
            await tg.user_send(alice, "quiet please")
            reply = await tg.wait_for_bot_message(alice.id)
        finally:
            await app.updater.stop()
            await app.stop()
    assert reply.text == "QUIET PLEASE"


async def test_webhook_delivery_with_secret_and_retries(tg: FakeTelegram, http_bot: Bot) -> None:
    received: asyncio.Queue[tuple[str | None, str, JSONDict]] = asyncio.Queue()
    failures_left = 1

    async def hook(request: web.Request) -> web.Response:
        nonlocal failures_left
        if failures_left:
            failures_left -= 1
            return web.Response(status=500)
        await received.put(
            (request.headers.get(SECRET_HEADER), request.content_type, await request.json())
        )
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        alice = tg.add_user("Alice")
        await tg.user_send(alice, "queued before the webhook")
        assert await http_bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cr3t")
        await tg.user_send(alice, "sent after")
        async with asyncio.timeout(5):
            first = await received.get()
            second = await received.get()
        await tg.wait_until(lambda: not tg.pending_updates())
        info = await http_bot.get_webhook_info()
    finally:
        await runner.cleanup()

    assert first[:2] == second[:2] == ("s3cr3t", "application/json")
    texts = [update["message"]["text"] for _, _, update in (first, second)]
    assert texts == ["queued before the webhook", "sent after"]
    assert [first[2]["update_id"], second[2]["update_id"]] == [1, 2]
    assert info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_client_api_acts_as_people(
    tg: FakeTelegram, server: FakeTelegramServer, http: aiohttp.ClientSession, bot: Bot
) -> None:
    base = f"{server.base_url}/sandbox"

    async def post(path: str, body: dict[str, Any]) -> Any:
        async with http.post(f"{base}/{path}", json=body) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    alice = await post("users", {"first_name": "Alice", "language_code": "en"})
    bob = await post("users", {"first_name": "Bob"})
    said = await post("messages", {"user_id": alice["id"], "text": "/start"})
    assert said["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    group = await post("groups", {"title": "Hall", "member_ids": [alice["id"], bob["id"]]})
    assert group["type"] == "group" and group["id"] < 0

    yes = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    sent = await bot.send_message(alice["id"], "Agree?", reply_markup=yes)
    pressed = await post(
        "presses",
        {
            "user_id": alice["id"],
            "chat_id": alice["id"],
            "message_id": sent.message_id,
            "callback_data": "y",
        },
    )
    query_id = pressed["callback_query_id"]
    async with http.get(f"{base}/presses/{query_id}") as response:
        assert await response.json() == {"answered": False}
    await bot.answer_callback_query(query_id, "Thanks")
    async with http.get(f"{base}/presses/{query_id}") as response:
        assert await response.json() == {"answered": True, "text": "Thanks", "show_alert": False}

    async with http.get(f"{base}/chats/{alice['id']}/messages") as response:
        assert [m["text"] for m in await response.json()] == ["/start", "Agree?"]
    async with http.get(f"{base}/users") as response:
        assert [u["started_bot"] for u in await response.json()] == [True, False]
    async with http.get(f"{base}/chats") as response:
        assert {c["type"] for c in await response.json()} == {"private", "group"}
    async with http.post(f"{base}/messages", json={"user_id": 1, "text": "x"}) as response:
        assert (response.status, await response.json()) == (404, {"error": "unknown user 1"})
    async with http.post(f"{base}/messages", json={"user_id": alice["id"]}) as response:
        assert (response.status, await response.json()) == (400, {"error": "text must be a str"})


async def test_server_listens_only_on_loopback(tg: FakeTelegram) -> None:
    with pytest.raises(ValueError, match="loopback"):
        await FakeTelegramServer(tg).start(host="0.0.0.0")


async def test_command_line_server(http: aiohttp.ClientSession) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant.sandbox.server",
        "--port",
        "0",
        "--token",
        "42:CLI-TOKEN",
        stdout=asyncio.subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            base_url = (await process.stdout.readline()).decode().strip()
        async with http.get(f"{base_url}/bot42:CLI-TOKEN/getMe") as response:
            assert (await response.json())["result"]["id"] == 42
    finally:
        process.terminate()
        async with asyncio.timeout(10):
            assert await process.wait() == 0


def test_command_line_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--flood-limits" in capsys.readouterr().out
