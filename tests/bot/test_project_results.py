"""A community party-building project of a student party member, from the application through
every stage of the review to its funding, then its results (成果) submitted in a guided
conversation with photos and files, stored once, and seen by the college party organisation and
the Organisation Department."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from assistant.app import Edge, running
from assistant.domain import RequestStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, ProjectResult
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_identity import linked
from tests.bot.test_projects import (
    BUS_LEADER,
    EXPERT_A,
    EXPERT_B,
    ORG,
    card_of,
    edited,
    png,
    prompt_after,
    score,
    the_request,
)
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person_ = Callable[..., Chat]

MEMBER = "2023010004"  # 徐梦, a student party member of the Business School, living in B1 (C1)
OTHER_MEMBER = "2024010003"  # 杨兰, another student party member of the Business School
TITLE = "宿舍楼党员先锋岗"
SUMMARY = "九月至十二月每周三晚在1号楼阅览室设党员先锋岗，共接待同学 120 人次，解决报修 35 件。"
REPORT = b"%PDF-1.4 a final report standing in for the real one\n"


async def apply_as_member(tg: FakeTelegram, member: Chat) -> str:
    """/apply in Chinese with valid answers and no attachment; the answer to Submit."""
    await tg.user_send(member.user, "/apply")
    first = await prompt(tg, member)
    assert first.text == "申报社区党建课题\n\n课题名称是什么？（4–100 个字）"
    for answer in (
        TITLE,
        "徐梦（负责人）、杨兰",
        "学生党员在宿舍楼设先锋岗，为同学答疑、代收报修。",
        "九月招募；十月起每周三晚值守；十二月总结。",
        "5000",
    ):
        await tg.user_send(member.user, answer)
        attachment = await prompt(tg, member)
    summary = await press(tg, member, attachment, "跳过")
    done = await press(tg, member, summary, "✔ 提交")
    assert done.text is not None
    return done.text


async def approve(tg: FakeTelegram, approver: Chat, heading: str, label: str) -> FakeMessage:
    card = await card_of(tg, approver, heading)
    await tg.user_press(approver.user, card, card.button_data(label))
    return await edited(tg, approver, card)


async def test_a_student_party_members_project_goes_through_every_stage_and_its_results_are_seen(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, BUS_LEADER)
    org = await linked(person, invite, ORG, language="en")
    expert_a = await linked(person, invite, EXPERT_A)
    expert_b = await linked(person, invite, EXPERT_B, language="en")
    member = await linked(person, invite, MEMBER)

    # Nothing funded yet: nothing to submit results for.
    assert (await member.say("/results")).startswith("您没有等待提交成果的课题")
    done = await apply_as_member(tg, member)
    assert done == "已提交课题申报 P-1“宿舍楼党员先锋岗”，现由商学院党组织审核，进展会通知您。"

    # 1. The party organisation of the member's college, told who applies and as what.
    card = await card_of(tg, leader, "待您审批：课题 P-1")
    assert card.text is not None
    assert card.text.startswith(
        "待您审批：课题 P-1\n申请人：徐梦\n社区党建课题：宿舍楼党员先锋岗\n"
    )
    assert "社区：第一社区（商学院）\n申报身份：学生党员\n" in card.text
    await tg.user_press(leader.user, card, card.button_data("✅ 同意"))
    await edited(tg, leader, card)
    # 2. The Organisation Department.
    await approve(tg, org, "For your approval: project P-1", "✅ Approve")
    assert (await the_request(campus)).stage == "experts"
    # 3. The expert panel.
    await score(tg, expert_a, await card_of(tg, expert_a, "请您评分：课题 P-1"), 5, 4, 4)
    await score(tg, expert_b, await card_of(tg, expert_b, "For you to score: project P-1"), 4, 4, 4)
    # 4. The decision, with the funding granted.
    decision = await card_of(tg, org, "Organisation Department decision")
    assert "Applying as: student party member" in (decision.text or "")
    await tg.user_press(org.user, decision, decision.button_data("✅ Approve"))
    await prompt(tg, org)
    summary = await prompt_after(tg, org, "4000")
    granted = await press(tg, org, summary, "✔ Submit")
    assert (granted.text or "").startswith("Project P-1 “宿舍楼党员先锋岗” is approved with 4,000")
    news = await card_of(tg, member, "您的课题 P-1 已通过。")
    assert news.text is not None and "批准经费：4,000 元" in news.text
    assert news.text.endswith("课题结束后，请发送 /results 提交成果（总结和照片、文件）。")
    request = await the_request(campus)
    assert request.status is RequestStatus.APPROVED and request.detail["granted"] == 4000
    # The news of each stage passed has been read.
    tg.state.bot_outbox[member.user.id].clear()
    # Only its applicant submits a project's results.
    other = await linked(person, invite, OTHER_MEMBER)
    assert (await other.say("/results")).startswith("您没有等待提交成果的课题")

    # The results, at the end of the project: which project, a summary, then photos and files.
    await tg.user_send(member.user, "/results")
    which = await prompt(tg, member)
    assert which.text == "提交课题成果\n\n提交哪个课题的成果？"
    ask_summary = await press(tg, member, which, "P-1“宿舍楼党员先锋岗”")
    assert ask_summary.text is not None and ask_summary.text.startswith("请写成果总结")
    assert (await member.say("做得很好")).startswith("内容太短了，至少 20 个字。")
    ask_files = await prompt_after(tg, member, SUMMARY)
    assert ask_files.text is not None and ask_files.text.startswith("请发送成果的照片或文件")
    assert [b["text"] for row in ask_files.buttons for b in row] == ["« 返回", "✖ 取消"]
    assert (await member.say("好了")).startswith(
        "请发送照片或文件（每条消息一个），发完后点“完成”。"
    )
    await tg.user_send_photo(member.user, png())
    one = await prompt(tg, member)
    assert (one.text or "").startswith(
        "已收到 1 个文件（最多 10 个）。可以继续发送，发完后点“完成”。"
    )
    await tg.user_send_document(member.user, REPORT, "结题报告.pdf", "application/pdf")
    two = await prompt(tg, member)
    assert (two.text or "").startswith("已收到 2 个文件（最多 10 个）。")
    confirm = await press(tg, member, two, "✔ 完成（2 个文件）")
    assert confirm.text == (
        f"请确认课题成果：\n课题：P-1“宿舍楼党员先锋岗”\n成果总结：{SUMMARY}\n照片和文件：2 个"
    )
    submitted = await press(tg, member, confirm, "✔ 提交")
    assert submitted.text == (
        "已提交课题 P-1“宿舍楼党员先锋岗”的成果（总结和 2 个文件），"
        "商学院党组织和党委组织部已收到。感谢您的付出！"
    )

    # The college party organisation and the Organisation Department see the summary and files.
    sent = {m.document["file_id"] for m in tg.messages(member.user.id) if m.document}
    for chat, heading, captions in (
        (
            leader,
            "课题成果：课题 P-1“宿舍楼党员先锋岗”\n申请人：徐梦\n社区：第一社区（商学院）\n"
            "批准经费：4,000 元",
            ("课题 P-1 成果 1/2", "课题 P-1 成果 2/2：结题报告.pdf"),
        ),
        (
            org,
            "Project results: project P-1 “宿舍楼党员先锋岗”\nApplicant: 徐梦",
            ("Project P-1 results 1/2", "Project P-1 results 2/2: 结题报告.pdf"),
        ),
    ):
        shown = await card_of(tg, chat, heading)
        assert shown.text is not None and SUMMARY in shown.text
        photo = await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: bool(m.photo))
        document = await tg.wait_for_bot_message(
            chat.user.id, predicate=lambda m: m.document is not None
        )
        assert (photo.caption, document.caption) == captions
        # The very file the member sent, passed on by Telegram's id.
        assert document.document is not None and document.document["file_id"] in sent
    async with campus.unit_of_work() as session:
        [result] = (await session.scalars(select(ProjectResult))).all()
        audit = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "project.results"))
        ).all()
    assert result.request_id == request.id and result.summary == SUMMARY
    assert [f["kind"] for f in result.files] == ["photo", "document"]
    assert result.files[1]["name"] == "结题报告.pdf"
    assert [a.detail for a in audit] == [{"request": request.id, "files": 2}]

    # Once per project: nothing more waits.
    assert (await member.say("/results")).startswith("您没有等待提交成果的课题")


async def fund(tg: FakeTelegram, member: Chat, leader: Chat, org: Chat) -> None:
    """The member applies and the project is funded, with no expert linked (the decision is
    taken without scores); the member's news of it is read."""
    await apply_as_member(tg, member)
    card = await card_of(tg, leader, "待您审批：课题 P-1")
    await tg.user_press(leader.user, card, card.button_data("✅ 同意"))
    await approve(tg, org, "Organisation Department review", "✅ Approve")
    decision = await card_of(tg, org, "Organisation Department decision")
    await tg.user_press(org.user, decision, decision.button_data("✅ Approve"))
    await prompt(tg, org)
    summary = await prompt_after(tg, org, "3000")
    await press(tg, org, summary, "✔ Submit")
    await card_of(tg, member, "您的课题 P-1 已通过。")
    tg.state.bot_outbox[member.user.id].clear()


