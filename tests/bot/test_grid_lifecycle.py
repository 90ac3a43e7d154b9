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
    assert "Grid issue for you" in (card.text or "")
    assert labels(card) == [
        "✔ Acknowledge",
        "✅ Resolved",
        "Cannot resolve",
        "Not ours",
        "Duplicate",
    ]

    await tg.user_press(leader.user, card, card.button_data("✔ Acknowledge"))
    news = await card_of(tg, student)
    assert news.text == "Your report #1 is now acknowledged."
    card = await edited(tg, leader, card)
    assert "acknowledged" in (card.text or "") and "✔ Acknowledge" not in labels(card)

    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    news = await card_of(tg, student)
    assert "now resolved" in (news.text or "") and labels(news) == ["Reopen"]
    card = await edited(tg, leader, card)
    assert card.buttons == [] and "resolved" in (card.text or "")
    assert (await the_issue(campus)).status is IssueStatus.RESOLVED

    clock.advance(timedelta(days=6))
    ask = await press(tg, student, news, "Reopen")
    assert ask.text == (
        "Reopen a report\n\nWhy is report #1 not solved? The people responsible will read it."
    )
    await tg.user_send(student.user, "Still piling up")
    summary = await prompt(tg, student)
    done = await press(tg, student, summary, "✔ Submit")
    assert done.text == "Report #1 is open again; the people responsible will look at it once more."
    # The leader gets a new card with the reason and its buttons; the old one keeps none.
    again = await card_of(tg, leader)
    assert "Reopened (郑博嘉): Still piling up" in (again.text or "")
    assert labels(again)[0] == "✔ Acknowledge"
    old = await edited(tg, leader, card)
    assert old.buttons == [] and "Grid issue, for your information" in (old.text or "")
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
    assert "duplicate" in (news.text or "")
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
    assert (ask.text or "").endswith(
        "\n\nWhy can report #1 not be resolved? The reporter will read it."
    )
    done = await answer_why(tg, leader, "The stairs belong to the next building")
    assert done.text == (
        "Report #1 is closed (cannot be resolved); the reporter has been told why."
    )
    news = await card_of(tg, student)
    assert "now <b>cannot be resolved</b>" in (news.text or "") or "cannot be resolved" in (
        news.text or ""
    )
    assert "Why it cannot be resolved (徐梦): The stairs belong to the next building" in (
        news.text or ""
    )
    assert labels(news) == ["Reopen"]
    card = await edited(tg, leader, card)
    assert card.buttons == []
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
        "Report #1 is passed on to the floor leader (student party member) of Building 1, "
        "floor 3 (高艳芳); the reporter has been told."
    )
    passed = await card_of(tg, other)
    assert "Passed on (徐梦): The rubbish is on the third floor" in (passed.text or "")
    assert labels(passed)[0] == "✔ Acknowledge"
    news = await card_of(tg, student)
    assert news.text == (
        "Your report #1 has been passed on: the floor leader (student party member) of "
        "Building 1, floor 3 has it now.\nWhy: The rubbish is on the third floor"
    )
    old = await edited(tg, leader, card)
    assert old.buttons == []
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
        "Report #1 is closed (not a community matter); the reporter has been told why."
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
