"""The bot's aiohttp transport: PTB's calls over real HTTP, uploads, timeouts, network errors."""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TimedOut

from assistant.bot.transport import AiohttpRequest
from assistant.sandbox import FakeTelegram, FakeTelegramServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tiny_png() -> bytes:
    """A valid 2x1 PNG, so that the fake stores a real photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[int]:
    """A local HTTP server answering every request with ``handler``; its port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@pytest.fixture
async def server(tg: FakeTelegram) -> AsyncIterator[FakeTelegramServer]:
    server = FakeTelegramServer(tg)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_calls_uploads_and_errors_go_through_ptb(
    tg: FakeTelegram, server: FakeTelegramServer
) -> None:
    alice = tg.add_user("Alice")
    await tg.user_send(alice, "hi")
    request = AiohttpRequest(connection_pool_size=4)
    async with Bot(
        tg.token, base_url=server.api_url, base_file_url=server.file_url, request=request
    ) as bot:
        sent = await bot.send_message(alice.id, "<b>你好</b> hello", parse_mode="HTML")
        assert (sent.text, sent.entities[0].type) == ("你好 hello", "bold")
        assert tg.messages(alice.id)[-1].text == "你好 hello"

        image = tiny_png()
        photo = await bot.send_photo(alice.id, image, caption="multipart")
        assert photo.caption == "multipart"
        # Downloads are GET requests through the same transport.
        file = await bot.get_file(photo.photo[-1].file_id)
        assert bytes(await file.download_as_bytearray()) == image

        # Telegram's refusals reach PTB as the error it raises for them.
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await bot.send_message(1, "nobody")
    # Shut down with the bot; it opens again for the next one.
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{server.api_url}{tg.token}/getMe", "POST")


async def test_a_silent_server_times_out_and_a_closed_port_is_a_network_error() -> None:
    never = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        async with serving(silent) as port:
            with pytest.raises(TimedOut):
                await request.do_request(f"http://127.0.0.1:{port}/botx/getMe", "POST")
            never.set()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        with pytest.raises(NetworkError, match=r"^aiohttp\.ClientConnectorError"):
            await request.do_request(f"http://127.0.0.1:{closed}/botx/getMe", "POST")
    finally:
        never.set()
        await request.shutdown()


async def test_calls_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        # A proxy is asked for the whole URL; this one answers as Telegram would.
        seen.append(str(request.url))
        return web.json_response({"ok": True, "result": True})

    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    request = AiohttpRequest()
    await request.initialize()
    try:
        async with serving(proxy) as port:
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
            status, body = await request.do_request("http://telegram.invalid/botx/close", "POST")
    finally:
        await request.shutdown()
    assert (status, body) == (200, b'{"ok": true, "result": true}')
    assert seen == ["http://telegram.invalid/botx/close"]


async def test_hosts_no_proxy_names_are_called_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def telegram(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": True})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    # A proxy nobody answers at: a call through it would fail.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.delenv("no_proxy", raising=False)
    request = AiohttpRequest()
    await request.initialize()
    try:
        async with serving(telegram) as port:
            status, _ = await request.do_request(f"http://127.0.0.1:{port}/botx/close", "POST")
    finally:
        await request.shutdown()
    assert status == 200
