"""Broadcasts through the running bot: /broadcast to one floor reaches exactly its residents and
its group chat, the sender watches one message count up and end as the delivery report, cancels
mid-way, and nobody else can cancel it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from assistant.app import Edge, running
from assistant.domain import BroadcastStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeChat, FakeMessage
from assistant.services.broadcasts import CANCEL_SURE
from assistant.storage.db import Database
from assistant.storage.models import (
    AuditEntry,
    Broadcast,
    Firing,
    FiringStatus,
    OutboxMessage,
    OutboxStatus,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, FLOOR_3_LEADER, STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

# Everyone living on floor 3 of building B1 (rooms B1-301 and B1-302); the floor leader too.
FLOOR_3 = ["2022010002", "2022010003", "2022010004", "2022010005", "2023010006", FLOOR_3_LEADER]
FLOOR_4_RESIDENT = "2023010008"  # B1-401
C2_STUDENT = "2024010006"  # B2-102, community C2
C1_WORKSTATION_HEAD = "T0004"
NOTICE = "Fire drill tonight at 20:00 <bring your ID>"


def labels(message: FakeMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def group_bound_by(tg: FakeTelegram, chat: Chat, title: str, command: str) -> FakeChat:
    group = await tg.add_group(title, [chat.user])
    await tg.wait_for_bot_message(group.id)
    reply = await chat.say(command, group.id)
    assert "已绑定" in reply or "now bound" in reply
    return group


async def broadcast_to_floor_3(
    tg: FakeTelegram, counsellor: Chat, channels: str, *, groups: int
) -> FakeMessage:
    """Walk /broadcast to floor B1-3 (``groups`` bound group chats there), everyone, by
    ``channels``; returns the progress message."""
    await tg.user_send(counsellor.user, "/broadcast")
    level = await prompt(tg, counsellor)
    assert level.text == "Send a broadcast\n\nWhere to? Choose the level."
    # A counsellor speaks for their community and what is in it: no college, not the school.
    assert labels(level) == ["A floor", "A building", "A community", "A grid cell", "✖ Cancel"]
    where = await press(tg, counsellor, level, "A floor")
    assert labels(where)[:4] == [f"Building 1, floor {n}" for n in range(1, 5)]
    assert not any("Building 2" in label for label in labels(where))
    # Another community's floor is not among the choices, typed or pressed.
    await tg.user_send(counsellor.user, "B2-1")
    again = await prompt(tg, counsellor)
    assert (again.text or "").startswith("Please choose with the buttons below.")
    # (A typed code is an answer too.)
    await tg.user_send(counsellor.user, "B1-3")
    who = await prompt(tg, counsellor)
    how = await press(tg, counsellor, who, "Everyone living there")
    assert labels(how)[:3] == [
        "People (6)",
        f"Group chats ({groups})",
        f"Both ({6 + groups} messages)",
    ]
    await press(tg, counsellor, how, channels)
    await tg.user_send(counsellor.user, NOTICE)
    summary = await prompt(tg, counsellor)
    assert summary.text is not None
    assert "Where: Building 1, floor 3" in summary.text and f"How: {channels}" in summary.text
    assert NOTICE in summary.text
    progress = await press(tg, counsellor, summary, "✔ Submit")
    started = await prompt(tg, counsellor)
    assert started.text is not None and started.text.startswith("Broadcast A-1 has started")
    return progress


async def reported(edge: Edge, tg: FakeTelegram, chat: Chat, word: str) -> FakeMessage:
    """Run the ticker until the progress message is edited to a text with ``word``.

    The sender records outcomes just after Telegram has the messages, so a sweep may come a
    moment early; each wait is bounded.
    """
    for _ in range(50):
        await edge.ticker.run_once()
        try:
            return await tg.wait_for_bot_message(
                chat.user.id,
                timeout=0.1,
                predicate=lambda m: m.edit_date is not None and word in (m.text or ""),
            )
        except TimeoutError:
            continue
    raise AssertionError(f"the progress message never said {word!r}")


async def asked_to_cancel(
    tg: FakeTelegram, chat: Chat, progress: FakeMessage, button: str
) -> FakeMessage:
    """Press Cancel (``button``) on the progress message; the message as it asks, once edited."""
    query = await tg.user_press(chat.user, progress, progress.button_data(button))
    assert (await tg.wait_for_callback_answer(query)).text is None
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.message_id == progress.message_id and len(labels(m)) == 2,
    )


def got_notice(tg: FakeTelegram, chat_id: int) -> bool:
    return any(NOTICE in (m.text or "") for m in tg.messages(chat_id))


async def stored(db: Database) -> tuple[Broadcast, list[OutboxStatus]]:
    async with db.unit_of_work() as session:
        broadcast = await session.scalar(select(Broadcast))
        assert broadcast is not None
        rows = await session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.ref == "bc:1")
        )
        return broadcast, sorted(rows.all())


async def audited(db: Database, action: str) -> list[AuditEntry]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def test_a_floor_broadcast_reaches_exactly_that_floor_and_its_group_chat(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    residents = [await linked(person, invite, number) for number in FLOOR_3]
    others = [
        await linked(person, invite, number)
        for number in (STUDENT, FLOOR_1_LEADER, FLOOR_4_RESIDENT, C2_STUDENT)
    ]
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    floor_3_leader, floor_1_leader = residents[-1], others[1]
    floor_3_group = await group_bound_by(tg, floor_3_leader, "1号楼3层", "/bind")
    floor_1_group = await group_bound_by(tg, floor_1_leader, "1号楼1层", "/bind")
    # A building's group is above the floor, not inside it: it hears nothing of a floor's notice.
    building_group = await group_bound_by(tg, counsellor, "1号楼", "/bind B1")
    # One resident has blocked the bot since they last wrote.
    blocked = residents[0]
    tg.inject_fault("sendMessage", "403_blocked", chat_id=blocked.user.id)

    progress = await broadcast_to_floor_3(tg, counsellor, "Both (7 messages)", groups=1)
    assert progress.text == "📣 Broadcast A-1: 0 / 7 sent"
    assert labels(progress) == ["✖ Cancel broadcast"]
    for resident in residents[1:]:
        notice = await tg.wait_for_bot_message(
            resident.user.id, predicate=lambda m: NOTICE in (m.text or "")
        )
        assert notice.text is not None and "通知 · 1号楼 3 层" in notice.text
        assert "—— 朱晓雪" in notice.text
    await tg.wait_until(lambda: got_notice(tg, floor_3_group.id))

    report = await reported(edge, tg, counsellor, "done")
    assert report.message_id == progress.message_id
    assert report.text == ("📣 Broadcast A-1 done\nDelivered: 6\nBlocked the bot: 1\nFailed: 0")
    assert report.reply_markup is None
    assert not got_notice(tg, blocked.user.id)
    for chat_id in [o.user.id for o in others] + [floor_1_group.id, building_group.id]:
        assert not got_notice(tg, chat_id), chat_id
    broadcast, statuses = await stored(campus)
    assert broadcast.status is BroadcastStatus.DONE and broadcast.total == 7
    assert broadcast.text == NOTICE and broadcast.source is None
    assert broadcast.audience["scope"] == "B1-3" and broadcast.finished_at is not None
    assert statuses == sorted([OutboxStatus.SENT] * 6 + [OutboxStatus.UNREACHABLE])
    [sent] = await audited(campus, "broadcast.send")
    assert sent.detail["total"] == 7
    # The report stays: a later sweep changes nothing.
    assert (await edge.ticker.run_once())["broadcasts.progress"] == 0


async def test_the_sender_watches_progress_and_cancels_what_is_not_sent_yet(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    residents = [await linked(person, invite, number) for number in FLOOR_3]
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    # Telegram fails for three of them: they wait for a retry the frozen clock never reaches.
    waiting = residents[:3]
    for resident in waiting:
        tg.inject_fault("sendMessage", "5xx", chat_id=resident.user.id)

    progress = await broadcast_to_floor_3(tg, counsellor, "People (6)", groups=0)
    for resident in residents[3:]:
        await tg.wait_for_bot_message(
            resident.user.id, predicate=lambda m: NOTICE in (m.text or "")
        )
    edited = await reported(edge, tg, counsellor, "3 / 6 sent")
    assert edited.message_id == progress.message_id and labels(edited) == ["✖ Cancel broadcast"]

    # Someone else's press (the button forged or forwarded) is refused and audited.
    for presser in (head, residents[3]):
        tg.inject_update(
            {
                "callback_query": {
                    "id": f"forged-{presser.user.id}",
                    "from": {"id": presser.user.id, "is_bot": False, "first_name": "x"},
                    "chat_instance": "1",
                    "message": {
                        "message_id": 1,
                        "date": 1,
                        "chat": {"id": presser.user.id, "type": "private"},
                    },
                    "data": "bc:1",
                }
            }
        )
        # Updates of one chat are handled in order: once this is answered, the press was judged.
        await presser.say("/me")
    assert len(await audited(campus, "broadcast.refused")) == 2
    assert (await stored(campus))[0].status is BroadcastStatus.SENDING

    asked = await asked_to_cancel(tg, counsellor, edited, "✖ Cancel broadcast")
    query = await tg.user_press(counsellor.user, asked, asked.button_data("Yes, cancel it"))
    assert (await tg.wait_for_callback_answer(query)).text == "Cancelled."
    report = await tg.wait_for_bot_message(
        counsellor.user.id,
        predicate=lambda m: m.edit_date is not None and "cancelled" in (m.text or ""),
    )
    assert report.text == (
        "📣 Broadcast A-1 cancelled\nDelivered: 3\nBlocked the bot: 0\nFailed: 0\n"
        "Cancelled before sending: 3"
    )
    assert report.reply_markup is None
    broadcast, statuses = await stored(campus)
    assert broadcast.status is BroadcastStatus.CANCELLED
    assert statuses == [OutboxStatus.SENT] * 3
    assert len(await audited(campus, "broadcast.cancel")) == 1
    # Their messages are gone from the outbox: when the retry comes due there is nothing to send.
    assert not any(got_notice(tg, resident.user.id) for resident in waiting)


async def edited_within(
    tg: FakeTelegram, clock: Clock, chat: Chat, text: str, *, seconds: int = 2
) -> FakeMessage:
    """Move the bot's clock on a second at a time, at most ``seconds``, until the bot edits a
    message of ``chat`` to ``text``; each second's edit is waited for with a timeout."""
    for _ in range(seconds):
        clock.advance(timedelta(seconds=1))
        try:
            return await tg.wait_for_bot_message(
                chat.user.id,
                timeout=3,
                predicate=lambda m: m.edit_date is not None and m.text == text,
            )
        except TimeoutError:
            continue
    raise AssertionError(f"not edited to {text!r} within {seconds} s of the bot's clock")


