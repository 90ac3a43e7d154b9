"""Booking a room end to end through the fake Telegram: the conversation in both languages, the
rules' checks, approval and who may decide it, my bookings, check-in and released no-shows."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.app import Edge, running
from assistant.callbacks import APPROVAL
from assistant.config import REPO_ROOT
from assistant.domain import BookingStatus, RequestStatus, Role, ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.services.approvals import Approvals
from assistant.services.booking import BOOKING, CANCEL, CANCEL_SURE, Bookings
from assistant.services.identity import actor_for
from assistant.services.kit import Kit
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import (
    AuditEntry,
    Booking,
    ConversationState,
    ConversationStatus,
    OutboxMessage,
    Request,
    RoleAssignment,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
from tests.bot.test_report import press, press_in_flight, prompt, settled

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

# 2026-09-02 is a Wednesday; the clock starts on Tuesday 2026-09-01, 16:00 campus time.
WEDNESDAY_8 = datetime(2026, 9, 2, 0, 0, tzinfo=UTC)
C1_WORKSTATION_HEAD = "T0004"
ACTIVITY_ROOM = ("Party and League activity room", "Business School Party & League Activity Room")
C2_COUNSELLOR = "T0007"
# A counsellor of community 5, made a second counsellor of community 1 where a test needs two.
SECOND_C1_COUNSELLOR = "T0013"
# Everyone who may not decide a booking request of community 1's activity room.
OUTSIDERS = {
    "student": "2023010002",
    "floor leader": FLOOR_1_LEADER,
    "workstation head of the community": C1_WORKSTATION_HEAD,
    "counsellor of another community": C2_COUNSELLOR,
    "college party leader": "T0001",
    "org_department": "T0016",
    "service_centre": "T0019",
    "expert": "T0022",
    "admin": "T0027",
}


TEACHERS_ONE_HOUR = """\
rules:
  - id: booking-slot-hours-teachers
    policy: booking.slot_hours
    when: status in ['teacher', 'staff']
    value: 1
"""


def one_hour_for_teachers(tmp_path: Path) -> Path:
    """The shipped rules, with a policy that gives teachers and staff one-hour slots: the same
    room is then booked in slots of two lengths."""
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules, dirs_exist_ok=True)
    policies = rules / "policies.yaml"
    shipped = policies.read_text(encoding="utf-8")
    assert shipped.count("\nrules:\n") == 1
    policies.write_text(shipped.replace("\nrules:\n", "\n" + TEACHERS_ONE_HOUR), encoding="utf-8")
    return rules


async def to_summary(
    tg: FakeTelegram,
    chat: Chat,
    kind: str,
    room: str,
    day: str = "2",
    slot: str = "08:00–10:00",
    purpose: str = "Class meeting",
    attendees: str = "12",
) -> FakeMessage:
    """Walk /book up to its summary by buttons and typing."""
    await tg.user_send(chat.user, "/book")
    kinds = await prompt(tg, chat)
    rooms = await press(tg, chat, kinds, kind)
    days = await press(tg, chat, rooms, room)
    slots = await press(tg, chat, days, day)
    await press(tg, chat, slots, slot)
    await tg.user_send(chat.user, purpose)
    await prompt(tg, chat)
    await tg.user_send(chat.user, attendees)
    return await prompt(tg, chat)


def last_message(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    """The latest message the bot sent this person (already read by ``say``)."""
    return tg.messages(chat.user.id)[-1]


async def to_approved_room_summary(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    """/book up to the summary for the Business School activity room, which needs approval."""
    return await to_summary(
        tg, chat, "Party and League activity room", "Business School Party & League Activity Room"
    )


async def shows_lapsed(tg: FakeTelegram, approver: Chat, card: FakeMessage) -> None:
    """The approver's card was edited to say nobody decided in time, without its buttons."""
    lapsed = await tg.wait_for_bot_message(
        approver.user.id,
        predicate=lambda m: m.message_id == card.message_id and m.edit_date is not None,
    )
    assert lapsed.text == (
        "Lapsed: booking B-1\n"
        "From: 郑博嘉\n"
        "Room: Business School Party & League Activity Room\n"
        "Time: Wed 2 Sep 08:00–10:00\n"
        "Purpose: Class meeting\n"
        "Attendees: 12\n"
        "Nobody decided it before it began, so it lapsed and the slot is free again."
    )
    assert lapsed.buttons == []


async def bookings_in(db: Database) -> list[Booking]:
    async with db.unit_of_work() as session:
        return list((await session.scalars(select(Booking).order_by(Booking.id))).all())


async def refusals(db: Database, action: str) -> list[AuditEntry]:
    async with db.unit_of_work() as session:
        return list(
            (await session.scalars(select(AuditEntry).where(AuditEntry.action == action))).all()
        )


def service(edge: Edge) -> Bookings:
    approvals: Approvals = edge.application.bot_data["approvals"]
    settings = edge.application.bot_data["deps"].settings
    return Bookings(
        Kit(approvals.rules, approvals.texts, approvals.default, settings.tz, approvals)
    )


