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
from tests.bot.test_identity import C2_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
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
    await prompt(tg, student)
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
    await tg.user_press(student.user, news, news.button_data("Reopen"))
    reopened = await edited(tg, student, news)
    assert (
        reopened.text
        == "Report #1 is open again; the people responsible will look at it once more."
    )
    card = await edited(tg, leader, card)
    assert labels(card)[0] == "✔ Acknowledge"
    assert (await the_issue(campus)).status is IssueStatus.OPEN


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
    forged = {
        "callback_query": {
            "id": "forged-1",
            "from": {"id": outsider.user.id, "is_bot": False, "first_name": "x"},
            "chat_instance": "1",
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": outsider.user.id, "type": "private"},
            },
            "data": GRID_ISSUE.pack(issue=1, action="res"),
        }
    }
    tg.inject_update(forged)
    # Updates of one chat are handled in order: once this is answered, the press was judged.
    assert "Community Assistant can do this" in await outsider.say("/help")
    assert (await the_issue(campus)).status is IssueStatus.OPEN
    async with campus.unit_of_work() as session:
        refused = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "grid.refused"))
        ).all()
    assert [(a.detail["issue"], a.detail["action"]) for a in refused] == [(1, "res")]