def edits_to(tg: FakeTelegram, chat: Chat) -> int:
    """How many edits the bot asked for in ``chat``, refused or not."""
    return len(
        [c for c in tg.calls_to("editMessageText") if c.params["chat_id"] == str(chat.user.id)]
    )


async def follower(db: Database) -> Firing:
    async with db.unit_of_work() as session:
        firing = await session.scalar(select(Firing).where(Firing.key == "bc:1:progress"))
        assert firing is not None
        return firing


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "zh",
            {
                "four": "📣 群发 A-1：已发送 4 / 6",
                "cancel": "✖ 取消群发",
                "done": "📣 群发 A-1 已完成\n送达：6\n已屏蔽机器人：0\n发送失败：0",
            },
        ),
        (
            "en",
            {
                "four": "📣 Broadcast A-1: 4 / 6 sent",
                "cancel": "✖ Cancel broadcast",
                "done": "📣 Broadcast A-1 done\nDelivered: 6\nBlocked the bot: 0\nFailed: 0",
            },
        ),
    ],
)
async def test_progress_follows_the_messages_every_second_and_ends_soon_after_the_last(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    language: str,
    words: dict[str, str],
) -> None:
    residents = [await linked(person, invite, number) for number in FLOOR_3]
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    # Two answers are slow to come back: those messages are still on their way.
    slow = [tg.hold("sendMessage", chat_id=resident.user.id) for resident in residents[:2]]
    progress = await broadcast_to_floor_3(tg, counsellor, "People (6)", groups=0)
    if language == "zh":
        await counsellor.say("/lang zh")
    for resident in residents[2:]:
        await tg.wait_for_bot_message(
            resident.user.id, predicate=lambda m: NOTICE in (m.text or "")
        )

    # Within two seconds of the bot's clock, with no sweep run, the count is there.
    shown = await edited_within(tg, clock, counsellor, words["four"])
    assert shown.message_id == progress.message_id and labels(shown) == [words["cancel"]]

    # Nothing changes: the broadcast is looked at every second, and nothing is edited.
    await edge.scheduler.stop()
    edits = edits_to(tg, counsellor)
    for _ in range(3):
        clock.advance(timedelta(seconds=1))
        assert (await edge.scheduler.run_due()).fired == 1
    # A chat's messages leave in order: once this is answered, any edit queued before it left.
    await counsellor.say("/me")
    assert edits_to(tg, counsellor) == edits
    edge.scheduler.start()

    # The last two arrive: within two seconds the message is the delivery report.
    for hold in slow:
        hold.release()
    report = await edited_within(tg, clock, counsellor, words["done"])
    assert report.message_id == progress.message_id and report.buttons == []
    broadcast, statuses = await stored(campus)
    assert broadcast.status is BroadcastStatus.DONE and statuses == [OutboxStatus.SENT] * 6
    # Over: its firing is not due again.
    assert (await follower(campus)).status is FiringStatus.FIRED
    clock.advance(timedelta(seconds=5))
    assert (await edge.scheduler.run_due()).fired == 0