async def test_a_student_books_the_reading_room_and_checks_in_in_chinese(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    student = await linked(person, invite, STUDENT)
    await tg.user_send(student.user, "/book")
    kinds = await prompt(tg, student)
    assert kinds.text == "预约功能房\n\n想预约哪类功能房？"
    labels = [b["text"] for row in kinds.buttons for b in row]
    assert labels[:2] == ["阅览室", "党团活动室"] and "成长服务中心" in labels
    rooms = await press(tg, student, kinds, "阅览室")
    assert [b["text"] for b in rooms.buttons[0]] == ["1号楼阅览室"]  # only my building's
    days = await press(tg, student, rooms, "1号楼阅览室")
    # Each question says the limit it is about before it is reached.
    assert "哪一天？可预约今天起 14 天内的日期（最晚 9月15日（周二））。" in (days.text or "")
    slots = await press(tg, student, days, "2")
    assert slots.text == "请选择一个空闲时段。预约开始后 15 分钟内须签到，否则预约将自动取消。"
    assert slots.button_data("08:00–10:00") and slots.button_data("20:00–22:00")
    purpose = await press(tg, student, slots, "08:00–10:00")
    assert "用途" in (purpose.text or "")
    assert await student.say("班会") == (
        "预计多少人参加？这个房间最多容纳 40 人，请输入 1–40 之间的整数。"
    )
    assert (await student.say("41")).startswith("人数应在 1–40 人之间：这个房间最多容纳 40 人。")
    assert (await student.say("0")).startswith("人数应在 1–40 人之间")
    assert (await student.say("2.5")).startswith("请输入整数人数（1–40 人）。")
    summary = await student.say("12")
    assert summary == (
        "请确认您的预约：\n房间：1号楼阅览室（阅览室）\n日期：9月2日（周三）\n"
        "时段：08:00–10:00\n用途：班会\n人数：12"
    )
    done = await press(tg, student, last_message(tg, student), "✔ 提交")
    assert done.text is not None
    assert done.text.startswith("预约成功 B-1：1号楼阅览室，9月2日（周三）08:00–10:00。")

    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED and booking.request_id is None
    assert (booking.starts_at, booking.purpose, booking.attendees) == (WEDNESDAY_8, "班会", 12)
    async with campus.unit_of_work() as session:
        check_in = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.ref == "booking:1:checkin")
        )
    assert check_in is not None and check_in.next_attempt_at == WEDNESDAY_8

    # The "I'm here" message comes when the booking starts, not before.
    clock.now = WEDNESDAY_8 + timedelta(minutes=3)
    message = await tg.wait_for_bot_message(student.user.id, predicate=lambda m: bool(m.buttons))
    assert "现在开始了" in (message.text or "") and "15 分钟内" in (message.text or "")
    await tg.user_press(student.user, message, message.button_data("✅ 我已到场"))
    edited = await tg.wait_for_bot_message(
        student.user.id, predicate=lambda m: m.message_id == message.message_id
    )
    assert (edited.text or "").startswith("已签到：1号楼阅览室")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CHECKED_IN and booking.checked_in_at == clock.now


async def forge(tg: FakeTelegram, chat: Chat, data: str) -> None:
    """Press a button ``chat`` was never shown, as a forged update, and wait until it is judged."""
    tg.inject_update(
        {
            "callback_query": {
                "id": f"forged-{chat.user.id}",
                "from": {"id": chat.user.id, "is_bot": False, "first_name": "x"},
                "chat_instance": "1",
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": chat.user.id, "type": "private"},
                },
                "data": data,
            }
        }
    )
    # Updates of one chat are handled in order: once this is answered, the press was judged.
    assert "Community Assistant can do this" in await chat.say("/help")


