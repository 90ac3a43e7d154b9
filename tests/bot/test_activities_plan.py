"""/activities plan through the running bot: the year's fixed activities per college and
community, held (with how many checked in), planned and missing; the Organisation Department
sees every college, a counsellor their own, a student nobody's; its pages turn in its own
message and a page outside the reader's colleges is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from assistant.app import Edge
from assistant.domain import ActivityStatus, Attendance, ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.storage.db import Database
from assistant.storage.models import Activity, College, Community, Person
from tests.bot.conftest import Chat, Clock
from tests.bot.test_activities import (
    C1_COUNSELLOR,
    FLOOR_3,
    STARTS,
    announcement,
    labels,
    listing,
    organise,
    sign_up,
    toast,
)
from tests.bot.test_identity import linked
from tests.bot.test_talks import forged

Invite = Callable[[str], Awaitable[str]]
Person_ = Callable[..., Chat]
ORG_DEPARTMENT = "T0016"
# 5 December 2026, 10:00 on campus: September's to December's windows have opened.
DECEMBER = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


async def unit_id(campus: Database, table: type[College] | type[Community], code: str) -> int:
    async with campus.unit_of_work() as session:
        found = await session.scalar(select(table.id).where(table.code == code))
    assert found is not None
    return found


async def add_activity(
    campus: Database,
    kind: str,
    scope: tuple[ScopeKind, int],
    starts: datetime,
    status: ActivityStatus,
) -> None:
    """An activity in the store as /activity leaves it (the plan only reads them)."""
    async with campus.unit_of_work() as session:
        organiser = await session.scalar(select(Person.id).where(Person.number == C1_COUNSELLOR))
        assert organiser is not None
        session.add(
            Activity(
                kind=kind,
                title=kind,
                organiser_person_id=organiser,
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                place="Hall",
                capacity=50,
                scope_kind=scope[0],
                scope_id=scope[1],
                audience={},
                signup_deadline=starts - timedelta(hours=3),
                attendance=Attendance.NONE,
                status=status,
                positions=0,
                created_at=starts - timedelta(days=7),
                updated_at=starts - timedelta(days=7),
            )
        )


async def held_with_check_in(
    edge: Edge, tg: FakeTelegram, clock: Clock, person: Person_, invite: Invite
) -> None:
    """C1's counsellor holds a party-history quiz for floor B1-3 on 2 September; one of the
    three who signed up checks in, and it ends."""
    organiser = await linked(person, invite, C1_COUNSELLOR, language="en")
    first, second, third = [await linked(person, invite, number) for number in FLOOR_3[:3]]
    await organise(tg, organiser, capacity=3)
    for chat in (first, second, third):
        await sign_up(tg, chat, await announcement(tg, chat))
    clock.now = STARTS - timedelta(minutes=20)
    mine = await listing(tg, organiser)
    assert await toast(tg, organiser, mine, "E-1 · Open check-in") == "Check-in is open."
    button = await tg.wait_for_bot_message(
        first.user.id, predicate=lambda m: "✅ 签到" in labels(m)
    )
    assert await toast(tg, first, button, "✅ 签到") == "签到成功！"
    clock.now = STARTS + timedelta(hours=3)
    await edge.scheduler.run_due()
    await tg.wait_for_bot_message(
        organiser.user.id, predicate=lambda m: (m.text or "").startswith("📋")
    )


async def the_year(
    edge: Edge, tg: FakeTelegram, clock: Clock, person: Person_, invite: Invite, campus: Database
) -> None:
    """The school year 2026-27 as of 5 December: the quiz held in C1 with a check-in; the badge
    ceremony held for the whole school; the Dorm Cup planned for C3; the Business School's
    festival planned for its communities; March's sharing session in C1 called off."""
    await held_with_check_in(edge, tg, clock, person, invite)
    clock.now = DECEMBER
    school = (ScopeKind.SCHOOL, 0)
    c1 = (ScopeKind.COMMUNITY, await unit_id(campus, Community, "C1"))
    c3 = (ScopeKind.COMMUNITY, await unit_id(campus, Community, "C3"))
    business = (ScopeKind.COLLEGE, await unit_id(campus, College, "BUS"))
    await add_activity(
        campus,
        "badge-ceremony",
        school,
        datetime(2026, 9, 10, 11, tzinfo=UTC),
        ActivityStatus.ENDED,
    )
    await add_activity(
        campus, "dorm-cup", c3, datetime(2026, 12, 12, 6, tzinfo=UTC), ActivityStatus.OPEN
    )
    await add_activity(
        campus,
        "culture-festival",
        business,
        datetime(2027, 5, 14, 6, tzinfo=UTC),
        ActivityStatus.PENDING,
    )
    await add_activity(
        campus,
        "exam-sharing",
        c1,
        datetime(2027, 3, 10, 6, tzinfo=UTC),
        ActivityStatus.CANCELLED,
    )


