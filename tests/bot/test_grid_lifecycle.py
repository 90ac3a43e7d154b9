"""A report after it is sent: its cards, honest closing states, reopening, and who may decide."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from assistant.app import Edge
from assistant.callbacks import GRID_ISSUE
from assistant.domain import IssueStatus
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, GridIssue
from tests.bot.conftest import Chat, Clock
from tests.bot.test_booking import forge
from tests.bot.test_identity import (
    C1_COUNSELLOR,
    C2_COUNSELLOR,
    FLOOR_1_LEADER,
    FLOOR_3_LEADER,
    STUDENT,
    linked,
)
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]

# Everyone on the demo campus who holds a role but has no say over a report of floor B1-1
# (its floor leader and the counsellors of community C1 do).
OUTSIDERS = {
    "floor leader of another floor": "2023020001",
    "grid party member": "2024010003",
    "building leader": "2021010003",
    "building manager": "2023010007",
    "counsellor of another community": C2_COUNSELLOR,
    "workstation head": "T0004",
    "college party leader": "T0001",
    "admin": "T0027",
    "student": "2023010002",
}


async def report(tg: FakeTelegram, student: Chat) -> None:
    """The student reports a repair on their floor (routed to the floor leader)."""
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    location = await press(tg, student, category, "Hygiene")
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "Rubbish piling up by the stairs")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    summary = await press(tg, student, urgency, "Normal")
    await press(tg, student, summary, "✔ Submit")


async def card_of(tg: FakeTelegram, chat: Chat) -> FakeMessage:
    return await tg.wait_for_bot_message(chat.user.id, predicate=lambda m: m.edit_date is None)


async def edited(tg: FakeTelegram, chat: Chat, message: FakeMessage) -> FakeMessage:
    """The next edit of ``message``."""
    return await tg.wait_for_bot_message(
        chat.user.id,
        predicate=lambda m: m.message_id == message.message_id and m.edit_date is not None,
    )


def labels(message: FakeMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def the_issue(db: Database) -> GridIssue:
    async with db.unit_of_work() as session:
        issue = await session.scalar(select(GridIssue))
    assert issue is not None
    return issue


async def test_acknowledge_resolve_and_reopen(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    body = (
        "Category: Hygiene · Urgency: normal\n"
        "Floor: Building 1, floor 1 · Location: Building 1, room 101\n"
        "Rubbish piling up by the stairs\n"
        "Reported by: 郑博嘉"
    )
    assert card.text == "For you to handle: report R-1\n" + body
    assert labels(card) == [
        "✔ Acknowledge",
        "✅ Resolved",
        "Cannot resolve",
        "Not ours",
        "Duplicate",
    ]

    await tg.user_press(leader.user, card, card.button_data("✔ Acknowledge"))
    news = await card_of(tg, student)
    assert news.text == (
        "Your report R-1 (Hygiene · Building 1, room 101) is acknowledged; "
        "you will hear when it is dealt with."
    )
    card = await edited(tg, leader, card)
    assert card.text == "Acknowledged by 徐梦, to be resolved: report R-1\n" + body
    assert "✔ Acknowledge" not in labels(card)

    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    news = await card_of(tg, student)
    assert news.text == (
        "Your report R-1 (Hygiene · Building 1, room 101) is resolved.\n"
        "If it is not solved, you can press “Reopen” within 7 days."
    )
    assert labels(news) == ["Reopen"]
    card = await edited(tg, leader, card)
    assert card.buttons == [] and card.text == "Resolved by 徐梦: report R-1\n" + body
    assert (await the_issue(campus)).status is IssueStatus.RESOLVED

    clock.advance(timedelta(days=6))
    ask = await press(tg, student, news, "Reopen")
    assert ask.text == (
        "Reopen a report\n\nWhy is report R-1 not solved? The people responsible will read it."
    )
    await tg.user_send(student.user, "Still piling up")
    summary = await prompt(tg, student)
    done = await press(tg, student, summary, "✔ Submit")
    assert done.text == (
        "Report R-1 (Hygiene · Building 1, room 101) is open again; "
        "the people responsible will look at it once more."
    )
    # The leader gets a new card with the reason and its buttons; the old one keeps none.
    reason = "\nReopened (郑博嘉): Still piling up"
    again = await card_of(tg, leader)
    assert again.text == "For you to handle: report R-1\n" + body + reason
    assert labels(again)[0] == "✔ Acknowledge"
    old = await edited(tg, leader, card)
    assert old.buttons == []
    assert old.text == (
        "Reopened by the reporter: report R-1\n"
        + body
        + reason
        + "\nPlease carry on with the new card sent to you."
    )
    issue = await the_issue(campus)
    assert (issue.status, issue.round, issue.closed_at) == (IssueStatus.OPEN, 1, None)


async def test_the_first_decision_wins_and_a_late_reopen_is_refused(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    # Two presses at the same moment, before the card changes: the store decides, once.
    await tg.user_press(leader.user, card, card.button_data("Duplicate"))
    query = await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "Someone has already handled this report."
    news = await card_of(tg, student)
    assert (news.text or "").startswith(
        "Your report R-1 (Hygiene · Building 1, room 101) is closed as a duplicate."
    )
    assert (await the_issue(campus)).status is IssueStatus.DUPLICATE

    clock.advance(timedelta(days=8))
    query = await tg.user_press(student.user, news, news.button_data("Reopen"))
    answer = await tg.wait_for_callback_answer(query)
    assert answer.text == "It is too late to reopen this report (7 days); please report it again."


@pytest.mark.parametrize("who", sorted(OUTSIDERS))
async def test_a_forged_press_by_anyone_else_is_refused_and_audited(
    who: str, edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    outsider = await linked(person, invite, OUTSIDERS[who], language="en")
    await forge(tg, outsider, GRID_ISSUE.pack(issue=1, action="res"))
    assert (await the_issue(campus)).status is IssueStatus.OPEN
    async with campus.unit_of_work() as session:
        refused = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "grid.refused"))
        ).all()
    assert [(a.detail["issue"], a.detail["action"]) for a in refused] == [(1, "res")]


async def answer_why(tg: FakeTelegram, chat: Chat, why: str) -> FakeMessage:
    """Type the reason asked for, then Submit; returns the bot's answer to Submit."""
    await tg.user_send(chat.user, why)
    summary = await prompt(tg, chat)
    return await press(tg, chat, summary, "✔ Submit")


