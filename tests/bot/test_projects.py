"""Community party-building projects end to end: the application in both languages, every stage
of the review to the decision, and everyone who may not decide a stage refused and audited."""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.app import Edge, running
from assistant.callbacks import APPROVAL
from assistant.config import REPO_ROOT
from assistant.domain import RequestStatus, Role, ScopeKind
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.services.projects import SCORE
from assistant.storage.db import Database
from assistant.storage.models import (
    AuditEntry,
    Community,
    ConversationState,
    ConversationStatus,
    Firing,
    FiringStatus,
    OutboxMessage,
    Person,
    ProjectScore,
    Request,
    RoleAssignment,
)
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import linked
from tests.bot.test_report import press, press_in_flight, prompt, settled

Invite = Callable[[str], Awaitable[str]]
Person_ = Callable[..., Chat]

HEAD = "T0004"  # 刘涵阳, workstation head of C1 (Business School)
COUNSELLOR = "T0005"  # 朱晓雪, counsellor of C1
BUS_LEADER = "T0001"  # 王春浩, college party leader of the Business School
ORG = "T0016"  # 刘志怡, Organisation Department
ORG_2 = "T0017"  # 黄鹏, Organisation Department
EXPERT_A = "T0022"  # 王嘉
EXPERT_B = "T0023"  # 杨强嘉
STUDENT = "2023010001"
MEMBER = "2023010004"  # 徐梦, a student party member of the Business School

# Everyone who holds a role (or none) but may not take the stage's decision, by stage.
OUTSIDERS = {
    "college": {
        "college party leader of another college": "T0002",
        "counsellor of the community": COUNSELLOR,
        "counsellor of another community": "T0007",
        "student": STUDENT,
        "expert": EXPERT_A,
        "org_department": ORG,
        "service centre": "T0019",
        "admin": "T0027",
    },
    "org": {
        "college party leader": BUS_LEADER,
        "college party leader of another college": "T0002",
        "counsellor": COUNSELLOR,
        "student": STUDENT,
        "expert": EXPERT_A,
        "service centre": "T0019",
        "admin": "T0027",
    },
    "experts": {
        "college party leader": BUS_LEADER,
        "counsellor": COUNSELLOR,
        "student": STUDENT,
        "org_department": ORG,
        "service centre": "T0019",
        "admin": "T0027",
        "expert not on the panel": "T0024",
    },
    "decision": {
        "college party leader": BUS_LEADER,
        "counsellor": COUNSELLOR,
        "student": STUDENT,
        "expert": EXPERT_A,
        "service centre": "T0019",
        "admin": "T0027",
    },
}
STAGE_NO = {"college": 1, "org": 2, "experts": 3, "decision": 4}


def png() -> bytes:
    """A small valid grey picture, standing in for a scan of the plan."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * 4 for _ in range(4)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def new(message: FakeMessage) -> bool:
    return message.edit_date is None


async def card_of(tg: FakeTelegram, chat: Chat, heading: str) -> FakeMessage:
    """The next new message to ``chat`` whose text contains ``heading``."""
    return await tg.wait_for_bot_message(
        chat.user.id, predicate=lambda m: new(m) and heading in (m.text or "")
    )


async def edited(tg: FakeTelegram, chat: Chat, message: FakeMessage) -> FakeMessage:
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.message_id == message.message_id and m.edit_date is not None,
    )


async def the_request(db: Database) -> Request:
    async with db.unit_of_work() as session:
        request = await session.scalar(select(Request))
    assert request is not None
    return request


async def apply_in_english(tg: FakeTelegram, applicant: Chat, budget: str = "15000") -> str:
    """Walk /apply with valid answers and no attachment; returns the answer to Submit."""
    await tg.user_send(applicant.user, "/apply")
    await prompt(tg, applicant)
    for answer in (
        "Red Service Team in Building 1",
        "Liu (lead), Zhu, Wang",
        "Party members repair phones and computers for students.",
        "September: recruit; October to December: a repair stall every Saturday.",
        budget,
    ):
        await tg.user_send(applicant.user, answer)
        attachment = await prompt(tg, applicant)
    summary = await press(tg, applicant, attachment, "Skip")
    done = await press(tg, applicant, summary, "✔ Submit")
    assert done.text is not None
    return done.text


async def score(tg: FakeTelegram, expert: Chat, card: FakeMessage, *scores: int) -> FakeMessage:
    """Press ``scores`` one by one on the expert's card; returns the card as last edited."""
    for value in scores:
        await tg.user_press(expert.user, card, card.button_data(str(value)))
        card = await edited(tg, expert, card)
    return card


