"""An update whose handling fails: nothing it wrote stays, it is tried again later and later (its
chat's next updates waiting, other chats not), then parked with an apology in the person's own
language. The handler that fails is a test's, put first in the bot's handlers: it writes through
the services, queues a reply, then raises as a lock that was not freed in time would."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import CommandHandler

from assistant import app as app_module
from assistant.app import AssistantApp, Edge, running
from assistant.bot.context import BotContext
from assistant.bot.intake import Dispatcher
from assistant.sandbox import FakeTelegram
from assistant.services import identity
from assistant.storage.db import Database
from assistant.storage.models import (
    AuditEntry,
    InboxStatus,
    InboxUpdate,
    OutboxMessage,
    TelegramAccount,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import FLOOR_1_LEADER, STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
ATTEMPTS = 4
SORRY_EN = "Sorry, something went wrong while handling your request."


class Boom:
    """``/boom``: changes the person's language, audits, queues a reply; the first ``fails``
    attempts then raise."""

    def __init__(self, application: AssistantApp, fails: int) -> None:
        self.fails = fails
        self.at: list[datetime] = []
        self._called = asyncio.Condition()
        application.handlers[0].insert(0, CommandHandler("boom", self.handle))

    async def handle(self, update: Update, context: BotContext) -> None:
        assert context.actor is not None
        self.at.append(context.now())
        await identity.set_language(context.session, context.actor.person_id, "zh-CN")
        context.session.add(
            AuditEntry(at=context.now(), actor_person_id=context.actor.person_id, action="boom")
        )
        context.reply(update, "lang_set")
        await context.session.flush()
        async with self._called:
            self._called.notify_all()
        if len(self.at) <= self.fails:
            raise RuntimeError("lock wait timeout exceeded")

    async def attempts(self, count: int) -> None:
        """Wait until the handler has been called ``count`` times."""
        async with self._called:
            await asyncio.wait_for(self._called.wait_for(lambda: len(self.at) >= count), 5)


@pytest.fixture
def one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bot handles one update at a time: a waiting update must not hold the only slot."""
    monkeypatch.setattr(
        app_module,
        "Dispatcher",
        functools.partial(Dispatcher, concurrency=1, max_attempts=ATTEMPTS),
    )


@pytest.fixture
async def edge(
    one_at_a_time: None, campus: Database, tg: FakeTelegram, clock: Clock
) -> AsyncIterator[Edge]:
    async with running(make_application(campus, tg, clock)) as running_edge:
        yield running_edge


async def after_backoff(edge: Edge, clock: Clock, boom: Boom, delays: list[int]) -> None:
    """Move the bot's clock through ``delays``, each time waiting for the next try."""
    for delay in delays:
        clock.advance(timedelta(seconds=delay))
        edge.dispatcher.kick()
        await boom.attempts(len(boom.at) + 1)


async def written(db: Database, chat: Chat) -> tuple[str | None, int, list[str]]:
    """The person's language, the boom audit rows, and the texts queued to them."""
    async with db.unit_of_work() as session:
        language = await session.scalar(
            select(TelegramAccount.language).where(TelegramAccount.telegram_user_id == chat.user.id)
        )
        audits = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "boom"))
        ).all()
        payloads = (
            await session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.chat_id == chat.user.id, OutboxMessage.method == "sendMessage")
                .order_by(OutboxMessage.id)
            )
        ).all()
    return language, len(audits), [p["text"] for p in payloads]


async def boom_row(db: Database) -> InboxUpdate:
    async with db.unit_of_work() as session:
        row = await session.scalar(
            select(InboxUpdate).where(InboxUpdate.payload["message"]["text"].as_string() == "/boom")
        )
    assert row is not None
    return row


async def test_a_handler_that_writes_then_raises_keeps_nothing_backs_off_then_parks(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    other = await linked(person, invite, FLOOR_1_LEADER)
    boom = Boom(edge.application, fails=ATTEMPTS)
    await tg.user_send(student.user, "/boom")
    await tg.user_send(student.user, "/me")
    await boom.attempts(1)
    # Another chat goes on while this one waits, though one update at a time is handled.
    assert "徐梦" in await other.say("/me")
    assert tg.pending_bot_messages(student.user.id) == []
    row = await boom_row(campus)
    assert (row.status, row.attempts, row.retry_at) == (
        InboxStatus.PENDING,
        1,
        boom.at[0] + timedelta(seconds=1),
    )

    await after_backoff(edge, clock, boom, [1, 2, 4])
    assert [later - earlier for earlier, later in pairwise(boom.at)] == [
        timedelta(seconds=s) for s in (1, 2, 4)
    ]
    # Parked: the person is told in their own language, then their next update is answered.
    apology = await tg.wait_for_bot_message(student.user.id)
    assert apology.text is not None and apology.text.startswith(SORRY_EN)
    me = await tg.wait_for_bot_message(student.user.id)
    assert me.text is not None and STUDENT in me.text and "Dorm:" in me.text
    row = await boom_row(campus)
    assert (row.status, row.attempts, row.retry_at) == (InboxStatus.PARKED, ATTEMPTS, None)
    # Nothing any attempt wrote stayed: language, audit, the reply.
    language, audits, texts = await written(campus, student)
    assert (language, audits) == ("en", 0)
    assert not any("Language set" in text for text in texts)
    assert [text.startswith(SORRY_EN) for text in texts] == [False, True, False]


async def test_a_failure_that_passes_is_handled_when_its_time_comes_even_after_a_restart(
    one_at_a_time: None,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    campus: Database,
) -> None:
    first = make_application(campus, tg, clock)
    boom = Boom(first, fails=2)
    async with running(first):
        student = await linked(person, invite, STUDENT, language="en")
        await tg.user_send(student.user, "/boom")
        await boom.attempts(1)
    # The next try's time is kept with the update: a new run keeps to it.
    second = make_application(campus, tg, clock)
    restarted = Boom(second, fails=1)
    async with running(second) as edge:
        other = await linked(person, invite, FLOOR_1_LEADER)
        assert "徐梦" in await other.say("/me")
        assert restarted.at == []
        await after_backoff(edge, clock, restarted, [1, 2])
        done = await tg.wait_for_bot_message(student.user.id)
    assert done.text is not None and "Language set" in done.text
    row = await boom_row(campus)
    assert (row.status, row.attempts, row.retry_at) == (
        InboxStatus.DONE,
        2,
        boom.at[0] + timedelta(seconds=3),
    )
    language, audits, _ = await written(campus, student)
    assert (language, audits) == ("zh-CN", 1)