async def where_to(tg: FakeTelegram, chat: Chat, card: FakeMessage) -> FakeMessage:
    """Press Not ours on ``card``; returns the question where the report belongs."""
    return await press(tg, chat, card, "Not ours")


async def pass_on(
    tg: FakeTelegram, chat: Chat, where: FakeMessage, to: str, why: str
) -> FakeMessage:
    """Answer where the report belongs and why, and Submit; returns the bot's answer."""
    await press(tg, chat, where, to)
    return await answer_why(tg, chat, why)


async def test_cannot_resolve_asks_why_and_the_reporter_reads_it(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    ask = await press(tg, leader, card, "Cannot resolve")
    assert ask.text == (
        "A report that cannot be resolved\n\n"
        "Why can report R-1 not be resolved? The reporter will read it."
    )
    done = await answer_why(tg, leader, "The stairs belong to the next building")
    assert done.text == (
        "Report R-1 (Hygiene · Building 1, room 101) is closed: cannot be resolved. "
        "The reporter has been told why."
    )
    news = await card_of(tg, student)
    assert news.text == (
        "Your report R-1 (Hygiene · Building 1, room 101) is closed: it cannot be resolved.\n"
        "Why it cannot be resolved (徐梦): The stairs belong to the next building\n"
        "If it is not solved, you can press “Reopen” within 7 days."
    )
    assert labels(news) == ["Reopen"]
    card = await edited(tg, leader, card)
    assert card.buttons == []
    assert (card.text or "").startswith("Closed by 徐梦, cannot be resolved: report R-1\n")
    issue = await the_issue(campus)
    assert issue.status is IssueStatus.NOT_RESOLVABLE
    assert issue.notes[-1]["text"] == "The stairs belong to the next building"


async def test_not_ours_passes_the_report_to_the_floor_it_belongs_to(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    other = await linked(person, invite, FLOOR_3_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    where = await where_to(tg, leader, card)
    # Other floors of the building and the counsellors; closing is for counsellors only.
    assert labels(where)[:4] == [
        "The floor leader of Building 1, floor 2",
        "The floor leader of Building 1, floor 3",
        "The floor leader of Building 1, floor 4",
        "The community's counsellors",
    ]
    assert not any("Not a community matter" in label for label in labels(where))
    done = await pass_on(
        tg,
        leader,
        where,
        "The floor leader of Building 1, floor 3",
        "The rubbish is on the third floor",
    )
    assert done.text == (
        "Report R-1 is passed on to the floor leader (student party member) of Building 1, "
        "floor 3 (高艳芳); the reporter has been told."
    )
    passed = await card_of(tg, other)
    assert (passed.text or "").startswith("For you to handle: report R-1\n")
    assert "Passed on (徐梦): The rubbish is on the third floor" in (passed.text or "")
    assert labels(passed)[0] == "✔ Acknowledge"
    news = await card_of(tg, student)
    assert news.text == (
        "Your report R-1 (Hygiene · Building 1, room 101) has been passed on: the floor leader "
        "(student party member) of Building 1, floor 3 has it now.\n"
        "Why: The rubbish is on the third floor"
    )
    old = await edited(tg, leader, card)
    assert old.buttons == []
    assert old.text == (
        "Passed on to the floor leader (student party member) of Building 1, floor 3: "
        "report R-1\n"
        "Category: Hygiene · Urgency: normal\n"
        "Floor: Building 1, floor 3 · Location: Building 1, room 101\n"
        "Rubbish piling up by the stairs\n"
        "Reported by: 郑博嘉\n"
        "Passed on (徐梦): The rubbish is on the third floor\n"
        "It is with the people responsible now; nothing more to do on this card."
    )
    issue = await the_issue(campus)
    assert (issue.status, issue.assignee_role, issue.round) == (IssueStatus.OPEN, "floor_leader", 1)
    # The leader who passed it on no longer has a say; the new one does.
    await forge(tg, leader, GRID_ISSUE.pack(issue=1, action="res"))
    assert (await the_issue(campus)).status is IssueStatus.OPEN
    await tg.user_press(other.user, passed, passed.button_data("✅ Resolved"))
    assert "resolved" in ((await card_of(tg, student)).text or "")


async def test_not_ours_to_a_floor_nobody_can_take_goes_to_the_counsellors(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    where = await where_to(tg, leader, card)
    # Floor 2's leader has not linked Telegram: nobody there could act on it.
    done = await pass_on(
        tg, leader, where, "The floor leader of Building 1, floor 2", "It is on the second floor"
    )
    assert "community counsellor" in (done.text or "")
    passed = await card_of(tg, counsellor)
    assert "Passed on (徐梦): It is on the second floor" in (passed.text or "")
    issue = await the_issue(campus)
    assert (issue.assignee_role, issue.assignee_scope_kind) == ("counsellor", "community")


async def test_a_counsellor_may_close_a_report_that_is_not_a_community_matter(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    where = await where_to(tg, leader, card)
    await pass_on(tg, leader, where, "The community's counsellors", "Not about our floor at all")
    await card_of(tg, student)
    card = await card_of(tg, counsellor)
    where = await where_to(tg, counsellor, card)
    assert "The community's counsellors" not in labels(where)
    close = "Not a community matter (close it and tell the reporter why)"
    done = await pass_on(tg, counsellor, where, close, "Please ask the estate office")
    assert done.text == (
        "Report R-1 (Hygiene · Building 1, room 101) is closed: not a community matter. "
        "The reporter has been told why."
    )
    news = await card_of(tg, student)
    assert "Why it is not a community matter (朱晓雪): Please ask the estate office" in (
        news.text or ""
    )
    assert labels(news) == ["Reopen"]
    assert (await the_issue(campus)).status is IssueStatus.NOT_OURS


async def test_only_the_reporter_may_reopen(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report(tg, student)
    card = await card_of(tg, leader)
    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    await card_of(tg, student)
    # The person who closed it forges the reporter's Reopen.
    await forge(tg, leader, GRID_ISSUE.pack(issue=1, action="reo"))
    assert (await the_issue(campus)).status is IssueStatus.RESOLVED
    async with campus.unit_of_work() as session:
        refused = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "grid.refused")
        )
        assert [(a.detail["issue"], a.detail["action"]) for a in refused] == [(1, "reo")]


async def test_a_cards_heading_follows_the_report_in_chinese(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER)
    student = await linked(person, invite, STUDENT)
    await tg.user_send(student.user, "/report")
    location = await press(tg, student, await prompt(tg, student), "卫生问题")
    await press(tg, student, location, "✔ 1号楼 101 室")
    await tg.user_send(student.user, "楼梯口堆满了垃圾")
    urgency = await press(tg, student, await prompt(tg, student), "跳过")
    await press(tg, student, await press(tg, student, urgency, "一般"), "✔ 提交")
    body = (
        "类别：卫生问题 · 紧急程度：一般\n楼层：1号楼 1 层 · 位置：1号楼 101 室\n"
        "楼梯口堆满了垃圾\n上报人：郑博嘉"
    )
    card = await card_of(tg, leader)
    assert card.text == "请您处理：上报 R-1\n" + body

    await tg.user_press(leader.user, card, card.button_data("✔ 受理"))
    news = await card_of(tg, student)
    assert news.text == "您的上报 R-1（卫生问题 · 1号楼 101 室）已受理，处理结果会通知您。"
    card = await edited(tg, leader, card)
    assert card.text == "徐梦已受理，待解决：上报 R-1\n" + body

    await tg.user_press(leader.user, card, card.button_data("✅ 已解决"))
    news = await card_of(tg, student)
    assert news.text == (
        "您的上报 R-1（卫生问题 · 1号楼 101 室）已解决。\n如果问题仍在，可在 7 天内点“重新打开”。"
    )
    card = await edited(tg, leader, card)
    assert card.text == "徐梦已解决：上报 R-1\n" + body and card.buttons == []