async def plan(tg: FakeTelegram, chat: Chat, command: str = "/activities plan") -> FakeMessage:
    await tg.user_send(chat.user, command)
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.edit_date is None and "/activities" not in (m.text or ""),
    )


async def page(tg: FakeTelegram, chat: Chat, message: FakeMessage, label: str) -> FakeMessage:
    """Press ``label`` under the plan; the plan's message once it shows the new page."""
    before = tg.message(chat.user.id, message.message_id).text
    query = await tg.user_press(chat.user, message, message.button_data(label))
    await tg.wait_for_callback_answer(query)
    await tg.wait_until(lambda: tg.message(chat.user.id, message.message_id).text != before)
    return tg.message(chat.user.id, message.message_id)


async def test_the_organisation_department_sees_every_college_held_planned_and_missing(
    edge: Edge,
    tg: FakeTelegram,
    clock: Clock,
    person: Person_,
    invite: Invite,
    campus: Database,
) -> None:
    await the_year(edge, tg, clock, person, invite, campus)
    office = await linked(person, invite, ORG_DEPARTMENT)
    overview = await plan(tg, office)
    assert overview.text == (
        "📋 2026—2027 学年固定活动（共 13 项，截至12月5日（周六））\n"
        "每个社区的每项固定活动：已举办、计划中（已发起，尚未结束）、未安排（时间已到，还没有发起）"
        "或时间未到。\n\n"
        "商学院：已举办 4 / 计划中 2 / 未安排 16 / 时间未到 4\n"
        "· 第一社区：已举办 3 / 计划中 1 / 未安排 7 / 时间未到 2\n"
        "· 第二社区：已举办 1 / 计划中 1 / 未安排 9 / 时间未到 2\n\n"
        "艺术设计学院：已举办 2 / 计划中 1 / 未安排 17 / 时间未到 4\n"
        "· 第三社区：已举办 1 / 计划中 1 / 未安排 8 / 时间未到 2\n"
        "· 第四社区：已举办 1 / 计划中 0 / 未安排 9 / 时间未到 2\n\n"
        "机电学院：已举办 2 / 计划中 0 / 未安排 18 / 时间未到 4\n"
        "· 第五社区：已举办 1 / 计划中 0 / 未安排 9 / 时间未到 2\n"
        "· 第六社区：已举办 1 / 计划中 0 / 未安排 9 / 时间未到 2\n\n"
        "请按下面的按钮查看一个社区每项活动的情况（按钮上 ⚠️ 后的数字是未安排的项数）。"
    )
    assert labels(overview) == [
        "第一社区 · ⚠️7",
        "第二社区 · ⚠️9",
        "第三社区 · ⚠️8",
        "第四社区 · ⚠️9",
        "第五社区 · ⚠️9",
        "第六社区 · ⚠️9",
    ]
    # The bare command shows the same: what someone trying it first expects.
    assert (await plan(tg, office, "/activities")).text == overview.text

    first = await page(tg, office, overview, "第一社区 · ⚠️7")
    assert first.text == (
        "📋 第一社区（商学院） · 2026—2027 学年固定活动\n"
        "已举办 3 / 计划中 1 / 未安排 7 / 时间未到 2\n\n"
        "✅ 9月 · 挂牌仪式：已举办 E-2（9月10日（周四））\n"
        "⚠️ 9月 · 新生入学答疑解惑：未安排\n"
        "✅ 10、11、12月 · 学习“二十大”精神进社区：已举办 E-1（9月2日（周三），签到 1 人）\n"
        "　└ ⚠️ 10月 · 音乐党课：未安排\n"
        "　└ ⚠️ 10月 · 三人篮球：未安排\n"
        "　└ ⚠️ 11月 · 红歌赛：未安排\n"
        "　└ ✅ 11月 · 党史知识竞赛：已举办 E-1（9月2日（周三），签到 1 人）\n"
        "　└ ⚠️ 12月 · 演讲比赛：未安排\n"
        "⚠️ 10月 · 插班生学习经验分享座谈会：未安排\n"
        "⚠️ 11月 · “宿舍杯”篮球赛：未安排\n"
        "⏳ 3月 · 考研经验分享座谈会：时间未到\n"
        "⏳ 4月 · 社区文化月：时间未到\n"
        "🗓 5月 · 社区文化节：计划中 E-4（2027年5月14日（周五））"
    )
    assert labels(first) == ["第二社区 ›", "« 总览"]
    third = await page(tg, office, await page(tg, office, first, "第二社区 ›"), "第三社区 ›")
    assert "🗓 11月 · “宿舍杯”篮球赛：计划中 E-3（12月12日（周六））" in (third.text or "")
    # A college's own fixed activity is not expected of the other colleges' communities.
    assert "社区文化节" not in (third.text or "")
    assert labels(third) == ["‹ 第二社区", "第四社区 ›", "« 总览"]
    back = await page(tg, office, third, "« 总览")
    assert back.text == overview.text
    for message in (overview, first, third):
        assert len(message.text or "") <= 4096


