"""The bot as a real subprocess (``python -m assistant run``) against the HTTP fake Telegram."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assistant import directory
from assistant.runner import DEMO_CAMPUS
from assistant.sandbox import FakeTelegram, FakeTelegramServer
from assistant.sandbox.state import FakeUser
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import TelegramAccount

READY = "Community Assistant is running"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class BotProcess:
    """One ``assistant run`` at a time; start, kill -9, restart, terminate."""

    tg: FakeTelegram
    env: dict[str, str]
    cwd: Path
    starts: int = 0
    process: asyncio.subprocess.Process | None = None
    logs: list[Path] = field(default_factory=list)

    async def start(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - one deadline
        """Start the bot and wait until it says it is running."""
        self.starts += 1
        log = self.cwd / f"bot-{self.starts}.log"
        self.logs.append(log)
        with log.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "assistant",
                "run",
                env=self.env,
                cwd=self.cwd,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"the bot exited at start:\n{log.read_text()}")
                if READY in line.decode():
                    return

    async def kill(self) -> None:
        """kill -9: no chance to clean up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def terminate(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109 - the 10 s promise
        """SIGTERM, and the exit code it stopped with within ``timeout``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    async def exited(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109 - one deadline
        """The exit code of a bot that stops by itself, within ``timeout``."""
        assert self.process is not None
        async with asyncio.timeout(timeout):
            return await self.process.wait()

    def stderr(self) -> str:
        """Everything the runs logged."""
        return "\n".join(log.read_text(errors="replace") for log in self.logs)


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    """The HTTP fake Telegram in this process."""
    fake = FakeTelegramServer(FakeTelegram(), webhook_max_backoff=0.5)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def bot_process(
    db: Database, server: FakeTelegramServer, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    """A bot process to start (not started yet), on the test database with the demo campus."""
    async with db.unit_of_work() as session:
        await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "TELEGRAM_"))}
    env.update(
        ASSISTANT_DATABASE_URL=db.url,
        TELEGRAM_BOT_TOKEN=server.tg.token,
        TELEGRAM_API_BASE_URL=server.api_url,
        TELEGRAM_API_FILE_URL=server.file_url,
    )
    process = BotProcess(server.tg, env, tmp_path)
    try:
        yield process
    finally:
        if process.process is not None and process.process.returncode is None:
            process.process.kill()
            await process.process.wait()


Residents = Callable[[int], Awaitable[list[FakeUser]]]


@pytest.fixture
def residents(db: Database, server: FakeTelegramServer) -> Residents:
    """``await residents(n)``: n demo residents, each linked to a new Telegram user."""

    async def make(count: int) -> list[FakeUser]:
        async with db.unit_of_work() as session:
            people = [p for p in await repo.listings(session) if p.room][:count]
            assert len(people) == count
            users = []
            for listing in people:
                user = server.tg.add_user(listing.name, language_code="en")
                person = await repo.person_by_number(session, listing.number)
                assert person is not None
                session.add(
                    TelegramAccount(
                        person_id=person.id,
                        telegram_user_id=user.id,
                        linked_at=datetime.now(UTC),
                    )
                )
                users.append(user)
        return users

    return make
