"""Fixtures for the sandbox tests: a fresh fake Telegram and PTB objects wired to it."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder

from assistant.sandbox import FakeRequest, FakeTelegram
from assistant.sandbox.flood import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    """The sandbox clock of the ``tg`` fixture."""
    return ManualClock()


@pytest.fixture
def tg(clock: ManualClock) -> FakeTelegram:
    """A fresh fake Telegram on a controlled clock."""
    return FakeTelegram(clock=clock)


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    """A real PTB Bot talking to ``tg`` in-process."""
    async with Bot(tg.token, request=FakeRequest(tg), get_updates_request=FakeRequest(tg)) as bot:
        yield bot


@pytest.fixture
def timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opts into PTB's timedelta durations (e.g. RetryAfter.retry_after), as PTB advises."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
def app(tg: FakeTelegram) -> AnyApplication:
    """A real PTB Application whose requests go to ``tg``; add handlers, then poll."""
    return (
        ApplicationBuilder()
        .token(tg.token)
        .request(FakeRequest(tg))
        .get_updates_request(FakeRequest(tg))
        .build()
    )


@asynccontextmanager
async def _polling(app: AnyApplication) -> AsyncIterator[None]:
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling()
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()


@pytest.fixture
def polling() -> Callable[[AnyApplication], AbstractAsyncContextManager[None]]:
    """``async with polling(app):`` runs the Application with long polling for the block."""
    return _polling


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def png() -> Callable[[int, int], bytes]:
    """Makes a small valid grey PNG of a given width and height."""
    return _png