async def test_a_counsellor_applies_in_chinese_and_the_project_is_reviewed_to_its_grant(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER)
    org = await linked(person, invite, ORG, language="en")
    expert_a = await linked(person, invite, EXPERT_A)
    expert_b = await linked(person, invite, EXPERT_B, language="en")
    counsellor = await linked(person, invite, COUNSELLOR)

    await tg.user_send(counsellor.user, "/apply")
    assert (
        await prompt(tg, counsellor)
    ).text == "申报社区党建课题\n\n课题名称是什么？（4–100 个字）"
    assert (await counsellor.say("短")).startswith("内容太短了，至少 4 个字。")
    await tg.user_send(counsellor.user, "红色服务队")
    team = await prompt(tg, counsellor)
    assert team.text == "课题组有哪些成员？请写出负责人和成员的姓名。"
    title = await press(tg, counsellor, team, "« 返回")
    assert title.text == "课题名称是什么？（4–100 个字）"
    await tg.user_send(counsellor.user, "红色服务队进社区")
    await prompt(tg, counsellor)
    await tg.user_send(counsellor.user, "刘涵阳（负责人）、朱晓雪、王婷")
    await prompt(tg, counsellor)
    await tg.user_send(counsellor.user, "学生党员为同学免费维修手机和电脑，宣传垃圾分类。")
    await prompt(tg, counsellor)
    await tg.user_send(
        counsellor.user, "九月招募队员；十月起每周六在1号楼阅览室摆摊维修；十二月总结。"
    )
    assert "申请经费多少元" in ((await prompt(tg, counsellor)).text or "")
    assert (await counsellor.say("一万")).startswith("请输入一个数字。")
    assert (await counsellor.say("0")).startswith("经费必须大于 0。")
    assert (await counsellor.say("30000")).startswith(
        "申请经费超过了单个课题的资助上限（20,000 元）"
    )
    attachment = await counsellor.say("15000")
    assert "计划书扫描件" in attachment
    await tg.user_send_photo(counsellor.user, png())
    summary = await prompt(tg, counsellor)
    assert summary.text is not None
    assert "课题：红色服务队进社区" in summary.text and "申请经费：15,000 元" in summary.text
    assert "附件：计划书扫描件" in summary.text
    done = await press(tg, counsellor, summary, "✔ 提交")
    assert done.text == "已提交课题申报 P-1“红色服务队进社区”，现由商学院党组织审核，进展会通知您。"

    # 1. The college party organisation of the community's college.
    scan = await tg.wait_for_bot_message(leader.user.id, predicate=lambda m: m.photo is not None)
    assert scan.caption == "课题“红色服务队进社区”的计划书扫描件"
    card = await card_of(tg, leader, "待您审批：课题 P-1")
    assert card.text is not None
    assert card.text.startswith(
        "待您审批：课题 P-1\n申请人：朱晓雪\n社区党建课题：红色服务队进社区\n"
    )
    assert "社区：第一社区（商学院）" in card.text and "阶段：学院党组织审核" in card.text
    await tg.user_press(leader.user, card, card.button_data("✅ 同意"))
    # The card says who decided, first; the rest stays as it was, without its buttons.
    decided = await edited(tg, leader, card)
    assert decided.text == card.text.replace("待您审批：课题 P-1", "王春浩已同意：课题 P-1", 1)
    assert decided.buttons == []
    news = await card_of(tg, counsellor, "已通过一个环节")
    assert "阶段：党委组织部审核" in (news.text or "")

    # 2. The Organisation Department.
    await tg.wait_for_bot_message(org.user.id, predicate=lambda m: m.photo is not None)
    card = await card_of(tg, org, "For your approval: project P-1")
    assert "Stage: Organisation Department review" in (card.text or "")
    await tg.user_press(org.user, card, card.button_data("✅ Approve"))
    await card_of(tg, counsellor, "已通过一个环节")

    # 3. The expert panel: each linked expert scores on a card of their own.
    await tg.wait_for_bot_message(expert_a.user.id, predicate=lambda m: m.photo is not None)
    card_a = await card_of(tg, expert_a, "请您评分：课题 P-1“红色服务队进社区”")
    card_b = await card_of(tg, expert_b, "For you to score: project P-1")
    assert "请为“党建相关性”打分（第 1/3 项）" in (card_a.text or "")
    assert [b["text"] for row in card_a.buttons for b in row] == ["1", "2", "3", "4", "5"]
    card_a = await score(tg, expert_a, card_a, 5)
    assert "请为“可行性”打分（第 2/3 项）" in (card_a.text or "")
    assert "党建相关性（权重 0.4）：5" in (card_a.text or "")
    card_a = await score(tg, expert_a, card_a, 4, 5)
    assert "评分完成，您的加权总分为 4.70。" in (card_a.text or "") and card_a.buttons == []
    assert (card_a.text or "").startswith("您已评分：课题 P-1“红色服务队进社区”\n")
    assert (await the_request(campus)).stage == "experts"

    seen_by_b = [card_b.text or ""]
    for value in (3, 3, 3):
        card_b = await score(tg, expert_b, card_b, value)
        seen_by_b.append(card_b.text or "")
    assert "Done: your weighted total is 3.00." in seen_by_b[-1]
    assert seen_by_b[-1].startswith("Scored by you: project P-1 “红色服务队进社区”\n")
    # Expert B never sees expert A's scores or total.
    assert not any("4.70" in text or ": 5" in text or ": 4" in text for text in seen_by_b)

    # 4. The decision, with the panel's weighted average and a granted budget.
    await card_of(tg, counsellor, "已通过一个环节")
    card = await card_of(tg, org, "For your approval: project P-1")
    assert card.text is not None
    assert "Stage: Organisation Department decision" in card.text
    assert "Expert score (weighted average): 3.85 (2 experts)" in card.text
    await tg.user_press(org.user, card, card.button_data("✅ Approve"))
    ask = await prompt(tg, org)
    assert ask.text == (
        "Approve a project\n\n"
        "How much funding, in yuan, is granted to project P-1? At most what was asked for."
    )
    assert (await org.say("20000")).startswith("The funding must be more than 0 and at most")
    assert (await org.say("-5")).startswith("The funding must be more than 0 and at most")
    summary = await prompt_after(tg, org, "12000")
    assert "Funding granted: 12,000 yuan" in (summary.text or "")
    done = await press(tg, org, summary, "✔ Submit")
    assert done.text == (
        "Project P-1 “红色服务队进社区” is approved with 12,000 yuan; the applicant has been told."
    )

    news = await card_of(tg, counsellor, "您的课题 P-1 已通过。")
    assert news.text is not None and "批准经费：12,000 元" in news.text
    request = await the_request(campus)
    assert request.status is RequestStatus.APPROVED
    assert request.detail["granted"] == 12000 and request.detail["budget"] == 15000
    assert request.detail["attachment"]
    async with campus.unit_of_work() as session:
        totals = sorted((await session.scalars(select(ProjectScore.total))).all())
    assert totals == pytest.approx([3.0, 4.7])


