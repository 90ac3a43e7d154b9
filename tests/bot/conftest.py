"""The real Application, on the real store with the demo campus, talking to the fake Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from assistant import directory
from assistant.app import AssistantApp, Edge, build_application, running
from assistant.bot.context import Deps
from assistant.bot.ratelimit import FloodPolicy
from assistant.config import REPO_ROOT, load_settings
from assistant.rules import CAMPUS_TIMEZONE
from assistant.rules.roles import read_role_rules
from assistant.runner import DEMO_CAMPUS
from assistant.sandbox import FakeRequest, FakeTelegram
from assistant.sandbox.state import FakeUser
from assistant.services import identity
from assistant.storage.db import Database
from assistant.texts import Texts

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_campus() -> directory.OrgData:
    """The demo campus files, read once, its roles checked against the shipped rules."""
    return directory.load_org(DEMO_CAMPUS, read_role_rules(REPO_ROOT / "rules", CAMPUS_TIMEZONE))


@pytest.fixture
async def campus(db: Database, demo_campus: directory.OrgData) -> Database:
    """The store with the demo campus imported."""
    async with db.unit_of_work() as session:
        await directory.import_org(session, demo_campus)
    return db


class Clock:
    """The bot's injectable clock, moved by tests instead of sleeping."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    """The clock the running bot reads."""
    return Clock()


@pytest.fixture
def tg() -> FakeTelegram:
    """A fresh fake Telegram."""
    return FakeTelegram()


def make_application(
    db: Database, tg: FakeTelegram, clock: Clock, **overrides: object
) -> AssistantApp:
    """The real Application on ``db``, talking to ``tg`` in-process (settings may be overridden)."""
    settings = load_settings(database_url=db.url, **overrides)
    deps = Deps(
        settings=settings,
        db=db,
        texts=Texts(settings.conversations_dir, campus=settings.tz, clock=clock),
        clock=clock,
    )
    return build_application(
        deps,
        token=tg.token,
        request=FakeRequest(tg),
        updates_request=FakeRequest(tg),
        # People in tests type faster than anyone could; the edge tests keep the real burst.
        flood_policy=FloodPolicy(private_burst=50),
    )


@pytest.fixture
async def edge(campus: Database, tg: FakeTelegram, clock: Clock) -> AsyncIterator[Edge]:
    """The bot, polling the fake Telegram, until the test ends."""
    async with running(make_application(campus, tg, clock)) as running_edge:
        yield running_edge


@pytest.fixture
def bot(edge: Edge) -> AssistantApp:
    """The running bot's Application."""
    return edge.application


@dataclass
class Chat:
    """Acts as one person in the fake Telegram and reads the bot's answers."""

    tg: FakeTelegram
    user: FakeUser

    async def say(self, text: str, chat_id: int | None = None) -> str:
        """Send ``text`` (privately unless ``chat_id``) and return the bot's next answer."""
        chat = self.tg.chat(chat_id) if chat_id is not None else None
        await self.tg.user_send(self.user, text, chat)
        # New messages only: edits (a step's buttons taken away) are not answers.
        reply = await self.tg.wait_for_bot_message(
            chat_id or self.user.id, timeout=5, predicate=lambda m: m.edit_date is None
        )
        assert reply.text is not None
        return reply.text


@pytest.fixture
def person(tg: FakeTelegram) -> Callable[..., Chat]:
    """A new Telegram user to act as: ``person("Alice", language_code="en")``."""

    def make(first_name: str = "Test", language_code: str | None = None) -> Chat:
        return Chat(tg, tg.add_user(first_name, language_code=language_code))

    return make


@pytest.fixture
def invite(campus: Database, clock: Clock) -> Callable[[str], object]:
    """``await invite(number)`` makes a fresh invite token for that person."""

    async def make(number: str) -> str:
        async with campus.unit_of_work() as session:
            _, token = await identity.invite_number(
                session, number, now=clock(), ttl=timedelta(days=14)
            )
        return token

    return make
