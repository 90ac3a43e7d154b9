"""The edge that loses nothing, in process: repeats, poison updates, and Telegram saying no."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from assistant.app import Edge
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import (
    InboxStatus,
    InboxUpdate,
    OutboxMessage,
    OutboxStatus,
    TelegramAccount,
)
from tests.bot.conftest import Chat, Clock
from tests.bot.test_identity import STUDENT, linked, personal_menu

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
ADMIN = "T0027"


async def outbox_rows(db: Database, chat_id: int) -> list[OutboxMessage]:
    async with db.unit_of_work() as session:
        result = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        )
        return list(result.all())


async def test_an_update_delivered_twice_has_one_effect(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    tg.duplicate_deliveries = True
    for _ in range(3):
        await student.say("/me")
    tg.duplicate_deliveries = False
    await tg.wait_until(lambda: not tg.state.redeliveries)
    # Updates of one chat are handled in order: once this is answered, the repeats were seen.
    assert "Community Assistant can do this" in await student.say("/help")
    assert tg.pending_bot_messages(student.user.id) == []
    replies = [m for m in tg.messages(student.user.id) if m.sender.is_bot]
    assert len(replies) == 1 + 3 + 1  # linked, three /me, /help
    # And the menu queued with the link.
    assert len(await outbox_rows(campus, student.user.id)) == 1 + 5


async def test_a_poison_update_is_parked_and_the_admins_told(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    admin = await linked(person, invite, ADMIN, language="en")
    poison = tg.inject_update({"message": {"message_id": 7, "text": "no chat, no date"}})
    notice = await tg.wait_for_bot_message(admin.user.id)
    assert notice.text is not None
    # PTB cannot read it: no later try would either, so it is parked at once.
    assert f"Update {poison['update_id']} could not be handled (1 attempt)" in notice.text
    async with campus.unit_of_work() as session:
        row = await session.get(InboxUpdate, poison["update_id"])
    assert row is not None and row.status is InboxStatus.PARKED
    assert row.attempts == 1 and row.last_error and row.retry_at is None
    # Everything else goes on.
    assert "郑博嘉" in await (await linked(person, invite, STUDENT)).say("/me")


async def test_network_errors_are_retried_when_their_time_comes(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT)
    tg.inject_fault("sendMessage", "5xx", count=2)
    await tg.user_send(student.user, "/me")
    await tg.wait_until(lambda: len(tg.calls_to("sendMessage")) == 2)  # linked + a failure
    # Retries wait for their time on the bot's clock, which only the test moves.
    clock.advance(timedelta(seconds=2))
    edge.sender.kick()
    await tg.wait_until(lambda: len(tg.calls_to("sendMessage")) == 3)
    assert tg.pending_bot_messages(student.user.id) == []
    clock.advance(timedelta(seconds=4))
    edge.sender.kick()
    reply = await tg.wait_for_bot_message(student.user.id)
    assert reply.text is not None and "郑博嘉" in reply.text
    await edge.sender.stop()  # lets the call in flight record its outcome
    row = (await outbox_rows(campus, student.user.id))[-1]
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)


async def test_a_blocked_recipient_is_marked_unreachable_not_retried(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT)
    tg.inject_fault("sendMessage", "403_blocked", chat_id=student.user.id)
    await tg.user_send(student.user, "/me")

    async def unreachable() -> OutboxMessage:
        return (await outbox_rows(campus, student.user.id))[-1]

    await tg.wait_until(lambda: tg.calls_to("sendMessage")[-1].status == 403)
    await edge.dispatcher.stop()  # settle: nothing else in flight
    await edge.sender.stop()
    row = await unreachable()
    assert row.status is OutboxStatus.UNREACHABLE
    assert "blocked" in (row.last_error or "")
    async with campus.unit_of_work() as session:
        account = await session.scalar(
            select(TelegramAccount).where(TelegramAccount.telegram_user_id == student.user.id)
        )
        assert account is not None and account.unreachable_since is not None
        total = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert total == 3  # the link's menu and answer, then /me's


async def test_a_429_halts_all_sending_for_the_time_asked(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT)
    tg.inject_fault("sendMessage", "429", retry_after=1)
    await tg.user_send(student.user, "/me")
    reply = await tg.wait_for_bot_message(student.user.id)
    assert reply.text is not None and "郑博嘉" in reply.text
    sends = tg.calls_to("sendMessage")
    refused = next(c for c in sends if c.status == 429)
    after = [c for c in sends if c.time > refused.time]
    assert after and all(c.time >= refused.time + 1 for c in after)


@pytest.mark.parametrize("refused_method", ["answerCallbackQuery", "sendMessage"])
async def test_a_429_to_any_call_halts_every_call(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, refused_method: str
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await personal_menu(tg, student)
    keyboards = []
    for _ in range(2):
        await tg.user_send(student.user, "/lang")
        keyboards.append(await tg.wait_for_bot_message(student.user.id))
    first, second = keyboards
    tg.inject_fault(refused_method, "429", retry_after=1)
    presses = []
    if refused_method == "answerCallbackQuery":
        presses.append(await tg.user_press(student.user, first, first.button_data("English")))
    else:
        await tg.user_send(student.user, "/me")
    await tg.wait_until(lambda: any(c.status == 429 for c in tg.calls))
    refused = next(c for c in tg.calls if c.status == 429)
    # Then everything else: a new poll, an edit, a menu, an answer to a press, a reply.
    presses.append(await tg.user_press(student.user, second, second.button_data("中文")))
    await tg.user_send(student.user, "/help")
    for query_id in presses:
        await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(student.user.id, predicate=lambda m: "社区助手" in (m.text or ""))
    after = tg.calls[tg.calls.index(refused) + 1 :]
    assert {c.method for c in after} >= {
        refused_method,
        "getUpdates",
        "editMessageText",
        "setMyCommands",
        "answerCallbackQuery",
        "sendMessage",
    }
    halted = [c for c in after if c.time < refused.time + 1]
    assert [(c.method, round(c.time - refused.time, 3)) for c in halted] == []
    assert any(c.method == refused_method and c.status == 200 for c in after)