async def prompt_after(tg: FakeTelegram, chat: Chat, text: str) -> FakeMessage:
    await tg.user_send(chat.user, text)
    return await prompt(tg, chat)


async def test_a_workstation_head_applies_in_english_cancels_and_is_rejected_with_a_reason(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER, language="en")
    head = await linked(person, invite, HEAD, language="en")
    await tg.user_send(head.user, "/apply")
    assert (await prompt(tg, head)).text == (
        "Apply for a community party-building project\n\n"
        "What is the project's title? (4–100 characters)"
    )
    team = await prompt_after(tg, head, "Red Service Team")
    assert team.text == "Who is on the project team? Name the lead and the members."
    assert await head.say("/cancel") == "Cancelled; nothing was submitted."
    assert tg.pending_bot_messages(leader.user.id) == []

    done = await apply_in_english(tg, head)
    assert done.startswith("Project application P-1 “Red Service Team in Building 1” is submitted")
    card = await card_of(tg, leader, "For your approval: project P-1")
    assert "Attachment: none" in (card.text or "")
    reason = await press(tg, leader, card, "❌ Reject")
    assert reason.text == (
        "Reject a request\n\nWhy reject project P-1? Type the reason; the applicant will see it."
    )
    summary = await prompt_after(tg, leader, "Please add a budget breakdown")
    rejected = await press(tg, leader, summary, "✔ Submit")
    assert rejected.text == (
        "Project P-1 “Red Service Team in Building 1” was declined; "
        "the applicant has been told why."
    )
    news = await card_of(tg, head, "Your project P-1 was declined.")
    assert news.text is not None
    assert "declined" in news.text and "Reason: Please add a budget breakdown" in news.text
    assert (await the_request(campus)).status is RequestStatus.REJECTED


