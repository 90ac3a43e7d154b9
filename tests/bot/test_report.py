"""The grid issue report conversation, end to end through the fake Telegram, in both languages."""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from assistant.app import Edge, running
from assistant.config import REPO_ROOT
from assistant.domain import Role
from assistant.flows.engine import Engine
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import CallbackAnswer, FakeCallbackQuery, FakeMessage
from assistant.services.identity import actor_for
from assistant.storage.db import Database
from assistant.storage.models import ConversationState, ConversationStatus, GridIssue
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_GRID, FLOOR_1_LEADER, STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


async def prompt(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    """The bot's next new message to this person (edits are skipped)."""
    return await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: m.edit_date is None)


async def press(tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str) -> FakeMessage:
    """Press the button labelled ``label`` and return the next new message (not an edit)."""
    await tg.user_press(chat.user, message, message.button_data(label))
    return await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: m.edit_date is None)


async def settled(tg: FakeTelegram, chat: Chat, message: FakeMessage) -> str:
    """The text of ``message`` once it has lost its buttons (its question is over)."""
    await tg.wait_until(lambda: tg.message(chat.user.id, message.message_id).buttons == [])
    return tg.message(chat.user.id, message.message_id).text or ""


async def press_in_flight(
    tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str
) -> CallbackAnswer:
    """Press a button of ``message`` as it was shown, a press already on its way when the bot
    took the buttons away; the bot's answer to it."""
    query = FakeCallbackQuery(
        id=str(4_100_000_000_000_000 + tg.state.unique_number()),
        user=chat.user,
        message=message,
        data=message.button_data(label),
        created_at=tg.state.clock(),
    )
    tg.state.callback_queries[query.id] = query
    tg.state.enqueue_update(
        "callback_query",
        {
            "id": query.id,
            "from": chat.user.to_json(),
            "message": message.to_json(),
            "chat_instance": message.chat.instance,
            "data": query.data,
        },
    )
    return await tg.wait_for_callback_answer(query.id)


def with_buttons(tg: FakeTelegram, chat: Chat) -> list[int]:
    """The ids of the bot's messages in the chat that still carry buttons."""
    return [m.message_id for m in tg.messages(chat.user.id) if m.from_bot and m.buttons]


async def issues(db: Database) -> list[GridIssue]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(GridIssue).order_by(GridIssue.id))).all())


async def test_a_student_reports_an_urgent_safety_hazard_in_chinese(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER)
    counsellor = await linked(person, invite, C1_COUNSELLOR)
    student = await linked(person, invite, STUDENT)
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    assert category.text == "网格问题上报\n\n请选择问题类别："
    location = await press(tg, student, category, "安全隐患")
    assert "问题在什么地方" in (location.text or "")
    description = await press(tg, student, location, "✔ 1号楼 101 室")
    assert (await student.say("短")).startswith("内容太短了，至少 5 个字。")
    await tg.user_send(student.user, "水房插座冒烟，有焦味")
    photo = await prompt(tg, student)
    assert "照片" in (photo.text or "") and description.message_id != photo.message_id
    urgency = await press(tg, student, photo, "跳过")
    summary = await press(tg, student, urgency, "紧急")
    # The dorm pressed reads as a place, not as its code; no anonymity for this category.
    assert summary.text == (
        "请确认您的上报：\n类别：安全隐患\n位置：1号楼 101 室\n描述：水房插座冒烟，有焦味\n"
        "照片：无\n紧急程度：紧急"
    )
    done = await press(tg, student, summary, "✔ 提交")
    # Urgent: two hours (the hours of the grid chain, rules/escalation.yaml) from 16:00 campus time.
    assert done.text == (
        "已提交上报 R-1（安全隐患 · 1号楼 101 室）。\n"
        "负责处理的是学生党员层长 徐梦。处理进展会通知您。\n"
        "如 9月1日（周二）18:00 前仍未解决，将上报给上一级负责人。"
    )

    card = await tg.wait_for_bot_message(leader.user.id)
    assert card.text == (
        "请您处理：上报 R-1\n类别：安全隐患 · 紧急程度：紧急\n"
        "楼层：1号楼 1 层 · 位置：1号楼 101 室\n水房插座冒烟，有焦味\n上报人：郑博嘉"
    )
    notice = await tg.wait_for_bot_message(counsellor.user.id)
    assert (notice.text or "").startswith("供您知悉：上报 R-1，由学生党员层长处理\n")
    [issue] = await issues(campus)
    assert (issue.category, issue.urgency, issue.routed_by) == ("safety", "high", "safety-urgent")
    assert issue.assignee_role is Role.FLOOR_LEADER and not issue.private


