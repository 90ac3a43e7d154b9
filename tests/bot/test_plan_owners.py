"""Owners the plan names, through the running bot: the psychological health studio's bookings are
the community counsellor's to approve and the party-building studio's the workstation head's; a
college party organisation leader announces to their own college."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from assistant.app import Edge
from assistant.callbacks import APPROVAL
from assistant.domain import BookingStatus, Role
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import OutboxMessage, Request
from tests.bot.conftest import Chat
from tests.bot.test_booking import bookings_in, forge, refusals
from tests.bot.test_broadcasts import labels
from tests.bot.test_identity import STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

C1_WORKSTATION_HEAD, C1_COUNSELLOR = "T0004", "T0005"  # community 1: building 1, the studio
C3_WORKSTATION_HEAD, C3_COUNSELLOR = "T0008", "T0009"  # community 3: building 3, party studio
BUS_LEADER, ART_LEADER = "T0001", "T0002"  # college party organisation leaders
BUS_IN_ART_BUILDING = "2022010014"  # 杨军文, Business School, lives in B3-401 (community 3)
ART_IN_BUS_BUILDING = "2024020001"  # 罗怡, Art & Design, lives in B1-201 (community 1)
NOTICE = "本周四晚 19:00 在党团活动室开展党史学习，欢迎参加"

STUDIOS = {
    # kind and room as /book offers them, a slot, who approves, who must not
    "psychological health studio": (
        "心理健康工作室",
        "08:00–09:00",
        Role.COUNSELLOR,
        C1_COUNSELLOR,
        C1_WORKSTATION_HEAD,
        "社区辅导员",
    ),
    "party-building studio": (
        "党建工作室",
        "08:00–10:00",
        Role.WORKSTATION_HEAD,
        C3_WORKSTATION_HEAD,
        C3_COUNSELLOR,
        "社区党建工作站站长",
    ),
}


async def sent_to(db: Database, chat: Chat, word: str) -> list[str]:
    """The texts queued for ``chat`` that hold ``word``, sent or not yet."""
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat.user.id)
        )
        texts = [str(row.payload.get("text", "")) for row in rows]
    return [text for text in texts if word in text]


@pytest.mark.parametrize("studio", list(STUDIOS))
async def test_each_studios_bookings_go_to_the_owner_the_plan_gives_it(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, studio: str
) -> None:
    room, slot, role, approver_number, other_number, role_zh = STUDIOS[studio]
    approver = await linked(person, invite, approver_number)
    other = await linked(person, invite, other_number, language="en")
    student = await linked(person, invite, STUDENT)

    await tg.user_send(student.user, "/book")
    rooms = await press(tg, student, await prompt(tg, student), room)
    days = await press(tg, student, rooms, room)
    await press(tg, student, await press(tg, student, days, "2"), slot)
    await tg.user_send(student.user, "个别谈话" if role is Role.COUNSELLOR else "支部学习")
    await prompt(tg, student)
    await tg.user_send(student.user, "2")
    pending = await press(tg, student, await prompt(tg, student), "✔ 提交")
    assert f"等待{role_zh}审批" in (pending.text or "")

    card = await tg.wait_for_bot_message(
        approver.user.id, predicate=lambda m: "待您审批：预约 B-1" in (m.text or "")
    )
    async with campus.unit_of_work() as session:
        request = await session.scalar(select(Request))
    assert request is not None and request.approver_role is role
    # The other holder of the community gets no card and may not decide it.
    assert await sent_to(campus, other, "B-1") == []
    await forge(tg, other, APPROVAL.pack(request=1, stage=1, action="a"))
    assert len(await refusals(campus, "approval.refused")) == 1

    await tg.user_press(approver.user, card, card.button_data("✅ 同意"))
    news = await prompt(tg, student)
    assert "您的预约 B-1 已通过。" in (news.text or "")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED
    assert await sent_to(campus, other, "B-1") == []


async def test_a_college_party_leader_announces_to_their_college_wherever_its_people_live(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    ours = [await linked(person, invite, n) for n in (STUDENT, BUS_IN_ART_BUILDING)]
    theirs = await linked(person, invite, ART_IN_BUS_BUILDING)
    leader = await linked(person, invite, BUS_LEADER)

    await tg.user_send(leader.user, "/broadcast")
    level = await prompt(tg, leader)
    # Their college and what lies in it; never the school.
    assert labels(level) == ["楼层", "楼栋", "社区", "学院", "网格", "✖ 取消"]
    college = await press(tg, leader, level, "学院")
    assert "艺术设计学院" not in labels(college) and "机电学院" not in labels(college)
    who = await press(tg, leader, college, "商学院")
    how = await press(tg, leader, who, "全体住宿同学")
    # The two students and the leader: the college's people, wherever their dorm is.
    assert labels(how)[0] == "私信个人（3 人）"
    await press(tg, leader, how, "私信个人（3 人）")
    await tg.user_send(leader.user, NOTICE)
    summary = await prompt(tg, leader)
    await press(tg, leader, summary, "✔ 提交")
    started = await prompt(tg, leader)
    assert (started.text or "").startswith("群发 A-1 已开始：共 3 条发往商学院")

    for student in ours:
        notice = await tg.wait_for_bot_message(
            student.user.id, predicate=lambda m: NOTICE in (m.text or "")
        )
        assert "通知 · 商学院" in (notice.text or "") and "—— 王春浩" in (notice.text or "")
    assert await sent_to(campus, theirs, NOTICE) == []


async def test_a_college_party_leader_speaks_for_no_other_college(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    leader = await linked(person, invite, ART_LEADER, language="en")
    await tg.user_send(leader.user, "/broadcast")
    level = await prompt(tg, leader)
    assert "The whole school" not in labels(level)
    buildings = await press(tg, leader, level, "A building")
    assert labels(buildings)[:3] == ["Building 3", "Building 4", "« Back"]
    college = await press(tg, leader, buildings, "« Back")
    college = await press(tg, leader, college, "A college")
    assert labels(college) == ["School of Art & Design", "« Back", "✖ Cancel"]
    # Another college, typed, is no answer either.
    await tg.user_send(leader.user, "BUS")
    again = await prompt(tg, leader)
    assert (again.text or "").startswith("Please choose with the buttons below.")