async def results_up_to_the_files(tg: FakeTelegram, member: Chat) -> FakeMessage:
    """/results: the project picked and the summary given; the files question."""
    await tg.user_send(member.user, "/results")
    which = await prompt(tg, member)
    await press(tg, member, which, "P-1“宿舍楼党员先锋岗”")
    return await prompt_after(tg, member, SUMMARY)


async def test_files_are_kept_as_they_come_through_a_restart_and_back_starts_them_afresh(
    campus: Database, tg: FakeTelegram, person: Person_, invite: Invite, clock: Clock
) -> None:
    async with running(make_application(campus, tg, clock)):
        leader = await linked(person, invite, BUS_LEADER)
        org = await linked(person, invite, ORG, language="en")
        member = await linked(person, invite, MEMBER)
        await fund(tg, member, leader, org)
        await results_up_to_the_files(tg, member)
        await tg.user_send_photo(member.user, png())
        one = await prompt(tg, member)
        assert (one.text or "").startswith("已收到 1 个文件")
        # Back to the summary: the photo sent for the files question goes with it.
        again = await press(tg, member, one, "« 返回")
        assert (again.text or "").startswith("请写成果总结")
        files = await prompt_after(tg, member, SUMMARY)
        assert (files.text or "").startswith("请发送成果的照片或文件")
        await tg.user_send_photo(member.user, png())
        await prompt(tg, member)
    # A new process: the photo already sent is in the store, not lost with the old one.
    async with running(make_application(campus, tg, clock)):
        await tg.user_send_document(member.user, REPORT, "结题报告.pdf", "application/pdf")
        two = await prompt(tg, member)
        assert (two.text or "").startswith("已收到 2 个文件")
        confirm = await press(tg, member, two, "✔ 完成（2 个文件）")
        assert (confirm.text or "").endswith("照片和文件：2 个")