ANSWERED = {
    "zh-CN": {
        "title": "网格问题上报",
        "category": ("请选择问题类别：", "安全隐患", "类别：安全隐患"),
        "location": "位置：1号楼 101 室",
        "short": "短",
        "description": "描述：水房插座冒烟，有焦味",
        "photo": ("跳过", "照片：已跳过"),
        "urgency": ("紧急", "紧急程度：紧急"),
        "submit": "✔ 提交",
        "dorm": "✔ 1号楼 101 室",
        "text": "水房插座冒烟，有焦味",
    },
    "en": {
        "title": "Report a grid issue",
        "category": ("What kind of problem is it?", "Safety hazard", "Category: Safety hazard"),
        "location": "Location: Building 1, room 101",
        "short": "wet",
        "description": "Description: The socket in the water room smokes",
        "photo": ("Skip", "Photo: skipped"),
        "urgency": ("Urgent", "Urgency: Urgent"),
        "submit": "✔ Submit",
        "dorm": "✔ Building 1, room 101",
        "text": "The socket in the water room smokes",
    },
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_each_question_shows_its_answer_and_only_the_latest_has_buttons(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, language: str
) -> None:
    said = ANSWERED[language]
    student = await linked(person, invite, STUDENT, language=language)
    await tg.user_send(student.user, "/report")
    # The title and the first question are one message.
    category = await prompt(tg, student)
    question, choice, answered = said["category"]
    assert category.text == f"{said['title']}\n\n{question}"
    location = await press(tg, student, category, choice)
    assert await settled(tg, student, category) == f"{said['title']}\n\n{question}\n\n{answered}"
    description = await press(tg, student, location, said["dorm"])
    assert (await settled(tg, student, location)).endswith(f"\n\n{said['location']}")
    # A re-prompt takes the buttons of the question it repeats; the answer shows in the last.
    await tg.user_send(student.user, said["short"])
    again = await prompt(tg, student)
    assert await settled(tg, student, description) == description.text
    await tg.user_send(student.user, said["text"])
    photo = await prompt(tg, student)
    assert (await settled(tg, student, again)).endswith(f"\n\n{said['description']}")
    skip, skipped = said["photo"]
    urgency = await press(tg, student, photo, skip)
    assert (await settled(tg, student, photo)).endswith(f"\n\n{skipped}")
    level, chosen = said["urgency"]
    summary = await press(tg, student, urgency, level)
    assert (await settled(tg, student, urgency)).endswith(f"\n\n{chosen}")
    assert with_buttons(tg, student) == [summary.message_id]
    await press(tg, student, summary, said["submit"])
    await settled(tg, student, summary)
    assert with_buttons(tg, student) == []


@pytest.mark.parametrize(
    ("language", "given_up", "title"),
    [
        ("zh-CN", "已放弃之前未完成的操作：网格问题上报。", "预约功能房"),
        ("en", "Your unfinished “Report a grid issue” was set aside.", "Book a room"),
    ],
)
async def test_starting_another_conversation_names_the_one_given_up(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    language: str,
    given_up: str,
    title: str,
) -> None:
    student = await linked(person, invite, STUDENT, language=language)
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    await tg.user_send(student.user, "/book")
    kinds = await prompt(tg, student)
    assert (kinds.text or "").startswith(f"{given_up}\n\n{title}\n\n")
    # The question given up keeps its words and loses its buttons.
    assert await settled(tg, student, category) == category.text
    assert with_buttons(tg, student) == [kinds.message_id]
    async with campus.unit_of_work() as session:
        states = (
            await session.execute(
                select(ConversationState.conversation, ConversationState.status).order_by(
                    ConversationState.id
                )
            )
        ).all()
    assert [tuple(s) for s in states] == [
        ("report_issue", ConversationStatus.CANCELLED),
        ("book_room", ConversationStatus.ACTIVE),
    ]


async def test_a_private_report_goes_to_counsellors_only_and_may_be_anonymous(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    location = await press(tg, student, category, "A student needs help")
    assert "Where is it?" in (location.text or "")
    await tg.user_send(student.user, "Building 1, floor 2")
    await prompt(tg, student)
    await tg.user_send(student.user, "My roommate has not eaten for days")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    anonymous = await press(tg, student, urgency, "Normal")
    assert "anonymously" in (anonymous.text or "")
    summary = await press(tg, student, anonymous, "Yes")
    assert "Anonymous: yes" in (summary.text or "")
    done = await press(tg, student, summary, "✔ Submit")
    # A private report never climbs: its receipt promises a reminder, not an escalation.
    assert done.text == (
        "Submitted as report R-1 (A student needs help · Building 1, floor 2).\n"
        "It is with the community counsellor, 朱晓雪. You will hear how it goes.\n"
        "Reports like this stay with the counsellors; if nobody has dealt with it by "
        "Wed 2 Sep 16:00, they are reminded."
    )
    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert card.text is not None and "Reported by: anonymous" in card.text
    assert "郑博嘉" not in card.text
    assert tg.pending_bot_messages(leader.user.id) == []
    [issue] = await issues(campus)
    assert issue.private and issue.anonymous and issue.assignee_role is Role.COUNSELLOR


def picture() -> bytes:
    """A small valid PNG, as a phone's photo would be, that the fake Telegram stores."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 3, 2, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x40" * 3 for _ in range(2)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def report_with_photo(
    tg: FakeTelegram, student: Chat, category: str, words: dict[str, str]
) -> str:
    """/report with a photo at its photo step; returns the photo's file_id as sent."""
    await tg.user_send(student.user, "/report")
    categories = await prompt(tg, student)
    location = await press(tg, student, categories, category)
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, words["description"])
    await prompt(tg, student)
    sent = await tg.user_send_photo(student.user, picture())
    assert sent.photo is not None
    question = await prompt(tg, student)
    if category not in (words["in_need"],):
        summary = await press(tg, student, question, words["urgent"])
    else:
        anonymous = await press(tg, student, question, words["urgent"])
        summary = await press(tg, student, anonymous, words["yes"])
    await press(tg, student, summary, words["submit"])
    return str(sent.photo[-1]["file_id"])


def photos_sent(tg: FakeTelegram) -> list[dict[str, str]]:
    """The parameters of every sendPhoto the bot made."""
    return [call.params for call in tg.calls_to("sendPhoto")]


WORDS = {
    "zh-hans": {
        "safety": "安全隐患",
        "in_need": "同学需要帮助",
        "description": "水房插座冒烟，有焦味",
        "urgent": "紧急",
        "yes": "是",
        "submit": "✔ 提交",
        "card": "请您处理：上报 R-1",
        "notice": "供您知悉：上报 R-1",
        "caption": "📷 上报 R-1 的照片 · 1号楼 1 层 · 1号楼 101 室",
    },
    "en": {
        "safety": "Safety hazard",
        "in_need": "A student needs help",
        "description": "The socket in the water room is smoking",
        "urgent": "Urgent",
        "yes": "Yes",
        "submit": "✔ Submit",
        "card": "For you to handle: report R-1",
        "notice": "For your information: report R-1",
        "caption": "📷 Photo of report R-1 · Building 1, floor 1 · Building 1, room 101",
    },
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
async def test_the_photo_of_a_report_comes_right_after_each_card_of_it(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, language: str
) -> None:
    words = WORDS[language]
    leader = await linked(person, invite, FLOOR_1_LEADER, language=language)
    counsellor = await linked(person, invite, C1_COUNSELLOR, language=language)
    student = await linked(person, invite, STUDENT, language=language)
    file_id = await report_with_photo(tg, student, words["safety"], words)

    # The floor leader has it, the counsellor is told (rules/routing.yaml, safety-urgent):
    # each card is followed by the photo.
    for chat, title in ((leader, words["card"]), (counsellor, words["notice"])):
        card = await tg.wait_for_bot_message(chat.user.id)
        assert title in (card.text or "")
        photo = await tg.wait_for_bot_message(chat.user.id)
        assert photo.message_id == card.message_id + 1
        assert photo.photo is not None and photo.photo[-1]["file_id"] == file_id
        assert photo.caption == words["caption"]
    # A card sent again (/pending) brings its photo again.
    await tg.user_send(leader.user, "/pending")
    await prompt(tg, leader)
    again = await prompt(tg, leader)
    assert words["card"] in (again.text or "")
    assert (await prompt(tg, leader)).photo is not None
    assert all("protect_content" not in sent for sent in photos_sent(tg))


async def test_a_private_reports_photo_goes_only_where_the_report_goes(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    words = WORDS["en"]
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    grid_member = await linked(person, invite, FLOOR_1_GRID, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    file_id = await report_with_photo(tg, student, words["in_need"], words)

    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert "Reported by: anonymous" in (card.text or "")
    photo = await tg.wait_for_bot_message(counsellor.user.id)
    assert photo.photo is not None and photo.photo[-1]["file_id"] == file_id
    # To the counsellor only, blurred until opened, and not to be forwarded or saved.
    [sent] = photos_sent(tg)
    assert sent["chat_id"] == str(counsellor.user.id)
    assert (sent["protect_content"], sent["has_spoiler"]) == ("true", "true")
    for other in (leader, grid_member):
        # Their chat's messages leave in order: once this is answered, nothing else is coming.
        assert "Building 1, room" in await other.say("/me")
        assert not any(m.photo for m in tg.messages(other.user.id))
    assert len(photos_sent(tg)) == 1


async def test_back_cancel_and_commands_mid_conversation(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    location = await press(tg, student, category, "Repair")
    # A command in the middle is answered and the conversation waits where it was.
    assert "Building 1, room 101" in await student.say("/me")
    again = await press(tg, student, location, "« Back")
    assert again.text == "What kind of problem is it?"
    assert "Hygiene" in [b["text"] for row in again.buttons for b in row]
    await press(tg, student, again, "Hygiene")
    assert await student.say("/cancel") == "Cancelled; nothing was submitted."
    assert await student.say("/cancel") == "Nothing is in progress."
    assert await issues(campus) == []


async def test_typing_a_choice_works_and_nonsense_is_reprompted(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
    reply = await student.say("🙂🙂🙂")
    assert reply.startswith("Please choose with the buttons below.")
    assert "Where is it?" in await student.say("hygiene")


async def test_a_button_of_a_finished_conversation_is_refused_kindly(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    assert await student.say("/cancel") == "Cancelled; nothing was submitted."
    assert await settled(tg, student, category) == category.text
    answer = await press_in_flight(tg, student, category, "Hygiene")
    assert answer.text == "This button has expired; please send the command again."
    assert answer.show_alert


async def test_only_its_owner_moves_a_conversation_with_its_buttons(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    owner = await linked(person, invite, STUDENT, language="en")
    neighbour = await linked(person, invite, "2023010002", language="en")
    group = await tg.add_group("B1 floor 1", [owner.user, neighbour.user])
    await tg.wait_for_bot_message(group.id)  # the greeting on being added
    # Conversations start in private chats; should one's question ever stand in a group, its
    # buttons are there for everyone to press. The owner's /report, asked in the group:
    engine: Engine = edge.application.bot_data["engine"]
    conversation = engine.for_command("report")
    assert conversation is not None
    async with campus.unit_of_work() as session:
        actor = await actor_for(session, owner.user.id)
        assert actor is not None
        started = await engine.start(
            session, actor, group.id, conversation, now=clock(), language="en"
        )
    question = started.send[-1]
    sent = await edge.application.bot.send_message(
        group.id,
        question.text,
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
                for row in question.buttons
            ]
        ),
    )
    shown = tg.message(group.id, sent.message_id)
    before = await state_of(campus)

    query = await tg.user_press(neighbour.user, shown, shown.button_data("Safety hazard"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "This button has expired; please send the command again."
    assert answer.show_alert
    assert await state_of(campus) == before
    assert tg.message(group.id, shown.message_id).buttons == shown.buttons

    # The same button, pressed by its owner, was live all along.
    query = await tg.user_press(owner.user, shown, shown.button_data("Safety hazard"))
    assert (await tg.wait_for_callback_answer(query)).text is None
    step, _, answers, _ = await state_of(campus)
    assert (step, answers) == ("location", {"category": "safety"})


async def state_of(db: Database) -> tuple[str, int, dict[str, object], list[str]]:
    """(step, version, answers, history) of the one conversation there is."""
    async with db.unit_of_work() as session:
        [state] = (await session.scalars(select(ConversationState))).all()
        return state.step, state.version, dict(state.answers), list(state.history)


async def test_a_conversation_expires_after_its_timeout(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
    clock.advance(timedelta(minutes=31))
    assert "expired" in await student.say("repair")
    async with campus.unit_of_work() as session:
        states = (await session.scalars(select(ConversationState.status))).all()
    assert states == [ConversationStatus.EXPIRED]


async def test_a_restart_resumes_the_person_where_they_were(
    campus: Database, tg: FakeTelegram, person: Person, invite: Invite, clock: Clock
) -> None:
    student = await linked_outside(person, invite, campus, tg, clock)
    async with running(make_application(campus, tg, clock)):
        await tg.user_send(student.user, "/report")
        category = await prompt(tg, student)
        await press(tg, student, category, "Repair")
    # A new process: nothing in memory survives, only the store.
    async with running(make_application(campus, tg, clock)):
        await tg.user_send(student.user, "Building 1, laundry room")
        description = await prompt(tg, student)
        assert description.text == "Please describe the problem (at least 5 characters):"


async def linked_outside(
    person: Person, invite: Invite, campus: Database, tg: FakeTelegram, clock: Clock
) -> Chat:
    """A linked student, made with a bot that is then stopped."""
    async with running(make_application(campus, tg, clock)):
        return await linked(person, invite, STUDENT, language="en")


async def test_a_conversation_the_access_rules_deny_is_refused_with_their_reason(
    campus: Database,
    tg: FakeTelegram,
    person: Person,
    invite: Invite,
    clock: Clock,
    tmp_path: Path,
) -> None:
    copy = tmp_path / "conversations"
    shutil.copytree(REPO_ROOT / "conversations", copy)
    spec = copy / "report_issue.yaml"
    spec.write_text(
        spec.read_text(encoding="utf-8").replace("access: grid.report", "access: project.apply"),
        encoding="utf-8",
    )
    async with running(make_application(campus, tg, clock, conversations_dir=copy)):
        student = await linked(person, invite, STUDENT, language="en")
        reply = await student.say("/report")
        assert reply == (
            "Community party-building projects are applied for by a college's teachers, student "
            "party members and party activists, and by counsellors and workstation heads."
        )
        assert await student.say("/cancel") == "Nothing is in progress."


async def test_the_buttons_of_a_re_prompt_work(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
    await tg.user_send(student.user, "something else entirely")
    again = await prompt(tg, student)
    assert (again.text or "").startswith("Please choose with the buttons below.")
    location = await press(tg, student, again, "Hygiene")
    assert "Where is it?" in (location.text or "")


async def test_an_expired_conversation_is_announced_without_waiting_for_the_person(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    clock.advance(timedelta(minutes=29))
    await edge.ticker.run_once()
    clock.advance(timedelta(minutes=1))
    await edge.ticker.run_once()
    told = await prompt(tg, student)
    assert told.text == "This conversation expired after a long silence; please start again."
    async with campus.unit_of_work() as session:
        states = (await session.scalars(select(ConversationState.status))).all()
    assert states == [ConversationStatus.EXPIRED]
    # The question left waiting lost its buttons, which could only say "expired" any more.
    assert await settled(tg, student, category) == category.text
    await edge.ticker.run_once()
    assert [m for m in tg.state.bot_outbox.get(student.user.id, []) if m.edit_date is None] == [], (
        "told once"
    )
    answer = await press_in_flight(tg, student, category, "Hygiene")
    assert answer.show_alert and "expired" in (answer.text or "")


async def test_the_dorm_pressed_reads_as_a_place_in_english(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    location = await press(tg, student, await prompt(tg, student), "Repair")
    await press(tg, student, location, "✔ Building 1, room 101")
    await tg.user_send(student.user, "The window will not close")
    urgency = await press(tg, student, await prompt(tg, student), "Skip")
    summary = await press(tg, student, urgency, "Not urgent")
    assert summary.text == (
        "Please confirm your report:\nCategory: Repair\nLocation: Building 1, room 101\n"
        "Description: The window will not close\nPhoto: none\nUrgency: Not urgent"
    )


async def test_a_private_reports_receipt_in_chinese_promises_a_reminder_not_a_climb(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    await linked(person, invite, C1_COUNSELLOR)
    student = await linked(person, invite, STUDENT)
    await tg.user_send(student.user, "/report")
    location = await press(tg, student, await prompt(tg, student), "同学需要帮助")
    await press(tg, student, location, "✔ 1号楼 101 室")
    await tg.user_send(student.user, "室友几天没有吃饭了")
    urgency = await press(tg, student, await prompt(tg, student), "跳过")
    anonymous = await press(tg, student, urgency, "一般")
    summary = await press(tg, student, anonymous, "否")
    done = await press(tg, student, summary, "✔ 提交")
    assert done.text == (
        "已提交上报 R-1（同学需要帮助 · 1号楼 101 室）。\n"
        "负责处理的是社区辅导员 朱晓雪。处理进展会通知您。\n"
        "这类问题只由辅导员处理；如 9月2日（周三）16:00 前仍未处理，会再次提醒辅导员。"
    )
