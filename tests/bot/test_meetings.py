"""The meeting system (会议制度, §七(一)) through the running bot: a head calls their unit's
meeting, everyone asked hears of it at once and the day before, the caller records the minutes
after it, and the coordination group reads them; who may do each is checked on the server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from assistant.app import running
from assistant.domain import Role, ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeCallbackQuery, FakeMessage
from assistant.services.meetings import MEETING
from assistant.storage.db import Database
from assistant.storage.models import (
    AuditEntry,
    Building,
    Firing,
    Meeting,
    OutboxMessage,
    Person,
    RoleAssignment,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import (
    C1_COUNSELLOR,
    FLOOR_1_GRID,
    FLOOR_1_LEADER,
    STUDENT,
    linked,
)
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
People = Callable[..., Chat]

C1_WORKSTATION_HEAD = "T0004"
C1_COMMITTEE_SECRETARY = "T0001"  # also the Business School's party leader
B1_CENTRE_HEAD = "2021010003"  # also B1's building leader
B1_MANAGER = "2023010007"
C2_WORKSTATION_HEAD = "T0006"
C2_COUNSELLOR = "T0007"
ORG_DEPARTMENT = "T0016"
YOUTH_LEAGUE = "T0031"


def at(clock: Clock, moment: datetime) -> None:
    clock.advance(moment - clock())


def campus_time(day: str, clock_time: str) -> datetime:
    """A campus (UTC+8) date and time as UTC."""
    return datetime.fromisoformat(f"{day}T{clock_time}+08:00").astimezone(UTC)


async def queued_for(db: Database, chat: Chat) -> list[str]:
    """The texts of every message the bot queued for ``chat``, sent or not."""
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat.user.id)
        )
        return [str(row.payload.get("text", "")) for row in rows]


async def audits(db: Database, action: str) -> list[dict[str, Any]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [row.detail for row in rows]


async def forged_press(tg: FakeTelegram, chat: Chat, data: str) -> str | None:
    """Press a button with ``data`` under the bot's latest message to ``chat``, a button it was
    never sent (as a forged or replayed press); the bot's answer."""
    message = [m for m in tg.messages(chat.user.id) if m.from_bot][-1]
    query = FakeCallbackQuery(
        id=str(4_200_000_000_000_000 + tg.state.unique_number()),
        user=chat.user,
        message=message,
        data=data,
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
            "data": data,
        },
    )
    return (await tg.wait_for_callback_answer(query.id)).text


async def read(tg: FakeTelegram, chat: Chat, *texts: str) -> None:
    """Wait for the bot's messages to ``chat`` that say each of ``texts``."""
    for text in texts:
        await tg.wait_for_bot_message(
            chat.user.id,
            predicate=lambda m, text=text: text in (m.text or ""),
        )


async def call(
    tg: FakeTelegram, chat: Chat, unit: str, topic: str, day: str, time: str
) -> FakeMessage:
    """/meeting in Chinese through to its summary."""
    await tg.user_send(chat.user, "/meeting")
    units = await prompt(tg, chat)
    assert "召集哪个会议？" in (units.text or "")
    topic_question = await press(tg, chat, units, unit)
    assert "会议议题是什么" in (topic_question.text or "")
    assert "哪一天开会" in await chat.say(topic)
    assert "几点开始" in await chat.say(day)
    assert "会议地点" in await chat.say(time)
    await tg.user_send(chat.user, "第一社区党建工作站办公室")
    return await prompt(tg, chat)