async def test_the_conversation_expires_after_an_hour_of_silence(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    head = await linked(person, invite, HEAD, language="en")
    await tg.user_send(head.user, "/apply")
    await prompt(tg, head)
    await prompt_after(tg, head, "Red Service Team")
    clock.advance(timedelta(minutes=61))
    assert "expired" in await head.say("Liu, Zhu, Wang")
    async with campus.unit_of_work() as session:
        states = (await session.scalars(select(ConversationState.status))).all()
        assert (await session.scalar(select(Request))) is None
    assert states == [ConversationStatus.EXPIRED]


async def test_a_restart_mid_application_resumes_where_the_applicant_was(
    campus: Database, tg: FakeTelegram, person: Person_, invite: Invite, clock: Clock
) -> None:
    async with running(make_application(campus, tg, clock)):
        head = await linked(person, invite, HEAD, language="en")
        await tg.user_send(head.user, "/apply")
        await prompt(tg, head)
        await prompt_after(tg, head, "Red Service Team")
        await prompt_after(tg, head, "Liu (lead), Zhu, Wang")
    # A new process: only the store remembers the application in progress.
    async with running(make_application(campus, tg, clock)):
        plan = await prompt_after(tg, head, "Party members repair phones for students.")
        assert plan.text == (
            "Please give the plan: what will be done, when, and by whom (10–1200 characters)."
        )
        await prompt_after(tg, head, "September: recruit; October: weekly repair stalls.")
        attachment = await prompt_after(tg, head, "8000")
        summary = await press(tg, head, attachment, "Skip")
        assert summary.text is not None
        assert (
            "Team: Liu (lead), Zhu, Wang" in summary.text and "Budget: 8,000 yuan" in summary.text
        )


async def test_a_button_of_a_finished_step_or_conversation_has_expired(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    head = await linked(person, invite, HEAD, language="en")
    await tg.user_send(head.user, "/apply")
    await prompt(tg, head)
    team = await prompt_after(tg, head, "Red Service Team")
    await prompt_after(tg, head, "Liu (lead), Zhu, Wang")
    # The team question's buttons belong to a step that is over: they go, and a press of one
    # already on its way has expired.
    assert await settled(tg, head, team) == f"{team.text}\n\nTeam: Liu (lead), Zhu, Wang"
    answer = await press_in_flight(tg, head, team, "« Back")
    assert answer.text == "This button has expired; please send the command again."
    assert answer.show_alert
    assert await head.say("/cancel") == "Cancelled; nothing was submitted."
    answer = await press_in_flight(tg, head, team, "✖ Cancel")
    assert answer.text == "This button has expired; please send the command again."


async def test_a_plain_student_is_refused_in_the_words_of_the_rule(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    refusal = (
        "Community party-building projects are applied for by a college's teachers, student "
        "party members and party activists, and by counsellors and workstation heads."
    )
    assert await student.say("/apply") == refusal
    assert await student.say("/results") == "A project's results are submitted by its applicant."
    assert await student.say("/cancel") == "Nothing is in progress."
    zh = await linked(person, invite, "2023010002")
    assert await zh.say("/apply") == (
        "社区党建课题由各学院的教师、学生党员和入党积极分子，以及社区辅导员和社区党建工作站站长申报。"
    )
    # Staff of the school, of no college and no community, are not among them either.
    service_centre = await linked(person, invite, "T0019", language="en")
    assert await service_centre.say("/apply") == refusal
    async with campus.unit_of_work() as session:
        assert (await session.scalar(select(ConversationState))) is None


async def test_the_call_is_open_only_within_the_dates_of_the_rules_file(
    campus: Database,
    tg: FakeTelegram,
    person: Person_,
    invite: Invite,
    clock: Clock,
    tmp_path: Path,
) -> None:
    clock.now = datetime(2026, 8, 31, 15, 59, tzinfo=UTC)  # 23:59 campus time, 31 August
    async with running(make_application(campus, tg, clock)):
        member = await linked(person, invite, MEMBER)
        assert await member.say("/apply") == (
            "现在不在社区党建课题申报期内。下一次申报期为9月1日（周二）至12月15日（周二）。"
        )
        clock.advance(timedelta(minutes=1))  # midnight: the call opens
        assert await member.say("/apply") == "申报社区党建课题\n\n课题名称是什么？（4–100 个字）"
        assert await member.say("/cancel") == "已取消，没有提交任何内容。"
        clock.now = datetime(2026, 12, 15, 15, 59, tzinfo=UTC)  # 23:59, its last day
        assert (await member.say("/apply")).startswith("申报社区党建课题")
        await member.say("/cancel")
        clock.advance(timedelta(minutes=1))
        assert await member.say("/apply") == (
            "现在不在社区党建课题申报期内。本年度申报已于12月15日（周二）截止。"
            "下一次申报期为2027年9月1日（周三）至2027年12月15日（周三）。"
        )

    # The school moves the call in the rules file: the bot follows it, with nothing else changed.
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    calendar = rules / "calendar.yaml"
    text = calendar.read_text(encoding="utf-8")
    assert "    from: 09-01\n    to: 12-15\n" in text
    calendar.write_text(
        text.replace("    from: 09-01\n    to: 12-15\n", "    from: 03-01\n    to: 03-31\n"),
        encoding="utf-8",
    )
    async with running(make_application(campus, tg, clock, rules_dir=rules)):
        english = await linked(person, invite, HEAD, language="en")
        # Still 16 December 2026: this year's call (in March) is over, next year's to come.
        assert await english.say("/apply") == (
            "The call for community party-building projects is not open now. This year's call "
            "closed on Tue 31 Mar. The next call runs from Mon 1 Mar 2027 to Wed 31 Mar 2027."
        )
        clock.now = datetime(2027, 2, 28, 15, 59, tzinfo=UTC)  # 23:59 on campus, 28 February
        assert await english.say("/apply") == (
            "The call for community party-building projects is not open now. The next call runs "
            "from Mon 1 Mar to Wed 31 Mar."
        )
        clock.now = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)
        assert (await english.say("/apply")).startswith("Apply for a community party-building")
        await english.say("/cancel")
        clock.now = datetime(2027, 4, 1, 2, 0, tzinfo=UTC)
        assert await english.say("/apply") == (
            "The call for community party-building projects is not open now. This year's call "
            "closed on Wed 31 Mar. The next call runs from Wed 1 Mar 2028 to Fri 31 Mar 2028."
        )


async def call_firings(db: Database) -> dict[str, FiringStatus]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(select(Firing).where(Firing.key.like("reminder:project-%")))
        # "reminder:<id>:<UTC time>" shown as "<id> <UTC day and hour>".
        return {f"{r.key.split(':')[1]} {r.key.split(':', 2)[2][:13]}": r.status for r in rows}


async def reminded(db: Database) -> set[int]:
    """The chats the call's reminders (their text opens with 📋) were queued for."""
    async with db.unit_of_work() as session:
        rows = (await session.execute(select(OutboxMessage.chat_id, OutboxMessage.payload))).all()
    return {chat for chat, payload in rows if str(payload.get("text", "")).startswith("📋")}


async def test_the_call_reminders_follow_the_dates_every_year_to_whoever_may_apply(
    campus: Database,
    tg: FakeTelegram,
    person: Person_,
    invite: Invite,
    clock: Clock,
    tmp_path: Path,
) -> None:
    clock.now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    async with running(make_application(campus, tg, clock)) as edge:
        member = await linked(person, invite, MEMBER, language="en")
        counsellor = await linked(person, invite, COUNSELLOR)
        # A student who may not apply, linked too: nothing is queued for them.
        await linked(person, invite, STUDENT, language="en")
        await edge.ticker.run_once()
        # 8 December, 09:00 on campus: a week before the call closes.
        assert await call_firings(campus) == {
            "project-call-closing 2026-12-08T01": FiringStatus.PENDING
        }
        clock.now = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
        await edge.scheduler.run_due()
        told = await card_of(tg, member, "closes soon")
        assert told.text == (
            "📋 The call for community party-building projects closes soon: this year's call for "
            "community party-building projects closes on Tue 15 Dec. Send /apply to apply."
        )
        zh = await card_of(tg, counsellor, "社区党建课题申报即将截止")
        assert "将于12月15日（周二）截止" in (zh.text or "")
        # Queued for whoever may apply, with the firing: a student who may not hears nothing.
        assert await reminded(campus) == {member.user.id, counsellor.user.id}

        # The next year: the call opens on 1 September and closes on 15 December again.
        clock.now = datetime(2027, 8, 20, 2, 0, tzinfo=UTC)
        await edge.ticker.run_once()
        clock.now = datetime(2027, 9, 1, 1, 0, tzinfo=UTC)
        await edge.scheduler.run_due()
        opened = await card_of(tg, member, "is open")
        assert "open from Wed 1 Sep to Wed 15 Dec" in (opened.text or "")
        await edge.ticker.run_once()
    assert await call_firings(campus) == {
        "project-call-closing 2026-12-08T01": FiringStatus.FIRED,
        "project-call-open 2027-09-01T01": FiringStatus.FIRED,
    }

    # The dates moved in the rules file: next year's reminders move with them.
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    calendar = rules / "calendar.yaml"
    calendar.write_text(
        calendar.read_text(encoding="utf-8").replace("    to: 12-15\n", "    to: 11-30\n"),
        encoding="utf-8",
    )
    clock.now = datetime(2027, 11, 1, 2, 0, tzinfo=UTC)
    async with running(make_application(campus, tg, clock, rules_dir=rules)) as edge:
        await edge.ticker.run_once()
        assert (await call_firings(campus))["project-call-closing 2027-11-23T01"] is (
            FiringStatus.PENDING
        )
        clock.now = datetime(2027, 11, 23, 1, 0, tzinfo=UTC)
        await edge.scheduler.run_due()
        moved = await card_of(tg, member, "closes soon")
        assert "closes on Tue 30 Nov" in (moved.text or "")


async def test_the_call_closing_mid_application_refuses_the_submission(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, clock: Clock, campus: Database
) -> None:
    clock.now = datetime(2026, 12, 15, 15, 40, tzinfo=UTC)  # 23:40 campus time, the last day
    head = await linked(person, invite, HEAD, language="en")
    await tg.user_send(head.user, "/apply")
    await prompt(tg, head)
    for answer in (
        "Red Service Team",
        "Liu (lead), Zhu, Wang",
        "Party members repair phones for students.",
        "September: recruit; October: weekly repair stalls.",
    ):
        await prompt_after(tg, head, answer)
    attachment = await prompt_after(tg, head, "8000")
    summary = await press(tg, head, attachment, "Skip")
    clock.advance(timedelta(minutes=30))
    refused = await press(tg, head, summary, "✔ Submit")
    assert refused.text is not None and "is not open now" in refused.text
    async with campus.unit_of_work() as session:
        assert (await session.scalar(select(Request))) is None


async def test_the_panel_cards_refuse_stale_and_late_presses(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER, language="en")
    org = await linked(person, invite, ORG, language="en")
    expert = await linked(person, invite, EXPERT_A, language="en")
    head = await linked(person, invite, HEAD, language="en")
    await apply_in_english(tg, head)
    await pass_stage(tg, leader)
    await pass_stage(tg, org)
    card = await card_of(tg, expert, "For you to score: project P-1")
    # Two presses before the card changes: the second is for a question already answered.
    await tg.user_press(expert.user, card, card.button_data("4"))
    query = await tg.user_press(expert.user, card, card.button_data("1"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "This button has expired; please score the question the card asks now."
    card = await edited(tg, expert, card)
    assert "Relevance to party building (weight 0.4): 4" in (card.text or "")
    card = await score(tg, expert, card, 2)
    # The last press closes the panel; one pressed at the same moment comes too late.
    await tg.user_press(expert.user, card, card.button_data("2"))
    query = await tg.user_press(expert.user, card, card.button_data("5"))
    assert (await tg.wait_for_callback_answer(query)).text == "Scoring for this project has ended."
    decision = await card_of(tg, org, "Organisation Department decision")
    assert "Expert score (weighted average): 2.80 (1 expert)" in (decision.text or "")
    async with campus.unit_of_work() as session:
        [row] = (await session.scalars(select(ProjectScore))).all()
    assert row.scores == {"relevance": 4, "feasibility": 2, "impact": 2}
    assert row.total == pytest.approx(2.8)


async def test_the_first_decision_wins_over_a_grant_in_progress(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER, language="en")
    org = await linked(person, invite, ORG, language="en")
    org_2 = await linked(person, invite, ORG_2, language="en")
    head = await linked(person, invite, HEAD, language="en")
    await apply_in_english(tg, head)
    await pass_stage(tg, leader)
    card = await card_of(tg, org, "For your approval: project P-1")
    await tg.user_press(org.user, card, card.button_data("✅ Approve"))
    # No expert is linked: the decision is taken without scores rather than wait for ever.
    card = await card_of(tg, org, "Organisation Department decision")
    assert "Expert score (weighted average): none" in (card.text or "")
    await card_of(tg, org_2, "Organisation Department review")
    second = await card_of(tg, org_2, "Organisation Department decision")
    await tg.user_press(org.user, card, card.button_data("✅ Approve"))
    await prompt(tg, org)
    summary = await prompt_after(tg, org, "9000")
    reason = await press(tg, org_2, second, "❌ Reject")
    confirm = await prompt_after(tg, org_2, "Not this year")
    await press(tg, org_2, confirm, "✔ Submit")
    late = await press(tg, org, summary, "✔ Submit")
    assert late.text == "This request has already been decided."
    request = await the_request(campus)
    assert request.status is RequestStatus.REJECTED and "granted" not in request.detail
    assert reason.text == (
        "Reject a request\n\nWhy reject project P-1? Type the reason; the applicant will see it."
    )


async def pass_stage(tg: FakeTelegram, approver: Chat) -> None:
    """The approver approves the card waiting for them (a stage without a question)."""
    card = await card_of(tg, approver, "For your approval: project P-1")
    await tg.user_press(approver.user, card, card.button_data("✅ Approve"))
    await edited(tg, approver, card)


async def forge(tg: FakeTelegram, outsider: Chat, data: str, number: int) -> None:
    """A press of a button the outsider never got (or a forwarded card's), under the last
    message the bot sent them."""
    mine = [m for m in tg.messages(outsider.user.id) if m.from_bot]
    tg.inject_update(
        {
            "callback_query": {
                "id": f"forged-{outsider.user.id}-{number}",
                "from": {"id": outsider.user.id, "is_bot": False, "first_name": "x"},
                "chat_instance": "1",
                "message": {
                    "message_id": mine[-1].message_id,
                    "date": 1,
                    "chat": {"id": outsider.user.id, "type": "private"},
                },
                "data": data,
            }
        }
    )


async def person_ids(db: Database, numbers: list[str]) -> dict[int, str]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Person.id, Person.number).where(Person.number.in_(numbers))
        )
        return {pid: number for pid, number in rows.all()}


@pytest.mark.parametrize("stage", list(STAGE_NO))
async def test_every_decision_of_every_stage_is_refused_to_everyone_else_and_audited(
    stage: str, edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER, language="en")
    org = await linked(person, invite, ORG, language="en")
    expert_b = await linked(person, invite, EXPERT_B, language="en")
    if stage != "experts":
        await linked(person, invite, EXPERT_A, language="en")
    head = await linked(person, invite, HEAD, language="en")
    await apply_in_english(tg, head)
    order = list(STAGE_NO)
    if order.index(stage) > 0:
        await pass_stage(tg, leader)
    if order.index(stage) > 1:
        await pass_stage(tg, org)
    panel = [expert_b] if stage == "experts" else [expert_b, await chat_of(tg, EXPERT_A)]
    if order.index(stage) > 2:
        for expert in panel:
            assert expert is not None
            card = await card_of(tg, expert, "For you to score: project P-1")
            await score(tg, expert, card, 3, 3, 3)
    assert (await the_request(campus)).stage == stage

    outsiders = OUTSIDERS[stage]
    chats = {}
    for who, number in outsiders.items():
        chats[who] = await chat_of(tg, number) or await linked(
            person, invite, number, language="en"
        )
    stage_no = STAGE_NO[stage]
    for who, chat in chats.items():
        for number, action in enumerate(("a", "r")):
            await forge(tg, chat, APPROVAL.pack(request=1, stage=stage_no, action=action), number)
        await forge(tg, chat, SCORE.pack(request=1, criterion=0, score=5), 2)
        # Updates of one chat are handled in order: once /help is answered, the presses were.
        assert "Community Assistant can do this" in await chat.say("/help"), who

    request = await the_request(campus)
    assert (request.stage, request.status) == (stage, RequestStatus.PENDING)
    ids = await person_ids(campus, list(outsiders.values()))
    async with campus.unit_of_work() as session:
        audit = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
        scores = (await session.scalars(select(ProjectScore))).all()
    refused = {
        (ids[a.actor_person_id], a.detail["action"])
        for a in audit
        if a.action == "approval.refused" and a.detail["stage_no"] == stage_no
    }
    assert refused == {(n, action) for n in outsiders.values() for action in ("a", "r")}
    scoring_refused = {ids[a.actor_person_id] for a in audit if a.action == "project.refused"}
    # A panel member pressing once the panel is over is told so, as a late approver would be.
    on_panel = {EXPERT_A} if stage == "decision" else set()
    assert scoring_refused == set(outsiders.values()) - on_panel
    decided = [a for a in audit if a.action in ("approval.approve", "approval.reject")]
    assert not any(a.detail["stage"] == stage for a in decided)
    # No forged press changed a score (the panel gave 3 to everything, or has not scored yet).
    assert all(set(row.scores.values()) <= {3} for row in scores)


async def chat_of(tg: FakeTelegram, number: str) -> Chat | None:
    """The chat of a person already linked in this test (users are named by their number)."""
    for user in tg.users():
        if user.first_name == number:
            return Chat(tg, user)
    return None


async def test_nobody_decides_a_stage_of_their_own_project(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    # The college's only party organisation leader also counsels a community of it, and applies.
    async with campus.unit_of_work() as session:
        leader_id = await session.scalar(select(Person.id).where(Person.number == BUS_LEADER))
        community = await session.scalar(select(Community.id).where(Community.code == "C1"))
        assert leader_id is not None and community is not None
        session.add(
            RoleAssignment(
                person_id=leader_id,
                role=Role.COUNSELLOR,
                scope_kind=ScopeKind.COMMUNITY,
                scope_id=community,
            )
        )
    org = await linked(person, invite, ORG, language="en")
    leader = await linked(person, invite, BUS_LEADER, language="en")
    done = await apply_in_english(tg, leader)
    assert "is submitted and now with the Organisation Department;" in done
    # The college stage is the Organisation Department's: the next holder up the plan's chain.
    card = await card_of(tg, org, "For your approval: project P-1")
    assert "Stage: college party organisation review" in (card.text or "")
    await forge(tg, leader, APPROVAL.pack(request=1, stage=1, action="a"), 1)
    assert await leader.say("/pending") == "Nothing is waiting for you."
    async with campus.unit_of_work() as session:
        refused = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "approval.refused"))
        ).all()
    assert [a.actor_person_id for a in refused] == [leader_id]
    request = await the_request(campus)
    assert (request.stage_no, request.approver_role) == (1, Role.ORG_DEPARTMENT)
    await tg.user_press(org.user, card, card.button_data("✅ Approve"))
    following = await card_of(tg, org, "For your approval: project P-1")
    assert "Stage: Organisation Department review" in (following.text or "")


