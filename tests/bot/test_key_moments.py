"""Key moments of the year (§五(二)) through the running bot: new residents are welcomed to their
floor as they link during freshmen arrival, graduates get their leaving checklist when the
graduation period begins, and in exam weeks the reading rooms and the activity rooms' duty run
longer instead of closing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from assistant.app import running
from assistant.domain import ShiftStatus
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import DutyShift, FunctionalRoom, OutboxMessage
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_booking import labels_of, slot_list
from tests.bot.test_identity import C1_COUNSELLOR, STUDENT

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]

ROOMMATE = "2023010002"  # 杜阳豪, B1-101, graduates in 2027 like 郑博嘉
DORM_HEAD = "2024010001"  # 肖伟, B1-101, graduates in 2028
GRADUATED = "2021010001"  # 彭强杰, B1-101, graduated in 2025
B2_GRADUATE = "2023010014"  # B2's building leader, graduates in 2027
CAMPUS = ZoneInfo("Asia/Shanghai")


def at(clock: Clock, moment: datetime) -> None:
    clock.advance(moment - clock())


def campus_time(day: str, clock_time: str) -> datetime:
    """A campus (UTC+8) date and time as UTC."""
    return datetime.fromisoformat(f"{day}T{clock_time}+08:00").astimezone(UTC)


async def link(chat: Chat, invite: Invite, number: str) -> str:
    """Link ``chat`` to ``number``; the bot's answer."""
    return await chat.say(f"/start {await invite(number)}")


async def queued_for(db: Database, chat: Chat) -> list[str]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat.user.id)
        )
        return [str(row.payload.get("text", "")) for row in rows]


async def test_a_new_resident_is_welcomed_to_their_floor_as_they_link_during_arrival(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    # 1 September 2026, 16:00 on campus: freshmen arrival (calendar.yaml) has begun.
    async with running(make_application(campus, tg, clock)):
        zh = await link(person("zh", language_code="zh-hans"), invite, STUDENT)
        assert zh.startswith("绑定成功，郑博嘉！")
        assert "🏠 欢迎入住1号楼 1 层！" in zh
        assert "宿舍长：肖伟" in zh
        assert "学生党员层长：徐梦" in zh
        assert "网格党员：杨兰" in zh
        assert "社区辅导员：" in zh
        assert "本层党员：徐梦（102 室）\n有困难可以随时找他们" in zh
        assert "/report" in zh and "只有辅导员能看到" in zh
        # Who is welcomed is a person, not a role: the building's centre head is not named.
        assert "楼栋党建工作中心负责人" not in zh

        en = await link(person("en", language_code="en"), invite, ROOMMATE)
        assert en.startswith("You are linked, 杜阳豪!")
        assert "🏠 Welcome to Building 1, floor 1!" in en
        assert "Floor leader (student party member): 徐梦" in en
        assert "is read by the counsellors only" in en

        # Someone who lives in no dorm has no floor to be welcomed to.
        counsellor = await link(person("t", language_code="en"), invite, C1_COUNSELLOR)
        assert "Welcome to" not in counsellor

        # Arrival is over on the 7th: linking is just linking again.
        at(clock, campus_time("2026-09-07", "09:00"))
        later = await link(person("later", language_code="en"), invite, DORM_HEAD)
        assert later.startswith("You are linked, 肖伟!") and "Welcome to" not in later


async def test_graduates_get_their_leaving_checklist_when_the_graduation_period_begins(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2027-06-13", "12:00"))
    async with running(make_application(campus, tg, clock)) as edge:
        chats = {}
        for number, language in (
            (STUDENT, "zh-hans"),
            (B2_GRADUATE, "en"),
            (DORM_HEAD, "en"),
            (GRADUATED, "en"),
            (C1_COUNSELLOR, "en"),
        ):
            chats[number] = chat = person(number, language_code=language)
            await link(chat, invite, number)
        await edge.ticker.run_once()

        # 14 June 2027, 09:00 on campus: the graduation period (calendar.yaml) begins.
        at(clock, campus_time("2027-06-14", "09:00"))
        await edge.scheduler.run_due()
        zh = await tg.wait_for_bot_message(chats[STUDENT].user.id)
        assert (zh.text or "").startswith("🎓 毕业生离校清单：祝贺您即将毕业！")
        assert "归还宿舍钥匙" in (zh.text or "")
        en = await tg.wait_for_bot_message(chats[B2_GRADUATE].user.id)
        assert (en.text or "").startswith("🎓 Leaving checklist for graduates: congratulations")
    # Only this year's graduates: not next year's, not those who left, not the staff.
    for number in (DORM_HEAD, GRADUATED, C1_COUNSELLOR):
        assert not any("checklist" in t for t in await queued_for(campus, chats[number]))


async def test_reading_rooms_open_longer_in_exam_weeks(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    # Wednesday of teaching week 18 of the autumn semester; exam weeks 19 and 20 follow.
    at(clock, campus_time("2027-01-06", "07:00"))
    async with running(make_application(campus, tg, clock)):
        student = person("s", language_code="en")
        await link(student, invite, STUDENT)
        reading = ("Reading room", "Building 1 Reading Room")
        teaching = await slot_list(tg, student, *reading, day="8")  # Friday, week 18
        assert labels_of(teaching)[:1] == ["08:00–10:00"]
        assert "20:00–22:00" in labels_of(teaching)
        await tg.user_send(student.user, "/cancel")
        await tg.wait_for_bot_message(
            student.user.id, predicate=lambda m: "Cancelled" in (m.text or "")
        )
        exams = await slot_list(tg, student, *reading, day="12")  # Tuesday, exam week 19
        assert labels_of(exams)[:1] == ["07:00–09:00"]
        assert "21:00–23:00" in labels_of(exams)


async def test_activity_rooms_duty_runs_longer_in_exam_weeks_not_skipped(
    campus: Database, tg: FakeTelegram, clock: Clock
) -> None:
    # Monday of teaching week 18: the next four weeks reach into both exam weeks.
    at(clock, campus_time("2027-01-04", "08:00"))
    async with running(make_application(campus, tg, clock)) as edge:
        await edge.ticker.run_once()
    async with campus.unit_of_work() as session:
        room = await session.scalar(select(FunctionalRoom).where(FunctionalRoom.code == "BUS-ACT"))
        assert room is not None
        rows = await session.scalars(
            select(DutyShift).where(DutyShift.room_id == room.id).order_by(DutyShift.starts_at)
        )
        shifts = [
            (
                f"{s.starts_at.astimezone(CAMPUS):%m-%d %a %H:%M}–"
                f"{s.ends_at.astimezone(CAMPUS):%H:%M}",
                s.status,
            )
            for s in rows
        ]
    week_18 = [s for s in shifts if s[0] < "01-11"]
    assert [s for s, _ in week_18] == [
        f"01-{day} {name} 18:30–21:30"
        for day, name in (("04", "Mon"), ("05", "Tue"), ("06", "Wed"), ("07", "Thu"), ("08", "Fri"))
    ]
    exam_week = [s for s in shifts if "01-11" <= s[0] < "01-18"]
    # Every day, the weekend too, afternoon and evening, nothing skipped (§五(二)).
    assert len(exam_week) == 14
    assert exam_week[:2] == [
        ("01-11 Mon 14:00–17:30", ShiftStatus.PLANNED),
        ("01-11 Mon 18:30–22:00", ShiftStatus.PLANNED),
    ]
    assert ("01-16 Sat 18:30–22:00", ShiftStatus.PLANNED) in exam_week
    assert {status for _, status in exam_week} == {ShiftStatus.PLANNED}