async def test_a_workstation_meeting_is_told_reminded_minuted_and_read_by_the_group(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)) as edge:
        head = await linked(person, invite, C1_WORKSTATION_HEAD)
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        secretary = await linked(person, invite, C1_COMMITTEE_SECRETARY)
        centre = await linked(person, invite, B1_CENTRE_HEAD, language="en")
        other = await linked(person, invite, C2_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        org = await linked(person, invite, ORG_DEPARTMENT, language="en")
        league = await linked(person, invite, YOUTH_LEAGUE)

        # 1 September, 16:00 on campus: the head calls the workstation's meeting of the 10th. A
        # time that is no time, or is past, is asked again.
        await tg.user_send(head.user, "/meeting")
        units = await prompt(tg, head)
        assert units.buttons[0][0]["text"] == "第一社区党建工作站"
        dates = await press(tg, head, units, "第一社区党建工作站")
        assert "哪一天开会" in await head.say("本学期工作部署")
        assert "几点开始" in await head.say("今天")
        assert "请输入还没有过去的时间" in await head.say("9:00")
        assert "请输入还没有过去的时间" in await head.say("25:00")
        await tg.user_send(head.user, "/cancel")
        await prompt(tg, head)
        del dates
        summary = await call(
            tg, head, "第一社区党建工作站", "本学期工作部署", "2026-09-10", "14:30"
        )
        assert "会议：第一社区党建工作站\n" in (summary.text or "")
        assert "时间：9月10日（周四）14:30" in (summary.text or "")
        done = await press(tg, head, summary, "✔ 提交")
        text = done.text or ""
        assert "已召集会议 M-1：第一社区党建工作站，9月10日（周四）14:30" in text
        # Its counsellor (also a sub-station head), committee secretary and B1's centre head.
        assert "会议通知已发给 3 位参会人员" in text

        notice = await tg.wait_for_bot_message(
            counsellor.user.id, predicate=lambda m: "Meeting notice" in (m.text or "")
        )
        assert "Meeting of: Community 1 party-building workstation" in (notice.text or "")
        assert "When: Thu 10 Sep 14:30" in (notice.text or "")
        await tg.wait_for_bot_message(
            secretary.user.id, predicate=lambda m: "会议通知" in (m.text or "")
        )
        await tg.wait_for_bot_message(
            centre.user.id, predicate=lambda m: "Agenda: 本学期工作部署" in (m.text or "")
        )

        # The day before, at the hour it starts: everyone asked is reminded.
        at(clock, campus_time("2026-09-09", "14:30"))
        await edge.scheduler.run_due()
        reminded = await tg.wait_for_bot_message(
            counsellor.user.id, predicate=lambda m: "Meeting reminder" in (m.text or "")
        )
        assert "M-1 is tomorrow" in (reminded.text or "")
        # The caller attends too.
        await tg.wait_for_bot_message(
            head.user.id, predicate=lambda m: "会议提醒" in (m.text or "")
        )

        # No minutes before it starts.
        data = MEETING.pack(meeting=1)
        assert await forged_press(tg, head, data) == "会议还没有开始，开始后才能记录纪要。"

        # Two hours after it starts its caller is asked for the minutes; nobody else may
        # record them, however they come by the button.
        at(clock, campus_time("2026-09-10", "16:30"))
        await edge.scheduler.run_due()
        ask = await tg.wait_for_bot_message(
            head.user.id, predicate=lambda m: "应已结束" in (m.text or "")
        )
        assert await forged_press(tg, counsellor, data) == (
            "Only the meeting's caller or the head of its unit can record its minutes."
        )
        assert await audits(campus, "meeting.refused") == [{"meeting": 1}]
        assert "No meeting is waiting for you" in await counsellor.say("/minutes")

        await tg.user_press(head.user, ask, ask.button_data("记录会议纪要"))
        question = await tg.wait_for_bot_message(
            head.user.id, predicate=lambda m: "哪些人出席" in (m.text or "")
        )
        assert "M-1 · 本学期工作部署（9月10日（周四）14:30）" in (question.text or "")
        assert "哪些人出席" in (question.text or "")
        assert "会议做出了哪些决定" in await head.say("王老师、刘老师、杨同学等 9 人")
        assert "发现或提出了哪些问题" in await head.say("分站下周起每周三开展党史学习")
        await tg.user_send(head.user, "1号楼 3 层消防通道堆放杂物")
        summary = await prompt(tg, head)
        assert "发现的问题：1号楼 3 层消防通道堆放杂物" in (summary.text or "")
        saved = await press(tg, head, summary, "✔ 提交")
        assert "会议 M-1 的纪要已保存" in (saved.text or "")

        # The group reads every unit's minutes; a counsellor does not.
        listing = await org.say("/meetings")
        assert "(the latest 1 of 1)" in listing
        assert (
            "M-1 · Thu 10 Sep · Community 1 party-building workstation · 本学期工作部署"
            " · ⚠️ problems found"
        ) in listing
        full = await org.say("/meetings M-1")
        assert "Attendees: 王老师、刘老师、杨同学等 9 人" in full
        assert "Decisions: 分站下周起每周三开展党史学习" in full
        assert "Problems found: 1号楼 3 层消防通道堆放杂物" in full
        assert "出席人员：王老师" in await league.say("/meetings 1")
        assert await counsellor.say("/meetings") == (
            "Meeting minutes are read by the offices of the coordination group."
        )
        assert "There are no minutes of meeting M-9" in await org.say("/meetings M-9")

        # Once recorded, the minutes stay as they are.
        assert await forged_press(tg, head, data) == "这次会议的纪要已经记录过了。"
        assert "目前没有等待您记录纪要的会议" in await head.say("/minutes")

    # Nobody outside the workstation heard of it.
    for chat in (other, student, org, league):
        assert not any("会议通知" in t or "notice" in t for t in await queued_for(campus, chat))


async def test_a_centre_head_calls_their_buildings_meeting_and_only_while_they_head_it(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)) as edge:
        centre = await linked(person, invite, B1_CENTRE_HEAD)
        manager = await linked(person, invite, B1_MANAGER, language="en")
        floor_leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
        grid = await linked(person, invite, FLOOR_1_GRID, language="en")
        student = await linked(person, invite, STUDENT, language="en")

        centre_meeting = "1号楼党建工作中心"
        summary = await call(tg, centre, centre_meeting, "楼栋安全检查", "2026-09-03", "19:00")
        done = await press(tg, centre, summary, "✔ 提交")
        # The building's manager, its floor leaders and its grids' party members and leaders.
        assert "已召集会议 M-1：1号楼党建工作中心" in (done.text or "")
        for chat in (manager, floor_leader, grid):
            notice = await tg.wait_for_bot_message(
                chat.user.id, predicate=lambda m: "Meeting notice" in (m.text or "")
            )
            assert "Meeting of: Building 1 party-building centre" in (notice.text or "")

        # Whoever stops heading the centre between the questions and Submit calls nothing: the
        # unit is checked again against their posts, not against what the questions offered.
        again = await call(tg, centre, centre_meeting, "党史学习", "2026-09-04", "19:00")
        async with campus.unit_of_work() as session:
            b2 = await session.scalar(select(Building.id).where(Building.code == "B2"))
            person_id = await session.scalar(
                select(Person.id).where(Person.number == B1_CENTRE_HEAD)
            )
            await session.execute(
                update(RoleAssignment)
                .where(
                    RoleAssignment.person_id == person_id,
                    RoleAssignment.role == Role.CENTRE_HEAD,
                    RoleAssignment.scope_kind == ScopeKind.BUILDING,
                )
                .values(scope_id=b2)
            )
        refused = await press(tg, centre, again, "✔ 提交")
        assert refused.text == "您不能召集这个会议：会议由该单位的负责人召集。"
        await edge.scheduler.run_due()
    async with campus.unit_of_work() as session:
        topics = list(await session.scalars(select(Meeting.topic)))
    assert topics == ["楼栋安全检查"]
    assert not any("Meeting notice" in t for t in await queued_for(campus, student))