async def test_a_counsellor_sees_their_college_in_english_and_a_student_is_refused(
    edge: Edge,
    tg: FakeTelegram,
    clock: Clock,
    person: Person_,
    invite: Invite,
    campus: Database,
) -> None:
    await the_year(edge, tg, clock, person, invite, campus)
    counsellor = await linked(person, invite, "T0007", language="en")  # C2's counsellor
    overview = await plan(tg, counsellor)
    assert overview.text == (
        "📋 Fixed activities, school year 2026–27 (13 in all, as of Sat 5 Dec)\n"
        "Each fixed activity of each community is held, planned (set up, not over yet), missing "
        "(its time has come and nobody has set it up) or not yet due.\n\n"
        "Business School: held 4 / planned 2 / missing 16 / not yet due 4\n"
        "· Community 1: held 3 / planned 1 / missing 7 / not yet due 2\n"
        "· Community 2: held 1 / planned 1 / missing 9 / not yet due 2\n\n"
        "Press a community below to see each of its activities (the number after ⚠️ is how "
        "many are missing)."
    )
    assert labels(overview) == ["Community 1 · ⚠️7", "Community 2 · ⚠️9"]
    second = await page(tg, counsellor, overview, "Community 2 · ⚠️9")
    text = second.text or ""
    assert text.startswith(
        "📋 Community 2 (Business School) · fixed activities, school year 2026–27\n"
        "held 1 / planned 1 / missing 9 / not yet due 2\n\n"
        "✅ September · Badge ceremony: held E-2 (Thu 10 Sep)\n"
        "⚠️ September · Questions answered for freshmen: missing\n"
        "⚠️ October, November, December · Studying the 20th Party Congress in the "
        "communities: missing\n"
        "    └ ⚠️ October · Music party lesson: missing\n"
    )
    assert text.endswith(
        "⏳ March · Sharing session for graduate-exam candidates: not yet due\n"
        "⏳ April · Community Culture Month: not yet due\n"
        "🗓 May · Community Culture Festival: planned E-4 (Fri 14 May 2027)"
    )
    # Another college's page, forged, is not theirs.
    c3 = await unit_id(campus, Community, "C3")
    answer = await forged(tg, counsellor, f"apl:m{c3}")
    assert answer.show_alert and "expired" in (answer.text or "")

    student = await linked(person, invite, FLOOR_3[3], language="en")
    assert await student.say("/activities plan") == (
        "The year's activity plan is for the owners of the fixed activities, college party "
        "organisation leaders and the Organisation Department.\n"
        "To see the activities you signed up for, send /myactivities."
    )
    zh_student = await linked(person, invite, FLOOR_3[4])
    assert await zh_student.say("/activities") == (
        "年度活动计划由各项固定活动的负责单位、二级学院党组织负责人和党委组织部查看。\n"
        "您报名的活动请发送 /myactivities 查看。"
    )
    # Its page's button, forged, is refused on the server too.
    answer = await forged(tg, student, "apl:0")
    assert answer.show_alert and "Organisation Department" in (answer.text or "")
    assert await counsellor.say("/activities what") == (
        "Send /activities plan to see this school year's fixed activities: what each college "
        "and community has held, planned and not yet set up."
    )
