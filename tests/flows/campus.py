"""What the flows' property tests set up alike: the demo campus with some of its people linked
to Telegram, the files the bot loads at start, the acting person, and units of work on the
test database, committed for the set-up or discarded so that every example starts from the
same rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from assistant import directory
from assistant.app import Files, load_files
from assistant.config import Settings, load_settings
from assistant.domain import Actor, Language
from assistant.flows.engine import Engine, Screen
from assistant.rules import Rules
from assistant.runner import DEMO_CAMPUS
from assistant.services import identity
from assistant.services.approvals import Approvals
from assistant.services.kit import Kit
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import TelegramAccount
from assistant.texts import Texts

_Service = TypeVar("_Service")


class _Discard(Exception):
    """Leaves an example's unit of work without committing."""


@asynccontextmanager
async def committed(url: str) -> AsyncIterator[AsyncSession]:
    """A unit of work on the database at ``url``, committed when the block ends."""
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            yield session
    finally:
        await db.dispose()


@asynccontextmanager
async def discarded(url: str) -> AsyncIterator[AsyncSession]:
    """A unit of work on the database at ``url``, rolled back when the block ends: an example
    leaves nothing behind for the next one."""
    db = Database(url)
    try:
        async with db.unit_of_work() as session:
            yield session
            raise _Discard
    except _Discard:
        pass
    finally:
        await db.dispose()


async def link(session: AsyncSession, people: Mapping[int, str], now: datetime) -> dict[int, int]:
    """Import the demo campus and link each Telegram id of ``people`` to the person with that
    staff or student number; the person ids by Telegram id."""
    await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
    ids = {}
    for telegram_id, number in people.items():
        person = await repo.person_by_number(session, number)
        assert person is not None
        ids[telegram_id] = person.id
        session.add(
            TelegramAccount(person_id=person.id, telegram_user_id=telegram_id, linked_at=now)
        )
    return ids


async def set_up(url: str, people: Mapping[int, str], now: datetime) -> None:
    """The demo campus with ``people`` linked, committed at ``url``."""
    async with committed(url) as session:
        await link(session, people, now)


async def type_and_press(
    engine: Engine,
    session: AsyncSession,
    actor: Actor,
    chat: int,
    text: str,
    data: str,
    now: datetime,
) -> Screen:
    """Type ``text`` into the running conversation, then press a button that came back with
    ``data``: whatever they are, each gets an answer. The screen shown last."""
    typed = await engine.text(session, actor, chat, text, now=now, language="en")
    assert typed is not None and typed.send, "a typed answer always gets an answer"
    assert all(screen.text.strip() for screen in typed.send)
    pressed = await engine.press(session, actor, chat, data, now=now, language="en")
    assert pressed.send or pressed.toast is not None or pressed.edit is not None
    return (pressed.send or typed.send)[-1]


async def submit_all(
    engine: Engine,
    session: AsyncSession,
    actor: Actor,
    chat: int,
    screen: Screen,
    now: datetime,
    language: Language = "en",
) -> None:
    """Press every Submit ``screen`` shows: each press gets an answer."""
    buttons = [b for row in screen.buttons for b in row if b.data.endswith(":s:")]
    for button in buttons:
        done = await engine.press(session, actor, chat, button.data, now=now, language=language)
        assert done.send and all(s.text.strip() for s in done.send)


async def actor(session: AsyncSession, telegram_id: int) -> Actor:
    """The person linked to ``telegram_id``, as they act now."""
    found = await identity.actor_for(session, telegram_id)
    assert found is not None
    return found


@dataclass(frozen=True)
class Loaded:
    """What the bot loads at start for the database at a URL: its settings, texts and files."""

    settings: Settings
    texts: Texts
    files: Files

    @property
    def engine(self) -> Engine:
        """The conversation engine of the loaded files."""
        return self.files.engine

    def service(self, make: Callable[[Rules, Texts, Language, tzinfo], _Service]) -> _Service:
        """A service made, as the bot makes it, from the rules, texts, language and campus zone."""
        return make(self.files.rules, self.texts, self.settings.language, self.settings.tz)

    def kit(self, approvals: Approvals | None = None) -> Kit:
        """The kit the services share, with the loaded approvals unless given others."""
        return Kit(
            self.files.rules,
            self.texts,
            self.settings.language,
            self.settings.tz,
            self.files.approvals if approvals is None else approvals,
        )


def load(url: str, now: datetime | None = None) -> Loaded:
    """Load the rule and conversation files as the bot does, for the database at ``url``;
    messages read the campus clock as of ``now`` (the real clock without it)."""
    settings = load_settings(database_url=url)
    clock = (lambda: now) if now is not None else None
    texts = Texts(settings.conversations_dir, campus=settings.tz, clock=clock)
    return Loaded(settings, texts, load_files(settings, texts))
