"""The coordination group (协调小组, §三) through the running bot: the Organisation Department and
the five offices taking part hear of the group's meetings a week and a day before, and nobody
else does; a scheduled broadcast can name the whole group or one office, whose members live in
no dorm."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from assistant.app import running
from assistant.config import REPO_ROOT
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import Broadcast, OutboxMessage
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import C1_COUNSELLOR, STUDENT, linked

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
ORG_DEPARTMENT = "T0016"
LOGISTICS_SECURITY = "T0028"  # 孙立新, 后勤保卫处
YOUTH_LEAGUE = "T0031"  # 郭晓峰, 校团委
SPORTS = "T0032"  # 谢志强, 体育部
STUDENT_AFFAIRS = "T0029"  # 党委学生工作部
COLLEGE_PARTY_LEADER = "T0001"
# Monday of week 2 of the autumn semester, 10:00 on campus (02:00 UTC): the group meets. Its
# offices hear of it a week and a day before, at that hour (§七(一)).
MEETING = datetime(2026, 9, 14, 2, 0, tzinfo=UTC)
WEEK_BEFORE = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)
DAY_BEFORE = datetime(2026, 9, 13, 2, 0, tzinfo=UTC)
# 2 September 2026 10:00 on campus.
DEPLOYMENT = datetime(2026, 9, 2, 2, 0, tzinfo=UTC)


def at(clock: Clock, moment: datetime) -> None:
    clock.advance(moment - clock())


def said(tg: FakeTelegram, chat: Chat) -> list[str]:
    return [message.text or "" for message in tg.messages(chat.user.id)]


async def queued_for(db: Database, chat: Chat) -> list[str]:
    """The texts of every message the bot queued for ``chat``, sent or not."""
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat.user.id)
        )
        return [str(row.payload.get("text", "")) for row in rows]


async def test_the_groups_meeting_reminder_reaches_every_office_of_the_group(
    campus: Database, tg: FakeTelegram, clock: Clock, person: Person, invite: Invite
) -> None:
    async with running(make_application(campus, tg, clock)) as edge:
        offices = [
            await linked(person, invite, number, language="en")
            for number in (ORG_DEPARTMENT, LOGISTICS_SECURITY, YOUTH_LEAGUE, SPORTS)
        ]
        zh_office = await linked(person, invite, STUDENT_AFFAIRS)
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        leader = await linked(person, invite, COLLEGE_PARTY_LEADER, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        await edge.ticker.run_once()

        for moment, when in (
            (WEEK_BEFORE, "a week from today (Mon 14 Sep 10:00)"),
            (DAY_BEFORE, "tomorrow (Mon 14 Sep 10:00)"),
        ):
            at(clock, moment)
            await edge.scheduler.run_due()
            for chat in offices:
                reminder = await tg.wait_for_bot_message(
                    chat.user.id,
                    predicate=lambda m: when in (m.text or ""),  # noqa: B023
                )
                text = reminder.text or ""
                assert "Coordination group meeting: work plan and experience" in text
                assert "The coordination group's offices, please attend." in text
        said_zh = [m.text or "" for m in tg.messages(zh_office.user.id)]
        assert any("一周后，即9月14日（周一）10:00召开" in text for text in said_zh)
        assert any("明天，即9月14日（周一）10:00召开" in text for text in said_zh)

        # Nothing on the hour it starts: it was said in time.
        at(clock, MEETING)
        await edge.scheduler.run_due()
    for chat in offices:
        queued = [t for t in await queued_for(campus, chat) if "Coordination group" in t]
        assert len(queued) == 2
    # Counsellors, college party leaders and students are not in the group.
    for chat in (counsellor, leader, student):
        assert not any("Coordination group" in t for t in await queued_for(campus, chat))


BROADCASTS = """
    broadcasts:
      - id: group-deployment
        name: {zh: 协调小组工作部署, en: Coordination group deployment}
        at: {date: 2026-09-02, time: "10:00"}
        audience: {scope_kind: school, roles: [coordination_group], channels: [people]}
        template: broadcast/national_day_safety
      - id: league-culture-month
        name: {zh: 社区文化月筹备, en: Community Culture Month preparations}
        at: {date: 2026-09-02, time: "10:00"}
        audience: {scope_kind: school, roles: [youth_league], channels: [people]}
        template: broadcast/national_day_safety
"""


async def test_a_scheduled_broadcast_names_the_group_or_one_office(
    campus: Database,
    tg: FakeTelegram,
    clock: Clock,
    person: Person,
    invite: Invite,
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    (rules / "broadcasts.yaml").write_text(textwrap.dedent(BROADCASTS).lstrip(), encoding="utf-8")
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        league = await linked(person, invite, YOUTH_LEAGUE, language="en")
        logistics = await linked(person, invite, LOGISTICS_SECURITY, language="en")
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        await edge.ticker.run_once()

        at(clock, DEPLOYMENT)
        await edge.scheduler.run_due()

        for chat, title in (
            (league, "Community Culture Month preparations"),
            (league, "Coordination group deployment"),
            (logistics, "Coordination group deployment"),
        ):
            await tg.wait_until(lambda: any(title in text for text in said(tg, chat)))  # noqa: B023
    async with campus.unit_of_work() as session:
        sent = {b.source: b.total for b in await session.scalars(select(Broadcast))}
    # Every linked member of the group's offices; only the Youth League Committee's.
    assert sent == {"group-deployment": 2, "league-culture-month": 1}
    assert not any("Culture Month" in text for text in await queued_for(campus, logistics))
    for chat in (counsellor, student):
        queued = await queued_for(campus, chat)
        assert not any("Coordination" in text or "Culture Month" in text for text in queued)
