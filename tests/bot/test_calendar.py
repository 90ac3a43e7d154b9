"""The date of /book through the fake Telegram: a calendar that looks like one, days that cannot
be had shown so and explained, dates typed the way people say them, examples that are real."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime

import pytest

from assistant.app import Edge
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.services import identity
from assistant.storage import repo
from assistant.storage.db import Database
from tests.bot.conftest import Chat, Clock
from tests.bot.test_booking import service, state_of, struck
from tests.bot.test_identity import C1_COUNSELLOR, STUDENT, linked
from tests.bot.test_report import press, prompt, settled

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

GROWTH = {
    "zh-CN": ("成长服务中心", "成长服务中心"),
    "en": ("Growth service centre", "Growth Service Centre"),
}
READING = {
    "zh-CN": ("阅览室", "1号楼阅览室"),
    "en": ("Reading room", "Building 1 Reading Room"),
}
# 16:00 campus time on Saturday 5 December 2026: the reading room still has its 18:00 and
# 20:00 slots today, and 10 December is within the 14 days one may book ahead.
SATURDAY = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


async def calendar(tg: FakeTelegram, chat: Chat, kind: str, room: str) -> FakeMessage:
    """/book up to its date question."""
    await tg.user_send(chat.user, "/book")
    kinds = await prompt(tg, chat)
    rooms = await press(tg, chat, kinds, kind)
    return await press(tg, chat, rooms, room)


def rows_of(message: FakeMessage) -> list[list[str]]:
    """The labels of a message's buttons, by row."""
    return [[b["text"] for b in row] for row in message.buttons]


async def fill(edge: Edge, campus: Database, clock: Clock, day: date) -> None:
    """A counsellor books every slot of the Growth Service Centre on ``day``."""
    async with campus.unit_of_work() as session:
        found = await repo.person_by_number(session, C1_COUNSELLOR)
        assert found is not None
        teacher = await identity.person_actor(session, found)
        for hour in range(8, 22, 2):
            await service(edge).create(
                session,
                teacher,
                room_code="GROWTH",
                day=day,
                slot=f"{hour:02}:00",
                purpose="Workshop",
                attendees=5,
                now=clock(),
            )