async def test_the_coordination_groups_meeting_is_called_minuted_and_not_reminded_twice(
    campus: Database, tg: FakeTelegram, clock: Clock, person: People, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)) as edge:
        org = await linked(person, invite, ORG_DEPARTMENT, language="en")
        league = await linked(person, invite, YOUTH_LEAGUE)
        other_head = await linked(person, invite, C2_WORKSTATION_HEAD)
        await edge.ticker.run_once()

        # The standing meeting of week 2 (rules/reminders.yaml reminds the group of it) and an
        # extra one the Organisation Department calls on a Friday.
        for day, time, topic in (
            ("2026-09-14", "10:00", "Work plan and experience"),
            ("2026-09-18", "15:00", "National Day safety"),
        ):
            await tg.user_send(org.user, "/meeting")
            units = await prompt(tg, org)
            assert units.buttons[0][0]["text"] == "The coordination group"
            await press(tg, org, units, "The coordination group")
            await org.say(topic)
            await org.say(day)
            await org.say(time)
            await tg.user_send(org.user, "Administration building, room 301")
            summary = await prompt(tg, org)
            done = await press(tg, org, summary, "✔ Submit")
            assert "1 member was told" in (done.text or "")
            await tg.wait_for_bot_message(
                league.user.id, predicate=lambda m, t=topic: t in (m.text or "")
            )
    async with campus.unit_of_work() as session:
        planned = sorted(await session.scalars(select(Firing.key).where(Firing.key.like("mt:%"))))
    # The standing meeting is reminded of by the rules' reminders: no second reminder.
    assert planned == ["mt:1:minutes", "mt:2:minutes", "mt:2:remind"]

    async with running(make_application(campus, tg, clock)) as edge:
        # Another community's head has no minutes to record; the caller chooses among theirs.
        assert "目前没有等待您记录纪要的会议" in await other_head.say("/minutes")
        at(clock, campus_time("2026-09-14", "12:00"))
        await edge.scheduler.run_due()
        # The bot was down all week: the rules' reminders of it come late, once each.
        await read(
            tg,
            org,
            "should be over",
            "a week from today (Mon 14 Sep 10:00)",
            "tomorrow (Mon 14 Sep 10:00)",
        )
        await read(
            tg, league, "一周后，即9月14日（周一）10:00召开", "明天，即9月14日（周一）10:00召开"
        )
        await tg.user_send(org.user, "/minutes")
        choose = await tg.wait_for_bot_message(
            org.user.id, predicate=lambda m: "Which meeting are the minutes" in (m.text or "")
        )
        assert "Which meeting" in (choose.text or "")
        # Only the meeting that has begun.
        assert [b["text"] for row in choose.buttons[:-1] for b in row] == [
            "M-1 · Mon 14 Sep · Work plan and experience"
        ]
        question = await press(tg, org, choose, "M-1 · Mon 14 Sep · Work plan and experience")
        assert "Who attended?" in (question.text or "")
        await org.say("All six offices")
        problems = await org.say("Each office names a contact for the communities")
        assert "Skip" in problems
        skip = [m for m in tg.messages(org.user.id) if m.from_bot][-1]
        summary = await press(tg, org, skip, "Skip")
        assert "Problems found: none" in (summary.text or "")
        saved = await press(tg, org, summary, "✔ Submit")
        assert "minutes of meeting M-1 are saved" in (saved.text or "")
        listing = await league.say("/meetings")
        assert "M-1 · 9月14日（周一） · 党建进社区协调小组 · Work plan and experience" in listing
        assert "发现问题" not in listing