async def test_a_restart_mid_broadcast_still_ends_its_progress_message(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)):
        residents = [await linked(person, invite, number) for number in FLOOR_3]
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        # Telegram fails two of them once: they wait for a retry.
        for resident in residents[:2]:
            tg.inject_fault("sendMessage", "5xx", chat_id=resident.user.id)
        progress = await broadcast_to_floor_3(tg, counsellor, "People (6)", groups=0)
        for resident in residents[2:]:
            await tg.wait_for_bot_message(
                resident.user.id, predicate=lambda m: NOTICE in (m.text or "")
            )
        # Stopped before the bot's clock reaches the retries: two messages still wait.
    assert (await follower(campus)).status is FiringStatus.PENDING
    assert (await stored(campus))[0].status is BroadcastStatus.SENDING

    # Another run: the retries leave, and the message the first run began is ended.
    async with running(make_application(campus, tg, clock)):
        report = await edited_within(
            tg,
            clock,
            counsellor,
            "📣 Broadcast A-1 done\nDelivered: 6\nBlocked the bot: 0\nFailed: 0",
            seconds=5,
        )
    assert report.message_id == progress.message_id
    assert (await stored(campus))[0].status is BroadcastStatus.DONE


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "zh",
            {
                "four": "📣 群发 A-1：已发送 4 / 6",
                "five": "📣 群发 A-1：已发送 5 / 6",
                "question": "确定取消群发 A-1 吗？还没发出的消息将不再发送。",
                "cancel": "✖ 取消群发",
                "sure": "确定取消群发",
                "keep": "继续发送",
                "cancelled": "已取消。",
                "report": "📣 群发 A-1 已取消",
            },
        ),
        (
            "en",
            {
                "four": "📣 Broadcast A-1: 4 / 6 sent",
                "five": "📣 Broadcast A-1: 5 / 6 sent",
                "question": "Cancel broadcast A-1? The messages not sent yet will not be sent.",
                "cancel": "✖ Cancel broadcast",
                "sure": "Yes, cancel it",
                "keep": "Keep sending",
                "cancelled": "Cancelled.",
                "report": "📣 Broadcast A-1 cancelled",
            },
        ),
    ],
)
async def test_cancelling_a_broadcast_asks_once_in_its_progress_message_which_goes_on(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    language: str,
    words: dict[str, str],
) -> None:
    residents = [await linked(person, invite, number) for number in FLOOR_3]
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language=language)
    slow = [tg.hold("sendMessage", chat_id=resident.user.id) for resident in residents[:2]]
    await broadcast_to_floor_3(tg, counsellor, "People (6)", groups=0)
    if language == "zh":
        await counsellor.say("/lang zh")
    shown = await edited_within(tg, clock, counsellor, words["four"])

    # Cancel asks, in the progress message, and drops nothing.
    asked = await asked_to_cancel(tg, counsellor, shown, words["cancel"])
    assert asked.text == f"{words['four']}\n\n{words['question']}"
    assert labels(asked) == [words["sure"], words["keep"]]
    assert (await stored(campus))[0].status is BroadcastStatus.SENDING
    # While the sender thinks, the count goes on, the question stays.
    slow[0].release()
    counting = await edited_within(tg, clock, counsellor, f"{words['five']}\n\n{words['question']}")
    assert labels(counting) == [words["sure"], words["keep"]]
    # "Keep sending": Cancel is back.
    query = await tg.user_press(counsellor.user, counting, counting.button_data(words["keep"]))
    assert (await tg.wait_for_callback_answer(query)).text is None
    kept = await tg.wait_for_bot_message(
        counsellor.user.id, predicate=lambda m: m.edit_date is not None and m.text == words["five"]
    )
    assert labels(kept) == [words["cancel"]]

    # The "yes" is no permission: someone else's forged one is refused and recorded.
    data = CANCEL_SURE.pack(broadcast=1)
    tg.inject_update(
        {
            "callback_query": {
                "id": "forged-yes",
                "from": {"id": head.user.id, "is_bot": False, "first_name": "x"},
                "chat_instance": "1",
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": head.user.id, "type": "private"},
                },
                "data": data,
            }
        }
    )
    await head.say("/me")
    assert len(await audited(campus, "broadcast.refused")) == 1
    assert (await stored(campus))[0].status is BroadcastStatus.SENDING

    # Asked again, "yes": what is not sent yet is dropped.
    asked = await asked_to_cancel(tg, counsellor, kept, words["cancel"])
    query = await tg.user_press(counsellor.user, asked, asked.button_data(words["sure"]))
    assert (await tg.wait_for_callback_answer(query)).text == words["cancelled"]
    report = await tg.wait_for_bot_message(
        counsellor.user.id,
        predicate=lambda m: (m.text or "").startswith(words["report"]),
    )
    assert report.buttons == []
    assert (await stored(campus))[0].status is BroadcastStatus.CANCELLED
    slow[1].release()


@pytest.mark.parametrize(
    ("language", "kind", "cells"),
    [
        ("zh-hans", "网格", ["网格：1号楼 1–2 层", "网格：1号楼 3–4 层"]),
        ("en", "A grid cell", ["Grid: Building 1, floors 1–2", "Grid: Building 1, floors 3–4"]),
    ],
    ids=["zh-CN", "en"],
)
async def test_grid_cells_are_offered_by_their_building_and_floors(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    language: str,
    kind: str,
    cells: list[str],
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language=language)
    await tg.user_send(counsellor.user, "/broadcast")
    where = await press(tg, counsellor, await prompt(tg, counsellor), kind)
    assert labels(where)[:-2] == cells
