"""Telegram changing under the running bot: its token revoked, a group upgraded to a supergroup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from assistant.app import Edge, running
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeChat
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, GroupChat, OutboxMessage, OutboxStatus
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import FLOOR_1_LEADER, STUDENT, linked, personal_menu

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


async def outbox_rows(db: Database, chat_id: int) -> list[OutboxMessage]:
    """The messages queued to ``chat_id`` (not a person's menu)."""
    async with db.unit_of_work() as session:
        result = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.method == "sendMessage")
            .order_by(OutboxMessage.id)
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


async def test_a_token_revoked_as_a_press_is_answered_stops_the_bot_without_a_traceback(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await personal_menu(tg, student)
    await tg.user_send(student.user, "/lang")
    choice = await tg.wait_for_bot_message(student.user.id)
    tg.on_call("answerCallbackQuery", tg.revoke_token)
    await tg.user_press(student.user, choice, choice.button_data("English"))
    await asyncio.wait_for(edge.application.bot.token_refused.wait(), 5)
    await edge.dispatcher.stop()
    # The runner says it in one line; nothing else complains.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def bound_group(tg: FakeTelegram, leader: Chat) -> FakeChat:
    """A basic group with ``leader`` in it, bound to their floor, whose creator never linked."""
    group = await tg.add_group("1号楼1层", [tg.add_user("Owner"), leader.user])
    await tg.wait_for_bot_message(group.id)
    assert "已绑定到1号楼 1 层" in await leader.say("/bind", group.id)
    return group


async def bindings(db: Database) -> tuple[list[int], list[dict[str, int]]]:
    """The bound chats, and the audit of upgrades."""
    async with db.unit_of_work() as session:
        chats = (await session.scalars(select(GroupChat.chat_id))).all()
        upgrades = (
            await session.scalars(
                select(AuditEntry.detail).where(AuditEntry.action == "group.migrate")
            )
        ).all()
    return list(chats), list(upgrades)


async def test_a_group_upgraded_to_a_supergroup_keeps_its_floor(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER)
    group = await bound_group(tg, leader)
    supergroup = tg.migrate_to_supergroup(group)
    # The binding followed: /leaders in the supergroup knows its floor.
    assert "徐梦" in await leader.say("/leaders", supergroup.id)
    assert await bindings(campus) == ([supergroup.id], [{"from": group.id, "to": supergroup.id}])


async def test_a_message_to_a_group_upgraded_meanwhile_reaches_the_supergroup(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER)
    group = await bound_group(tg, leader)
    upgraded: list[FakeChat] = []
    # Upgraded just as the answer reaches Telegram, before the bot hears of it.
    tg.on_call(
        "sendMessage", lambda: upgraded.append(tg.migrate_to_supergroup(group)), chat_id=group.id
    )
    await tg.user_send(leader.user, "/leaders", group)
    await tg.wait_until(lambda: bool(upgraded))
    [supergroup] = upgraded
    answer = await tg.wait_for_bot_message(supergroup.id)
    assert answer.text is not None and "徐梦" in answer.text
    assert [c.status for c in tg.calls_to("sendMessage")][-2:] == [400, 200]
    await edge.sender.stop()
    [*_, row] = await outbox_rows(campus, supergroup.id)
    assert (row.status, row.attempts, row.payload["chat_id"]) == (
        OutboxStatus.SENT,
        0,
        supergroup.id,
    )
    assert await outbox_rows(campus, group.id) != []
    assert await bindings(campus) == ([supergroup.id], [{"from": group.id, "to": supergroup.id}])