HEADERS = {
    "zh-CN": ("2026年9月", ["一", "二", "三", "四", "五", "六", "日"]),
    "en": ("September 2026", ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"]),
}
WHY = {
    "zh-CN": {
        "full": "这个房间这一天已经没有空闲时段了，请换一天。",
        "closed": "这类房间在这一天不开放预约，请换一天。",
        "window": "这一天超出了可预约的范围：最多可提前 14 天预约，最晚 9月15日（周二）。"
        "请选择更近的日期。",
    },
    "en": {
        "full": "This room has no free slot left that day; please choose another day.",
        "closed": "Rooms of this kind cannot be booked on that day; please choose another.",
        "window": "That day is beyond the booking window: rooms can be booked up to 14 days "
        "ahead, until Tue 15 Sep. Please choose an earlier day.",
    },
}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_the_calendar_shows_which_days_can_be_had_and_why_others_cannot(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    language: str,
) -> None:
    # Tuesday 1 September, 16:00 campus time; Thursday the 3rd is fully booked.
    await fill(edge, campus, clock, date(2026, 9, 3))
    student = await linked(person, invite, STUDENT, language=language)
    days = await calendar(tg, student, *GROWTH[language])
    month, weekdays = HEADERS[language]
    rows = rows_of(days)
    # The month alone: no month gone by to page back to, and none ahead with a day to book.
    assert rows[0] == [month]
    assert rows[1] == weekdays
    # Today marked; full (3), closed (weekends) and out-of-window (16 on) days struck through;
    # the days of other months are dots, never blank.
    assert rows[2] == ["·", "•1", "2", struck("3"), "4", struck("5"), struck("6")]
    assert rows[3] == ["7", "8", "9", "10", "11", struck("12"), struck("13")]
    assert rows[4] == ["14", "15", *map(struck, ("16", "17", "18", "19", "20"))]
    assert rows[6] == [struck("28"), struck("29"), struck("30"), "·", "·", "·", "·"]
    assert all(label.strip() for row in rows for label in row)
    # A struck-through day only says why when pressed; the question stays as it was.
    before = await state_of(campus, student)
    for label, why in ((struck("3"), "full"), (struck("5"), "closed"), (struck("16"), "window")):
        query = await tg.user_press(student.user, days, days.button_data(label))
        assert (await tg.wait_for_callback_answer(query)).text == WHY[language][why]
    after = await state_of(campus, student)
    assert (after.step, after.version, after.answers) == (
        "date",
        before.version,
        before.answers,
    )
    slots = await press(tg, student, days, "4")
    assert slots.message_id > days.message_id
    answered = "日期：9月4日（周五）" if language == "zh-CN" else "Date: Fri 4 Sep"
    assert (await settled(tg, student, days)).endswith(f"\n\n{answered}")


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_the_calendar_pages_only_to_months_with_a_day_to_book(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    language: str,
) -> None:
    # Friday 25 September: the 14 days ahead reach into October.
    clock.now = datetime(2026, 9, 25, 2, 0, tzinfo=UTC)
    student = await linked(person, invite, STUDENT, language=language)
    days = await calendar(tg, student, *READING[language])
    september = rows_of(days)
    assert september[0] == [HEADERS[language][0], "›"]
    assert september[2] == ["·", *map(struck, ("1", "2", "3", "4", "5", "6"))]
    assert september[5][4:] == ["•25", "26", "27"]
    passed = "这一天已经过去了" if language == "zh-CN" else "That day has passed"
    query = await tg.user_press(student.user, days, days.button_data(struck("24")))
    assert (await tg.wait_for_callback_answer(query)).text.startswith(passed)

    await tg.user_press(student.user, days, days.button_data("›"))
    october = await tg.wait_for_bot_message(
        student.user.id,
        predicate=lambda m: m.message_id == days.message_id and m.edit_date is not None,
    )
    rows = rows_of(october)
    # Back to September, and nothing further: no day of November can be booked yet.
    assert rows[0] == ["‹", "2026年10月" if language == "zh-CN" else "October 2026"]
    assert rows[2] == ["·", "·", "·", "1", "2", "3", "4"]
    assert rows[3] == ["5", "6", "7", "8", "9", *map(struck, ("10", "11"))]
    # The question keeps its words when its month turns.
    assert october.text == days.text
    slots = await press(tg, student, october, "9")
    assert slots.message_id > october.message_id


TYPED = [
    ("今天", date(2026, 12, 5)),
    ("明天", date(2026, 12, 6)),
    ("后天", date(2026, 12, 7)),
    ("周五", date(2026, 12, 11)),
    ("12月10日", date(2026, 12, 10)),
    ("12-10", date(2026, 12, 10)),
    ("2026-12-10", date(2026, 12, 10)),
    ("today", date(2026, 12, 5)),
    ("tomorrow", date(2026, 12, 6)),
    ("fri", date(2026, 12, 11)),
    ("Dec 10", date(2026, 12, 10)),
]


@pytest.mark.parametrize(("typed", "day"), TYPED)
@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_dates_are_typed_the_way_people_say_them(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    language: str,
    typed: str,
    day: date,
) -> None:
    clock.now = SATURDAY
    student = await linked(person, invite, STUDENT, language=language)
    days = await calendar(tg, student, *READING[language])
    await tg.user_send(student.user, typed)
    slots = await prompt(tg, student)
    assert (slots.text or "").startswith("请选择一个空闲时段" if language == "zh-CN" else "Pick")
    state = await state_of(campus, student)
    assert (state.step, state.answers["date"]) == ("slot", day.isoformat())
    assert (await settled(tg, student, days)).endswith(
        f"\n\n日期：{day.month}月{day.day}日（周{'一二三四五六日'[day.weekday()]}）"
        if language == "zh-CN"
        else f"\n\nDate: {day:%a} {day.day} {day:%b}"
    )


@pytest.mark.parametrize(
    ("language", "now", "asked", "refused"),
    [
        (
            "zh-CN",
            SATURDAY,
            "或输入日期，如“明天”“周一”“12月7日”。",
            "没能看懂这个日期。请输入如“12月7日”的日期，或在日历上选择。",
        ),
        (
            "en",
            SATURDAY,
            "or type one, e.g. “tomorrow”, “Mon” or “Dec 7”.",
            "That is not a date I can read. Type one like “Dec 7”, or pick a day on the calendar.",
        ),
        (
            "zh-CN",
            datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
            "或输入日期，如“明天”“周四”“9月3日”。",
            "没能看懂这个日期。请输入如“9月3日”的日期，或在日历上选择。",
        ),
    ],
)
async def test_the_example_of_a_typed_date_is_a_day_ahead_and_the_same_when_refused(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    clock: Clock,
    language: str,
    now: datetime,
    asked: str,
    refused: str,
) -> None:
    clock.now = now
    student = await linked(person, invite, STUDENT, language=language)
    days = await calendar(tg, student, *READING[language])
    window = (
        "可预约今天起 14 天内的日期（最晚 12月19日（周六））"
        if language == "zh-CN"
        else "Rooms can be booked up to 14 days ahead (until Sat 19 Dec)"
    )
    assert asked in (days.text or "")
    assert window in (days.text or "") or now != SATURDAY
    again = await student.say("someday soon")
    assert again.startswith(f"{refused}\n\n") and asked in again


async def test_today_is_the_campus_day_even_when_it_is_still_yesterday_in_utc(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    # 01:00 on Saturday 5 December on campus is 17:00 on Friday the 4th in UTC.
    clock.now = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
    student = await linked(person, invite, STUDENT, language="en")
    days = await calendar(tg, student, *READING["en"])
    assert rows_of(days)[2][4:] == [struck("4"), "•5", "6"]
    await tg.user_send(student.user, "today")
    await prompt(tg, student)
    assert (await state_of(campus, student)).answers["date"] == "2026-12-05"