async def test_an_experts_pending_list_brings_their_scoring_card(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER, language="en")
    org = await linked(person, invite, ORG, language="en")
    expert = await linked(person, invite, EXPERT_A, language="en")
    other = await linked(person, invite, EXPERT_B, language="en")
    head = await linked(person, invite, HEAD, language="en")
    await apply_in_english(tg, head)
    await pass_stage(tg, leader)
    await pass_stage(tg, org)
    first = await card_of(tg, expert, "For you to score: project P-1")
    pending = await expert.say("/pending")
    assert pending == (
        "Waiting for me\n"
        "Project P-1 · “Red Service Team in Building 1” · expert panel scoring\n"
        "The card of each follows in our private chat, with its buttons."
    )
    again = await card_of(tg, expert, "For you to score: project P-1")
    assert again.text == first.text
    assert [b["text"] for row in again.buttons for b in row] == ["1", "2", "3", "4", "5"]
    # Scored on the card /pending brought: nothing waits for this expert while the panel sits.
    await score(tg, expert, again, 4, 4, 4)
    assert await expert.say("/pending") == "Nothing is waiting for you."
    # An expert who linked after the panel opened is not on it: nothing waits for them either.
    late = await linked(person, invite, "T0024", language="en")
    assert await late.say("/pending") == "Nothing is waiting for you."
    await score(tg, other, await card_of(tg, other, "For you to score: project P-1"), 3, 3, 3)
    decision = await card_of(tg, org, "Organisation Department decision")
    assert "Expert score (weighted average): 3.50 (2 experts)" in (decision.text or "")
