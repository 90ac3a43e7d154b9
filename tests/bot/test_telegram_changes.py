"""Telegram changing under the running bot: its token revoked, a group upgraded to a supergroup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from assistant.app import running
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import OutboxMessage, OutboxStatus
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import STUDENT, linked, personal_menu

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


async def outbox_rows(db: Database, chat_id: int) -> list[OutboxMessage]:
    async with db.unit_of_work() as session:
        result = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        )
        return list(result.all())


async def test_a_revoked_token_stops_the_bot_and_its_messages_wait_for_a_new_one(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)) as edge:
        student = await linked(person, invite, STUDENT, language="en")
        await personal_menu(tg, student)
        # Revoked as the answer to /me reaches Telegram.
        tg.on_call("sendMessage", tg.revoke_token, chat_id=student.user.id)
        await tg.user_send(student.user, "/me")
        await asyncio.wait_for(edge.application.bot.token_refused.wait(), 5)
    # The answer was refused with the token (the open long poll too), and nothing else was tried.
    assert tg.calls_to("sendMessage")[-1].status == 401
    assert len([m for m in tg.messages(student.user.id) if m.sender.is_bot]) == 1
    [_, answer] = await outbox_rows(campus, student.user.id)
    assert (answer.status, answer.attempts, answer.last_error) == (OutboxStatus.PENDING, 0, None)

    # The bot comes back with the token @BotFather gave instead.
    async with running(make_application(campus, tg, clock)) as edge:
        reply = await tg.wait_for_bot_message(student.user.id)
        assert reply.text is not None and STUDENT in reply.text
        await edge.sender.stop()
    [_, answer] = await outbox_rows(campus, student.user.id)
    assert (answer.status, answer.attempts) == (OutboxStatus.SENT, 0)
