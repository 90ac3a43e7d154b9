"""A grid issue left unresolved climbs the chain of responsibility at its deadlines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from assistant.app import Edge
from assistant.domain import IssueStatus, Role
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, GridIssue
from tests.bot.conftest import Chat, Clock
from tests.bot.test_grid_lifecycle import card_of, edited, labels
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
C1_WORKSTATION_HEAD = "T0004"


async def report_hygiene(tg: FakeTelegram, student: Chat) -> str:
    """The student reports rubbish on their floor (normal urgency: the floor leader has it);
    returns the bot's answer to Submit."""
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
    category = await prompt(tg, student)
    location = await press(tg, student, category, "Hygiene")
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "Rubbish piling up by the stairs")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    summary = await press(tg, student, urgency, "Normal")
    return (await press(tg, student, summary, "✔ Submit")).text or ""


async def issue_of(db: Database) -> GridIssue:
    async with db.unit_of_work() as session:
        issue = await session.scalar(select(GridIssue))
    assert issue is not None
    return issue


async def escalations(db: Database) -> list[dict[str, object]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "grid.escalated").order_by(AuditEntry.id)
        )
        return [row.detail for row in rows]


async def test_an_unresolved_report_climbs_two_tiers(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    done = await report_hygiene(tg, student)
    # Normal urgency: 24 hours (grid.escalate_hours.normal) from 16:00 on 1 September.
    assert "If it is not resolved by 2026-09-02 16:00" in done
    first = await card_of(tg, leader)
    assert "Resolved" in " ".join(labels(first))

    clock.advance(timedelta(hours=23, minutes=59))
    await edge.scheduler.run_due()
    assert (await issue_of(campus)).assignee_role is Role.FLOOR_LEADER

    clock.advance(timedelta(minutes=1))
    await edge.scheduler.run_due()
    news = await prompt(tg, student)
    assert news.text == (
        "Your report #1 was not resolved in time, so it now goes to the community counsellor. "
        "Next deadline: 2026-09-03 16:00."
    )
    taken = await card_of(tg, counsellor)
    assert "Resolved" in " ".join(labels(taken))
    # The floor leader's card stays, for information, without its buttons.
    assert labels(await edited(tg, leader, first)) == []

    clock.advance(timedelta(hours=24))
    await edge.scheduler.run_due()
    assert "goes to the community party-building workstation head" in (
        (await prompt(tg, student)).text or ""
    )
    head_card = await card_of(tg, head)
    assert "Resolved" in " ".join(labels(head_card))
    issue = await issue_of(campus)
    assert issue.assignee_role is Role.WORKSTATION_HEAD
    assert await escalations(campus) == [
        {"issue": 1, "from": "floor_leader", "to": "counsellor"},
        {"issue": 1, "from": "counsellor", "to": "workstation_head"},
    ]
    # The head resolves it; the next deadline passes and nothing climbs any more.
    await tg.user_press(head.user, head_card, head_card.button_data("✅ Resolved"))
    await tg.wait_for_bot_message(student.user.id, predicate=lambda m: "resolved" in (m.text or ""))
    clock.advance(timedelta(hours=24))
    await edge.scheduler.run_due()
    assert len(await escalations(campus)) == 2


async def test_a_resolved_report_does_not_climb(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_hygiene(tg, student)
    card = await card_of(tg, leader)
    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    await edited(tg, leader, card)
    assert (await issue_of(campus)).status is IssueStatus.RESOLVED
    clock.advance(timedelta(days=3))
    await edge.scheduler.run_due()
    assert await escalations(campus) == []
    assert tg.state.bot_outbox.get(counsellor.user.id, []) == []


async def test_a_private_report_never_leaves_the_counsellors(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await tg.user_send(student.user, "/report")
    await prompt(tg, student)
    category = await prompt(tg, student)
    location = await press(tg, student, category, "A student needs help")
    description = await press(tg, student, location, location.buttons[0][0]["text"])
    assert description.text
    await tg.user_send(student.user, "My roommate has not eaten for days")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    anonymous = await press(tg, student, urgency, "Urgent")
    summary = await press(tg, student, anonymous, "Yes")
    await press(tg, student, summary, "✔ Submit")
    await card_of(tg, counsellor)
    clock.advance(timedelta(hours=2))
    await edge.scheduler.run_due()
    # Reminded with the card again; the workstation head never sees it.
    again = await card_of(tg, counsellor)
    assert "My roommate has not eaten for days" in (again.text or "")
    assert (await issue_of(campus)).assignee_role is Role.COUNSELLOR
    assert await escalations(campus) == []
    assert tg.state.bot_outbox.get(head.user.id, []) == []
