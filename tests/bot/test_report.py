"""The grid issue report conversation, end to end through the fake Telegram, in both languages."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from assistant.app import Edge, running
from assistant.config import REPO_ROOT
from assistant.domain import Role
from assistant.flows.engine import Engine
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.services.identity import actor_for
from assistant.storage.db import Database
from assistant.storage.models import ConversationState, ConversationStatus, GridIssue
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]


async def prompt(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    """The bot's next new message to this person (edits are skipped)."""
    return await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: m.edit_date is None)


async def press(tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str) -> FakeMessage:
    """Press the button labelled ``label`` and return the next new message (not an edit)."""
    await tg.user_press(chat.user, message, message.button_data(label))
    return await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: m.edit_date is None)


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
    title = await prompt(tg, student)
    assert title.text == "网格问题上报"
    category = await prompt(tg, student)
    assert category.text == "请选择问题类别："
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
    # Urgent: two hours (grid.escalate_hours.high) from 16:00 campus time.
    assert done.text == (
        "已提交上报 R-1（安全隐患 · 1号楼 101 室）。\n"
        "负责处理的是学生党员层长 徐梦。处理进展会通知您。\n"
        "如 2026-09-01 18:00 前仍未解决，将上报给上一级负责人。"
    )

    card = await tg.wait_for_bot_message(leader.user.id)
    assert card.text == (
        "请您处理：上报 R-1\n类别：安全隐患 · 紧急程度：紧急\n"
        "楼层：1号楼 1 层 · 位置：1号楼 101 室\n水房插座冒烟，有焦味\n上报人：郑博嘉"
    )
    notice = await tg.wait_for_bot_message(counsellor.user.id)
    assert (notice.text or "").startswith("供您知悉：上报 R-1\n")
    [issue] = await issues(campus)
    assert (issue.category, issue.urgency, issue.routed_by) == ("safety", "high", "safety-urgent")
    assert issue.assignee_role is Role.FLOOR_LEADER and not issue.private


async def test_a_private_report_goes_to_counsellors_only_and_may_be_anonymous(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
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
        "2026-09-02 16:00, they are reminded."
    )
    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert card.text is not None and "Reported by: anonymous" in card.text
    assert "郑博嘉" not in card.text
    assert tg.pending_bot_messages(leader.user.id) == []
    [issue] = await issues(campus)
    assert issue.private and issue.anonymous and issue.assignee_role is Role.COUNSELLOR


async def test_the_dorm_pressed_reads_as_a_place_in_english(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
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
    await prompt(tg, student)
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
        "这类问题只由辅导员处理；如 2026-09-02 16:00 前仍未处理，会再次提醒辅导员。"
    )


async def test_back_cancel_and_commands_mid_conversation(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
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
    await prompt(tg, student)
    reply = await student.say("🙂🙂🙂")
    assert reply.startswith("Please choose with the buttons below.")
    assert "Where is it?" in await student.say("hygiene")


async def test_a_button_of_a_finished_conversation_is_refused_kindly(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
    category = await prompt(tg, student)
    assert await student.say("/cancel") == "Cancelled; nothing was submitted."
    query = await tg.user_press(student.user, category, category.button_data("Hygiene"))
    answer = await tg.wait_for_callback_answer(query)
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
        await prompt(tg, student)
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
            "Community party-building projects are applied for by workstation heads and "
            "counsellors."
        )
        assert await student.say("/cancel") == "Nothing is in progress."


async def test_the_buttons_of_a_re_prompt_work(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
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
    await prompt(tg, student)
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
    await edge.ticker.run_once()
    assert tg.state.bot_outbox.get(student.user.id, []) == [], "told once"
    query = await tg.user_press(student.user, category, category.button_data("Hygiene"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.show_alert and "expired" in (answer.text or "")