async def test_results_submitted_meanwhile_are_not_stored_twice(
    edge: Edge, person: Person_, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, BUS_LEADER)
    org = await linked(person, invite, ORG, language="en")
    art_leader = await linked(person, invite, "T0002")
    member = await linked(person, invite, MEMBER)
    await fund(tg, member, leader, org)
    await results_up_to_the_files(tg, member)
    await tg.user_send_photo(member.user, png())
    confirm = await press(tg, member, await prompt(tg, member), "✔ 完成（1 个文件）")
    # Meanwhile another bot process stored this project's results (the first submit wins).
    request = await the_request(campus)
    async with campus.unit_of_work() as session:
        session.add(
            ProjectResult(
                request_id=request.id,
                person_id=request.requester_person_id,
                summary="先提交的成果总结，共二十个字以上的内容。",
                files=[],
                submitted_at=clock(),
            )
        )
    late = await press(tg, member, confirm, "✔ 提交")
    assert late.text == "课题 P-1“宿舍楼党员先锋岗”的成果已经提交过了，每个课题只提交一次。"
    async with campus.unit_of_work() as session:
        [kept] = (await session.scalars(select(ProjectResult))).all()
    assert kept.files == []
    # Nothing was sent on; and another college's party organisation never hears of it.
    assert not any("课题成果" in (m.text or "") for m in tg.pending_bot_messages(leader.user.id))
    assert tg.pending_bot_messages(art_leader.user.id) == []