async def test_an_activity_room_waits_for_the_counsellor_in_english(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_approved_room_summary(tg, student)
    assert "Attendees: 12" in (summary.text or "")
    done = await press(tg, student, summary, "✔ Submit")
    assert done.text is not None and done.text.startswith("Booking request B-1 sent")
    assert "while the community counsellor decides" in done.text
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.PENDING and booking.request_id == 1

    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert card.text is not None and "For your approval: booking B-1" in card.text
    assert "Room: Business School Party" in card.text
    assert "Time: Wed 2 Sep 08:00–10:00" in card.text and "Purpose: Class meeting" in card.text
    await tg.user_press(counsellor.user, card, card.button_data("✅ Approve"))
    news = await prompt(tg, student)
    assert news.text is not None and "Your booking B-1 is approved." in news.text
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED


async def test_back_cancel_and_the_rules_checks_on_the_way(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/book")
    kinds = await prompt(tg, student)
    rooms = await press(tg, student, kinds, "Party and League activity room")
    again = await press(tg, student, rooms, "« Back")
    assert again.text == "What kind of room would you like to book?"
    rooms = await press(tg, student, again, "Party and League activity room")
    days = await press(tg, student, rooms, "Business School Party & League Activity Room")
    assert days.text is not None
    assert (await student.say("2026-08-31")).startswith("That day has passed")
    assert (await student.say("2026-09-30")).startswith("That day is beyond the booking window")
    # Saturday: activity rooms are closed at weekends and on holidays.
    assert (await student.say("2026-09-05")).startswith("Rooms of this kind cannot be booked")
    assert (await student.say("not a day")).startswith("That is not a date I can read.")
    slots = await student.say("2026-09-03")
    assert slots == (
        "Pick a free slot. Check in within 15 minutes of its start, or the room is released."
    )
    purpose = await press(tg, student, last_message(tg, student), "10:00–12:00")
    assert purpose.text is not None and purpose.text.startswith("What is it for?")
    await student.say("Branch study")
    assert (await student.say("2.5")).startswith("Please type a whole number of people (1–50).")
    capacity = "Please type 1–50 people: this room holds at most 50."
    assert (await student.say("51")).startswith(capacity)
    assert (await student.say("0")).startswith(capacity)
    summary = await student.say("50")
    assert "Slot: 10:00–12:00" in summary and "Date: Thu 3 Sep" in summary
    back = await press(tg, student, last_message(tg, student), "« Back")
    assert back.text == (
        "How many people do you expect? This room holds up to 50; type a whole number from 1 to 50."
    )
    assert await student.say("/cancel") == "Cancelled; nothing was submitted."
    assert await bookings_in(campus) == []


QUOTA = {
    "zh-CN": "本周您已预约 3 次，达到上限，下周再来吧。",
    "en": "You have booked 3 times this week, the most allowed; please try again next week.",
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_a_quota_used_up_in_every_week_ahead_is_said_at_book(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    language: str,
) -> None:
    student = await linked(person, invite, STUDENT, language=language)
    # Three bookings in each week the 14 days ahead reach but the last: /book goes on.
    await book_growth(edge, campus, student, clock(), 2, 3, 4, 8, 9, 10, 14, 15)
    kinds = await student.say("/book")
    assert kinds.startswith("预约功能房" if language == "zh-CN" else "Book a room")
    assert await student.say("/cancel") in (
        "已取消，没有提交任何内容。",
        "Cancelled; nothing was submitted.",
    )
    # The third one of the last week too: refused at once, with the words the Submit has.
    await book_growth(edge, campus, student, clock(), 15, hour=18)
    assert await student.say("/book") == QUOTA[language]
    async with campus.unit_of_work() as session:
        states = (await session.scalars(select(ConversationState.status))).all()
    assert states == [ConversationStatus.CANCELLED]


async def test_a_reading_room_is_open_at_weekends(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_summary(tg, student, "Reading room", "Building 1 Reading Room", day="5")
    assert "Date: Sat 5 Sep" in (summary.text or "")
    done = await press(tg, student, summary, "✔ Submit")
    assert (done.text or "").startswith("Booked B-1")


async def test_a_restart_a_timeout_and_an_expired_button(
    campus: Database, tg: FakeTelegram, person: Person, invite: Invite, clock: Clock
) -> None:
    async with running(make_application(campus, tg, clock)):
        student = await linked(person, invite, STUDENT, language="en")
        await tg.user_send(student.user, "/book")
        kinds = await prompt(tg, student)
        rooms = await press(tg, student, kinds, "Reading room")
        days = await press(tg, student, rooms, "Building 1 Reading Room")
    # A new process: the conversation goes on from the store.
    async with running(make_application(campus, tg, clock)):
        slots = await press(tg, student, days, "3")
        assert (slots.text or "").startswith("Pick a free slot.")
        clock.advance(timedelta(minutes=31))
        query = await tg.user_press(student.user, slots, slots.button_data("08:00–10:00"))
        assert (await tg.wait_for_callback_answer(query)).show_alert
        expired = await prompt(tg, student)
        assert expired.text == "This conversation expired after a long silence; please start again."
        async with campus.unit_of_work() as session:
            states = (await session.scalars(select(ConversationState.status))).all()
        assert states == [ConversationStatus.EXPIRED]

        # A button of a conversation that was cancelled has expired.
        await tg.user_send(student.user, "/book")
        kinds = await prompt(tg, student)
        assert await student.say("/cancel") == "Cancelled; nothing was submitted."
        await settled(tg, student, kinds)
        answer = await press_in_flight(tg, student, kinds, "Growth service centre")
        assert answer.text == "This button has expired; please send the command again."
    assert await bookings_in(campus) == []


async def book_growth(
    edge: Edge, campus: Database, chat: Chat, now: datetime, *days: int, hour: int = 10
) -> None:
    """Book the Growth Service Centre for ``chat``'s person on each of ``days`` of September
    (at ``hour``, or four hours later for a day given twice)."""
    async with campus.unit_of_work() as session:
        actor = await actor_for(session, chat.user.id)
        assert actor is not None
        seen: set[int] = set()
        for day in days:
            await service(edge).create(
                session,
                actor,
                room_code="GROWTH",
                day=date(2026, 9, day),
                slot=f"{hour + 4 if day in seen else hour:02}:00",
                purpose="Tutoring",
                attendees=3,
                now=now,
            )
            seen.add(day)


def struck(label: str) -> str:
    """A calendar day or a list item that cannot be had, as its button shows it."""
    return "".join(char + "\u0336" for char in label)


async def test_the_weekly_quota_and_a_taken_slot(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    other = await linked(person, invite, "2023010002", language="en")
    await book_growth(edge, campus, student, clock(), 2, 3, 4)
    # A full week is said on the calendar: its days are struck through, and pressing one or
    # typing it says why, before any slot, purpose or number is asked; the next week is free.
    await tg.user_send(student.user, "/book")
    kinds = await prompt(tg, student)
    rooms = await press(tg, student, kinds, "Reading room")
    days = await press(tg, student, rooms, "Building 1 Reading Room")
    assert labels_of(days)[8:15] == ["·", "•" + struck("1"), *map(struck, "23456")]
    assert labels_of(days)[15:22] == [str(day) for day in range(7, 14)]
    quota = (
        "You already hold 3 bookings in that week, the most allowed; "
        "please choose a day in another week."
    )
    query = await tg.user_press(student.user, days, days.button_data(struck("3")))
    assert (await tg.wait_for_callback_answer(query)).text == quota
    assert (await student.say("2026-09-03")).startswith(quota)
    assert (await student.say("Sep 8")).startswith("Pick a free slot.")
    # Two people at the summary of the same slot: the second to submit hears it was taken.
    mine = await to_summary(tg, student, "Reading room", "Building 1 Reading Room", day="8")
    theirs = await to_summary(tg, other, "Reading room", "Building 1 Reading Room", day="8")
    assert (await press(tg, student, mine, "✔ Submit")).text == (
        "Booked B-4: Building 1 Reading Room, Tue 8 Sep 08:00–10:00.\n"
        "Once it starts, press “I'm here” within the check-in time or the booking is released. "
        "/bookings shows or cancels it."
    )
    taken = await press(tg, other, theirs, "✔ Submit")
    assert taken.text == (
        "Just taken: someone booked Building 1 Reading Room at 08:00–10:00 a moment ago. "
        "Send /book to pick another slot."
    )
    assert len(await bookings_in(campus)) == 4


async def test_a_shorter_slot_inside_a_booked_one_is_just_taken(
    campus: Database,
    tg: FakeTelegram,
    person: Person,
    invite: Invite,
    clock: Clock,
    tmp_path: Path,
) -> None:
    # Teachers book in one-hour slots, students in two-hour ones: one room, two slot lengths.
    async with running(
        make_application(campus, tg, clock, rules_dir=one_hour_for_teachers(tmp_path))
    ):
        teacher = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        growth = ("Growth service centre", "Growth Service Centre")
        # The teacher gets to the summary of 09:00-10:00 while it is free...
        theirs = await to_summary(tg, teacher, *growth, slot="09:00–10:00")
        assert "Slot: 09:00–10:00" in (theirs.text or "")
        # ...then the student books 08:00-10:00, which was free too...
        mine = await to_summary(tg, student, *growth, slot="08:00–10:00")
        booked = await press(tg, student, mine, "✔ Submit")
        assert (booked.text or "").startswith(
            "Booked B-1: Growth Service Centre, Wed 2 Sep 08:00–10:00."
        )
        # ...and the teacher's Submit finds the hour inside the student's booking.
        taken = await press(tg, teacher, theirs, "✔ Submit")
        assert taken.text == (
            "Just taken: someone booked Growth Service Centre at 09:00–10:00 a moment ago. "
            "Send /book to pick another slot."
        )
    [booking] = await bookings_in(campus)
    assert (booking.starts_at, booking.ends_at) == (WEDNESDAY_8, WEDNESDAY_8 + timedelta(hours=2))
    async with campus.unit_of_work() as session:
        student_actor = await actor_for(session, student.user.id)
    assert student_actor is not None and booking.person_id == student_actor.person_id


async def press_for_edit(
    tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str
) -> FakeMessage:
    """Press the button labelled ``label`` and return ``message`` as the bot then edits it."""
    await tg.user_press(chat.user, message, message.button_data(label))
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.message_id == message.message_id and m.edit_date is not None,
    )


async def slot_list(tg: FakeTelegram, chat: Chat, kind: str, room: str, day: str) -> FakeMessage:
    """/book up to the free slots of ``room`` on ``day``."""
    await tg.user_send(chat.user, "/book")
    kinds = await prompt(tg, chat)
    rooms = await press(tg, chat, kinds, kind)
    days = await press(tg, chat, rooms, room)
    return await press(tg, chat, days, day)


def labels_of(message: FakeMessage) -> list[str]:
    """The labels of a message's buttons, row by row."""
    return [b["text"] for row in message.buttons for b in row]


async def state_of(db: Database, chat: Chat) -> ConversationState:
    """The conversation ``chat``'s person has running."""
    async with db.unit_of_work() as session:
        actor = await actor_for(session, chat.user.id)
        assert actor is not None
        state = await session.scalar(
            select(ConversationState).where(
                ConversationState.person_id == actor.person_id,
                ConversationState.status == ConversationStatus.ACTIVE,
            )
        )
    assert state is not None
    return state


async def test_a_slot_taken_while_shown_is_refused_and_never_swapped_for_another(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    late = await linked(person, invite, STUDENT, language="en")
    quick = await linked(person, invite, "2023010002", language="en")
    growth = ("Growth service centre", "Growth Service Centre")
    shown = await slot_list(tg, late, *growth, day="2")
    assert labels_of(shown)[:2] == ["08:00–10:00", "10:00–12:00"]
    # Someone else books 08:00-10:00 while the list is on the screen.
    theirs = await to_summary(tg, quick, *growth, slot="08:00–10:00")
    assert (await press(tg, quick, theirs, "✔ Submit")).text.startswith("Booked B-1")

    refused = await press_for_edit(tg, late, shown, "08:00–10:00")
    assert refused.text == (
        "That choice is no longer available: it was taken or withdrawn a moment ago. "
        "Please pick again from the list as it is now.\n\n"
        "Pick a free slot. Check in within 15 minutes of its start, or the room is released."
    )
    # Said on the same list, where every other slot stays under the finger: the one taken is
    # struck through in its place, and pressing it again changes nothing.
    assert labels_of(refused)[:3] == [struck("08:00–10:00"), "10:00–12:00", "12:00–14:00"]
    assert labels_of(refused)[1:] == labels_of(shown)[1:]
    state = await state_of(campus, late)
    assert state.step == "slot" and "slot" not in state.answers
    query = await tg.user_press(late.user, refused, refused.button_data(struck("08:00–10:00")))
    assert (await tg.wait_for_callback_answer(query)).text == (
        "That choice is no longer available: it was taken or withdrawn a moment ago. "
        "Please pick again from the list as it is now."
    )
    assert (await state_of(campus, late)).version == state.version

    purpose = await press(tg, late, refused, "12:00–14:00")
    assert (purpose.text or "").startswith("What is it for?")
    await late.say("Class meeting")
    summary = await late.say("12")
    assert "Slot: 12:00–14:00" in summary
    done = await press(tg, late, last_message(tg, late), "✔ Submit")
    assert (done.text or "").startswith("Booked B-2: Growth Service Centre, Wed 2 Sep 12:00–14:00.")
    starts = [(b.person_id, b.starts_at) for b in await bookings_in(campus)]
    assert starts == [
        (starts[0][0], WEDNESDAY_8),
        (state.person_id, WEDNESDAY_8 + timedelta(hours=4)),
    ]
    assert starts[0][0] != state.person_id


async def test_slots_page_by_page_and_a_taken_one_on_the_second_page(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    # The psychological health studio has one-hour slots: 14 a day, on two pages.
    studio = ("Psychological health studio", "Psychological Health Studio")
    first = await slot_list(tg, student, *studio, day="2")
    assert labels_of(first) == [
        *(f"{h:02}:00–{h + 1:02}:00" for h in range(8, 16)),
        "1/2",
        "›",
        "« Back",
        "✖ Cancel",
    ]
    await tg.user_press(student.user, first, first.button_data("›"))
    second = await tg.wait_for_bot_message(
        student.user.id,
        predicate=lambda m: m.message_id == first.message_id and m.edit_date is not None,
    )
    assert labels_of(second)[:8] == [
        *(f"{h:02}:00–{h + 1:02}:00" for h in range(16, 22)),
        "‹",
        "2/2",
    ]
    # 17:00-18:00 is booked by someone else while the second page is on the screen.
    someone = await linked(person, invite, "2023010002")
    async with campus.unit_of_work() as session:
        other = await actor_for(session, someone.user.id)
        assert other is not None
        await service(edge).create(
            session,
            other,
            room_code="PSYCH",
            day=date(2026, 9, 2),
            slot="17:00",
            purpose="Talk",
            attendees=2,
            now=clock(),
        )
    refused = await press_for_edit(tg, student, second, "17:00–18:00")
    assert (refused.text or "").startswith("That choice is no longer available")
    # Still the second page, as it is now, every slot in its place.
    assert labels_of(refused)[:8] == [
        "16:00–17:00",
        struck("17:00–18:00"),
        *(f"{h:02}:00–{h + 1:02}:00" for h in (18, 19, 20, 21)),
        "‹",
        "2/2",
    ]
    await tg.user_press(student.user, refused, refused.button_data("‹"))
    back = await tg.wait_for_bot_message(
        student.user.id,
        predicate=lambda m: m.message_id == refused.message_id and m.edit_date is not None,
    )
    assert labels_of(back)[:2] == ["08:00–09:00", "09:00–10:00"]
    await press(tg, student, back, "09:00–10:00")
    await student.say("Counselling")
    assert "Slot: 09:00–10:00" in await student.say("2")
    done = await press(tg, student, last_message(tg, student), "✔ Submit")
    assert (done.text or "").startswith("Booking request B-2 sent")
    mine = [b for b in await bookings_in(campus) if b.purpose == "Counselling"]
    assert [b.starts_at for b in mine] == [WEDNESDAY_8 + timedelta(hours=1)]


async def test_my_bookings_cancel_and_nobody_else_may(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    other = await linked(person, invite, "2023010002", language="en")
    assert await student.say("/bookings") == (
        "You have no upcoming bookings. Send /book to book a room."
    )
    await press(
        tg,
        student,
        await to_summary(tg, student, "Reading room", "Building 1 Reading Room"),
        "✔ Submit",
    )
    summary = await to_summary(
        tg,
        student,
        "Psychological health studio",
        "Psychological Health Studio",
        slot="09:00–10:00",
        attendees="3",
    )
    # A room named as its kind is not named twice.
    assert (summary.text or "").startswith(
        "Please confirm your booking:\nRoom: Psychological Health Studio\nDate: Wed 2 Sep\n"
    )
    await press(tg, student, summary, "✔ Submit")
    # The request behind booking 2 is request 1: everyone still reads B-2.
    card = await tg.wait_for_bot_message(head.user.id)
    assert (card.text or "").startswith("For your approval: booking B-2\n")

    listing = await student.say("/bookings")
    assert listing == (
        "My bookings\n"
        "B-1 · Building 1 Reading Room · Wed 2 Sep 08:00–10:00 · confirmed\n"
        "B-2 · Psychological Health Studio · Wed 2 Sep 09:00–10:00 · waiting for approval"
    )
    shown = last_message(tg, student)
    assert [b["text"] for row in shown.buttons for b in row] == ["Cancel B-1", "Cancel B-2"]

    # Someone else pressing (a forged button) is refused and recorded.
    await forge(tg, other, BOOKING.pack(booking=2, action=CANCEL))
    # A second list shows the same button; pressed after the cancel, it finds nothing to do.
    await student.say("/bookings")
    stale = last_message(tg, student)

    question = await asked_to_cancel(tg, student, shown, "Cancel B-2")
    query = await tg.user_press(student.user, question, question.button_data("Yes, cancel it"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "Booking B-2 is cancelled."
    edited = await tg.wait_for_bot_message(
        student.user.id, predicate=lambda m: m.message_id == shown.message_id
    )
    assert edited.text == (
        "My bookings\nB-1 · Building 1 Reading Room · Wed 2 Sep 08:00–10:00 · confirmed"
    )
    withdrawn = await tg.wait_for_bot_message(
        head.user.id, predicate=lambda m: m.message_id == card.message_id
    )
    assert withdrawn.text == (
        "Withdrawn: booking B-2\n"
        "From: 郑博嘉\n"
        "Room: Psychological Health Studio\n"
        "Time: Wed 2 Sep 09:00–10:00\n"
        "Purpose: Class meeting\n"
        "Attendees: 3\n"
        "The applicant withdrew it; nothing more to decide."
    )
    assert withdrawn.buttons == []
    query = await tg.user_press(student.user, stale, stale.button_data("Cancel B-2"))
    assert (await tg.wait_for_callback_answer(query)).text == (
        "This booking has already been dealt with."
    )
    # Nothing was asked: the stale list stays as it was.
    assert tg.message(student.user.id, stale.message_id).buttons == stale.buttons

    bookings = await bookings_in(campus)
    assert [b.status for b in bookings] == [BookingStatus.CONFIRMED, BookingStatus.CANCELLED]
    async with campus.unit_of_work() as session:
        request = await session.get(Request, 1)
    refused = await refusals(campus, "booking.refused")
    assert request is not None and request.status is RequestStatus.CANCELLED
    assert [(a.detail["booking"], a.detail["action"]) for a in refused] == [(2, CANCEL)]
    # The slot is free again.
    summary = await to_summary(
        tg,
        other,
        "Psychological health studio",
        "Psychological Health Studio",
        slot="09:00–10:00",
        attendees="3",
    )
    assert "Slot: 09:00–10:00" in (summary.text or "")


async def asked_to_cancel(
    tg: FakeTelegram, chat: Chat, listing: FakeMessage, button: str
) -> FakeMessage:
    """Press ``button`` (a Cancel) of ``listing``; the list's message as it asks, once edited."""
    query = await tg.user_press(chat.user, listing, listing.button_data(button))
    assert (await tg.wait_for_callback_answer(query)).text is None
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.message_id == listing.message_id and m.edit_date is not None,
    )


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "zh",
            {
                "cancel": "取消 B-1",
                "question": "确定取消 1号楼阅览室 9月2日（周三）08:00–10:00 的预约吗？",
                "sure": "确定取消",
                "back": "返回",
                "cancelled": "预约 B-1 已取消。",
                "already": "这个预约已经处理过了。",
                "empty": "您目前没有将要进行的预约。发送 /book 预约功能房。",
            },
        ),
        (
            "en",
            {
                "cancel": "Cancel B-1",
                "question": (
                    "Cancel your booking of Building 1 Reading Room on Wed 2 Sep 08:00–10:00?"
                ),
                "sure": "Yes, cancel it",
                "back": "Back",
                "cancelled": "Booking B-1 is cancelled.",
                "already": "This booking has already been dealt with.",
                "empty": "You have no upcoming bookings. Send /book to book a room.",
            },
        ),
    ],
)
async def test_cancelling_a_booking_asks_once_and_the_second_tap_is_checked_again(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    language: str,
    words: dict[str, str],
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    other = await linked(person, invite, "2023010002", language="en")
    await press(
        tg,
        student,
        await to_summary(tg, student, "Reading room", "Building 1 Reading Room"),
        "✔ Submit",
    )
    await student.say(f"/lang {language}")
    await student.say("/bookings")
    first = last_message(tg, student)
    await student.say("/bookings")
    second = last_message(tg, student)

    # Cancel asks, in the list's own message, and changes nothing.
    question = await asked_to_cancel(tg, student, first, words["cancel"])
    assert question.text == words["question"]
    assert [b["text"] for row in question.buttons for b in row] == [words["sure"], words["back"]]
    assert [b.status for b in await bookings_in(campus)] == [BookingStatus.CONFIRMED]
    # Back is the list again, still with its Cancel.
    query = await tg.user_press(student.user, question, question.button_data(words["back"]))
    assert (await tg.wait_for_callback_answer(query)).text is None
    back = await tg.wait_for_bot_message(
        student.user.id, predicate=lambda m: m.message_id == first.message_id
    )
    assert back.text == first.text and back.buttons == first.buttons
    assert [b.status for b in await bookings_in(campus)] == [BookingStatus.CONFIRMED]

    # Someone else's forged "yes" is checked on the server: refused and recorded.
    await forge(tg, other, BOOKING.pack(booking=1, action=CANCEL_SURE))
    assert [b.status for b in await bookings_in(campus)] == [BookingStatus.CONFIRMED]
    assert len(await refusals(campus, "booking.refused")) == 1

    # Asked in both lists; the first "yes" cancels.
    asked = await asked_to_cancel(tg, student, back, words["cancel"])
    also = await asked_to_cancel(tg, student, second, words["cancel"])
    query = await tg.user_press(student.user, asked, asked.button_data(words["sure"]))
    assert (await tg.wait_for_callback_answer(query)).text == words["cancelled"]
    emptied = await tg.wait_for_bot_message(
        student.user.id, predicate=lambda m: m.message_id == first.message_id
    )
    assert emptied.text == words["empty"] and emptied.buttons == []
    assert [b.status for b in await bookings_in(campus)] == [BookingStatus.CANCELLED]
    # The second "yes" is checked again in full: already done, and its question gives way.
    query = await tg.user_press(student.user, also, also.button_data(words["sure"]))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == words["already"] and answer.show_alert
    shown = await tg.wait_for_bot_message(
        student.user.id, predicate=lambda m: m.message_id == second.message_id
    )
    assert shown.text == words["empty"]
    assert len(await refusals(campus, "booking.cancelled")) == 1


async def test_a_no_show_is_released_and_recorded(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    done = await press(
        tg,
        student,
        await to_summary(tg, student, "Reading room", "Building 1 Reading Room"),
        "✔ Submit",
    )
    assert (done.text or "").startswith("Booked")
    clock.now = WEDNESDAY_8 + timedelta(minutes=15)
    message = await tg.wait_for_bot_message(student.user.id, predicate=lambda m: bool(m.buttons))
    # Still within the check-in time: nothing is released.
    assert (await edge.ticker.run_once())["booking.release_no_shows"] == 0
    clock.advance(timedelta(minutes=1))
    done_jobs = await edge.ticker.run_once()
    assert done_jobs["booking.release_no_shows"] == 1
    told = await prompt(tg, student)
    assert (told.text or "").startswith("Nobody checked in to your booking B-1 of Building 1")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.RELEASED and booking.no_show
    query = await tg.user_press(student.user, message, message.button_data("✅ I'm here"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "The check-in time has passed; the booking was released."
    assert "no-show" not in await student.say("/bookings")


async def second_counsellor(db: Database) -> None:
    """Make SECOND_C1_COUNSELLOR a counsellor of community 1 too."""
    async with db.unit_of_work() as session:
        second = await repo.person_by_number(session, SECOND_C1_COUNSELLOR)
        building = await repo.building_by_code(session, "B1")
        assert second is not None and building is not None
        session.add(
            RoleAssignment(
                person_id=second.id,
                role=Role.COUNSELLOR,
                scope_kind=ScopeKind.COMMUNITY,
                scope_id=building.community_id,
            )
        )


async def test_approval_authority_first_decision_wins_and_the_requester_is_told(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    await second_counsellor(campus)
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    other_counsellor = await linked(person, invite, SECOND_C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_approved_room_summary(tg, student)
    await press(tg, student, summary, "✔ Submit")
    card = await tg.wait_for_bot_message(counsellor.user.id)
    other_card = await tg.wait_for_bot_message(other_counsellor.user.id)

    for judged, (who, number) in enumerate(OUTSIDERS.items(), start=1):
        outsider = await linked(person, invite, number, language="en")
        await forge(tg, outsider, APPROVAL.pack(request=1, stage=1, action="a"))
        assert len(await refusals(campus, "approval.refused")) == judged, who
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.PENDING

    # Both approvers press at the same moment: the first decision wins, the other is told.
    presses = [
        await tg.user_press(counsellor.user, card, card.button_data("✅ Approve")),
        await tg.user_press(
            other_counsellor.user, other_card, other_card.button_data("✅ Approve")
        ),
    ]
    answers = [(await tg.wait_for_callback_answer(query)).text for query in presses]
    assert sorted(answers, key=str) == [None, "This request has already been decided."]
    # Either may be first; both cards then name the one who was.
    winner = "朱晓雪" if answers[0] is None else "黄霞文"
    for approver, shown in ((counsellor, card), (other_counsellor, other_card)):
        updated = await tg.wait_for_bot_message(
            approver.user.id, predicate=lambda m, shown=shown: m.message_id == shown.message_id
        )
        assert updated.buttons == []
        assert (updated.text or "").startswith(f"Approved by {winner}: booking B-1\nFrom: 郑博嘉\n")
    news = await prompt(tg, student)
    assert "Your booking B-1 is approved." in (news.text or "")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED
    assert len(await refusals(campus, "approval.refused")) == len(OUTSIDERS)


async def test_a_rejection_frees_the_slot(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_approved_room_summary(tg, student)
    await press(tg, student, summary, "✔ Submit")
    card = await tg.wait_for_bot_message(counsellor.user.id)
    await tg.user_press(counsellor.user, card, card.button_data("❌ Reject"))
    ask = await prompt(tg, counsellor)
    assert ask.text == (
        "Reject a request\n\nWhy reject booking B-1? Type the reason; the applicant will see it."
    )
    confirm = await counsellor.say("The room is being painted")
    assert confirm == "Reject booking B-1?\nReason: The room is being painted"
    await press(tg, counsellor, last_message(tg, counsellor), "✔ Submit")
    news = await prompt(tg, student)
    assert "declined" in (news.text or "") and "The room is being painted" in (news.text or "")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.REJECTED
    again = await to_approved_room_summary(tg, student)
    assert "Slot: 08:00–10:00" in (again.text or "")


async def test_a_request_nobody_decides_before_the_start_lapses(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_approved_room_summary(tg, student)
    await press(tg, student, summary, "✔ Submit")
    card = await tg.wait_for_bot_message(counsellor.user.id)
    clock.advance(WEDNESDAY_8 - clock() - timedelta(minutes=1))
    await edge.ticker.run_once()
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.PENDING
    clock.advance(timedelta(minutes=1))
    await edge.ticker.run_once()
    news = await prompt(tg, student)
    assert "before it began, so it has lapsed" in (news.text or "")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CANCELLED
    async with campus.unit_of_work() as session:
        request = await session.get(Request, 1)
    assert request is not None and request.status is RequestStatus.CANCELLED
    await shows_lapsed(tg, counsellor, card)
    assert [a.detail for a in await refusals(campus, "approval.lapsed")] == [{"request": 1}]


async def test_a_card_decided_while_on_its_way_is_brought_up_to_date(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_approved_room_summary(tg, student)
    # The card reaches the counsellor; Telegram's answer is slow to reach the bot.
    held = tg.hold("sendMessage", chat_id=counsellor.user.id)
    await press(tg, student, summary, "✔ Submit")
    async with asyncio.timeout(5):
        await held.reached.wait()
    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert card.buttons
    # The request lapses meanwhile: the bot does not know the card's message id yet.
    clock.advance(WEDNESDAY_8 - clock())
    await edge.ticker.run_once()
    held.release()
    await shows_lapsed(tg, counsellor, card)


async def test_nobody_decides_their_own_booking(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    # The community's only counsellor books a room a counsellor approves.
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    done = await press(tg, counsellor, await to_approved_room_summary(tg, counsellor), "✔ Submit")
    assert "while the community party-building workstation head decides" in (done.text or "")
    assert await counsellor.say("/pending") == "Nothing is waiting for you."
    # Their own Approve and Reject, pressed on a card they were never sent, are refused.
    for action in ("a", "r"):
        await forge(tg, counsellor, APPROVAL.pack(request=1, stage=1, action=action))
    refused = await refusals(campus, "approval.refused")
    assert [(a.actor_person_id, a.detail["action"]) for a in refused] == [
        (refused[0].actor_person_id, "a"),
        (refused[0].actor_person_id, "r"),
    ]
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.PENDING
    assert not any("For your approval" in (m.text or "") for m in tg.messages(counsellor.user.id))

    # The next holder up has it, and decides.
    card = await tg.wait_for_bot_message(head.user.id)
    assert (card.text or "").startswith("For your approval: booking B-1\nFrom: 朱晓雪\n")
    await tg.user_press(head.user, card, card.button_data("✅ Approve"))
    news = await prompt(tg, counsellor)
    assert "Your booking B-1 is approved." in (news.text or "")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED
    async with campus.unit_of_work() as session:
        request = await session.get(Request, 1)
        decided = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "approval.approve")
        )
    assert request is not None and request.approver_role is Role.WORKSTATION_HEAD
    assert request.routed_by == "approval-fallback-counsellor"
    assert decided is not None and decided.actor_person_id != refused[0].actor_person_id


async def test_a_requester_who_shares_the_role_is_never_one_of_its_approvers(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    await second_counsellor(campus)
    other = await linked(person, invite, SECOND_C1_COUNSELLOR, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    await press(tg, counsellor, await to_approved_room_summary(tg, counsellor), "✔ Submit")
    card = await tg.wait_for_bot_message(other.user.id)
    assert "For your approval: booking B-1" in (card.text or "")
    await forge(tg, counsellor, APPROVAL.pack(request=1, stage=1, action="a"))
    assert len(await refusals(campus, "approval.refused")) == 1
    assert await counsellor.say("/pending") == "Nothing is waiting for you."
    assert "Booking B-1" in await other.say("/pending")
    await tg.user_press(other.user, card, card.button_data("✅ Approve"))
    assert "Your booking B-1 is approved." in ((await prompt(tg, counsellor)).text or "")


# How a card of booking B-1 reads once it no longer waits for its reader: its heading first,
# its last line why.
NO_LONGER_YOURS = {
    ("zh-hans", "withdrawn"): ("已撤回：预约 B-1", "申请人已撤回这项申请，无需再审批。"),
    ("en", "withdrawn"): (
        "Withdrawn: booking B-1",
        "The applicant withdrew it; nothing more to decide.",
    ),
    ("zh-hans", "lapsed"): ("已失效：预约 B-1", "开始前无人审批，预约已自动取消。"),
    ("en", "lapsed"): (
        "Lapsed: booking B-1",
        "Nobody decided it before it began, so it lapsed and the slot is free again.",
    ),
    ("zh-hans", "moved up"): (
        "已转交社区党建工作站站长：预约 B-1",
        "未在时限内审批，已交给上一级处理，这张卡片不再需要您处理。",
    ),
    ("en", "moved up"): (
        "Moved up to the community party-building workstation head: booking B-1",
        "Not decided in time, so it went up a level; nothing more to do on this card.",
    ),
}


@pytest.mark.parametrize(("language", "state"), sorted(NO_LONGER_YOURS))
async def test_a_cards_heading_says_where_the_request_stands(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    language: str,
    state: str,
) -> None:
    zh = language.startswith("zh")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language=language)
    if state == "moved up":
        await linked(person, invite, C1_WORKSTATION_HEAD, language=language)
    student = await linked(person, invite, STUDENT, language=language)
    rooms = ("党团活动室", "商学院党团活动室") if zh else ACTIVITY_ROOM
    summary = await to_summary(tg, student, *rooms)
    await press(tg, student, summary, "✔ 提交" if zh else "✔ Submit")
    card = await tg.wait_for_bot_message(counsellor.user.id)
    assert (card.text or "").startswith(
        "待您审批：预约 B-1\n" if zh else "For your approval: booking B-1\n"
    )
    if state == "withdrawn":
        await student.say("/bookings")
        listing = last_message(tg, student)
        asked = await asked_to_cancel(tg, student, listing, f"{'取消' if zh else 'Cancel'} B-1")
        sure = asked.button_data("确定取消" if zh else "Yes, cancel it")
        await tg.user_press(student.user, asked, sure)
    elif state == "lapsed":
        clock.now = WEDNESDAY_8
        await edge.ticker.run_once()
    else:
        # Two thirds of the 16 hours left before it starts: offered up.
        clock.advance(timedelta(hours=16) * 2 / 3)
        await edge.scheduler.run_due()
    shown = await tg.wait_for_bot_message(
        counsellor.user.id,
        predicate=lambda m: m.message_id == card.message_id and m.edit_date is not None,
    )
    heading, why = NO_LONGER_YOURS[(language, state)]
    lines = (shown.text or "").splitlines()
    assert (lines[0], lines[-1]) == (heading, why) and shown.buttons == []
