"""Office hours (坐班服务) through the running bot, on the shipped rules: teachers take turns in
the activity rooms with the student party members, /duty shows a person their coming shifts,
and /onduty shows a student who is on duty now and next near them, and when their community's
counsellors are in their office."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from assistant.app import running
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_duty import at, campus_time
from tests.bot.test_identity import STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]

BUS_LEADER = "T0001"  # 王春浩, a BUS teacher: the college party organisation leader
ART_LEADER = "T0002"  # 周诗, an ART teacher
ART_STUDENT = "2023020002"  # 罗娟洋, ART, B3-101


async def test_a_teacher_on_the_roster_is_seen_by_onduty_and_sees_their_shifts(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    # Sunday 13 September 2026, teaching week 1: the coming weeks are planned.
    at(clock, campus_time("2026-09-13", "10:00"))
    async with running(make_application(campus, tg, clock)) as edge:
        teacher = await linked(person, invite, BUS_LEADER)
        student = await linked(person, invite, STUDENT)
        await edge.ticker.run_once()

        # Teachers are in the pool (§四(一)): the fewest hours first puts one on Monday.
        mine = await teacher.say("/duty")
        assert mine.splitlines()[:2] == [
            "我的值班",
            "9月14日（周一）18:30–21:30 · 商学院党团活动室",
        ]
        assert "您不在" in await student.say("/duty")

        at(clock, campus_time("2026-09-14", "18:45"))
        board = await student.say("/onduty")
        assert board.splitlines()[:4] == [
            "党团活动室值班",
            "商学院党团活动室（1号楼）",
            "· 正在值班：王春浩，到 21:30",
            "· 下一班：9月15日（周二）18:30–21:30，刘涵阳",
        ]
        assert board.splitlines()[4:] == [
            "",
            "社区辅导员坐班",
            "第一社区 · 1号楼一楼社区辅导员办公室",
            "社区辅导员：朱晓雪",
            "周一至周五 14:00–17:00；周二、周四 19:00–21:00",
        ]


async def test_onduty_in_english_says_when_the_counsellors_office_is_open(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    at(clock, campus_time("2026-09-13", "10:00"))
    async with running(make_application(campus, tg, clock)) as edge:
        student = await linked(person, invite, ART_STUDENT, language="en")
        await edge.ticker.run_once()

        # Tuesday afternoon: the Art & Design room is staffed, the counsellors are in.
        at(clock, campus_time("2026-09-15", "15:00"))
        board = (await student.say("/onduty")).splitlines()
        assert board == [
            "On duty in the activity rooms",
            "School of Art & Design Party & League Activity Room (Building 3)",
            "· On duty now: 周诗, until 17:00",
            "· Next: Thu 17 Sep 14:00–17:00, 郑伟晨",
            "",
            "Counsellors' office hours",
            "Community 3 · Counsellors' office, Building 3, ground floor",
            "Counsellors: 邓远刚",
            "Monday to Friday 14:00–17:00",
            "Open now: you are welcome to drop in.",
        ]

        # On Saturday nobody is on duty and the office is closed.
        at(clock, campus_time("2026-09-19", "15:00"))
        board = (await student.say("/onduty")).splitlines()
        assert board[2] == "· Next: Tue 22 Sep 14:00–17:00, 邓远刚"
        assert board[-1] == "No office hours today."
