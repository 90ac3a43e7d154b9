"""A grid issue left unresolved climbs the chain of responsibility at its deadlines."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from assistant.app import Edge, running
from assistant.callbacks import GRID_ISSUE
from assistant.config import REPO_ROOT
from assistant.domain import IssueStatus, Role
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, GridIssue
from tests.bot.conftest import Chat, Clock, make_application
from tests.bot.test_grid_lifecycle import card_of, edited, forge, labels
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
C1_WORKSTATION_HEAD = "T0004"


async def report_hygiene(tg: FakeTelegram, student: Chat) -> str:
    """The student reports rubbish on their floor (normal urgency: the floor leader has it);
    returns the bot's answer to Submit."""
    await tg.user_send(student.user, "/report")
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


async def issues_of(db: Database) -> list[GridIssue]:
    async with db.unit_of_work() as session:
        return list(await session.scalars(select(GridIssue).order_by(GridIssue.id)))


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
        "Your report R-1 (Hygiene · Building 1, room 101) was not resolved in time, so it now "
        "goes to the community counsellor. Next deadline: 2026-09-03 16:00."
    )
    taken = await card_of(tg, counsellor)
    assert (taken.text or "").startswith("For you to handle: report R-1\n")
    assert "Resolved" in " ".join(labels(taken))
    # The floor leader's card stays without its buttons, and says where the report went.
    moved = await edited(tg, leader, first)
    assert labels(moved) == []
    assert (moved.text or "").startswith("Moved up to the community counsellor: report R-1\n")
    assert (moved.text or "").endswith(
        "\nNot resolved in time, so it went up a level; nothing more to do on this card."
    )

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
    await report_in_need(tg, student)
    await card_of(tg, counsellor)
    clock.advance(timedelta(hours=2))
    await edge.scheduler.run_due()
    # Reminded with the card again; the workstation head never sees it.
    again = await card_of(tg, counsellor)
    assert "My roommate has not eaten for days" in (again.text or "")
    assert (await issue_of(campus)).assignee_role is Role.COUNSELLOR
    assert await escalations(campus) == []
    assert tg.state.bot_outbox.get(head.user.id, []) == []


async def test_a_reopened_report_climbs_again(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_hygiene(tg, student)  # deadline 24 hours on, at 2026-09-02 16:00
    card = await card_of(tg, leader)
    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    news = await prompt(tg, student)
    # Two hours later the reporter reopens it: a new round, with a deadline of its own.
    clock.advance(timedelta(hours=2))
    await press(tg, student, news, "Reopen")
    await tg.user_send(student.user, "Still there")
    summary = await prompt(tg, student)
    await press(tg, student, summary, "✔ Submit")
    assert "Reopened" in ((await card_of(tg, leader)).text or "")
    # The first round's deadline no longer counts ...
    clock.advance(timedelta(hours=22))
    await edge.scheduler.run_due()
    assert await escalations(campus) == []
    # ... the new one does.
    clock.advance(timedelta(hours=2))
    await edge.scheduler.run_due()
    assert "goes to the community counsellor" in ((await prompt(tg, student)).text or "")
    taken = await card_of(tg, counsellor)
    assert "Reopened (郑博嘉): Still there" in (taken.text or "")
    assert await escalations(campus) == [{"issue": 1, "from": "floor_leader", "to": "counsellor"}]


async def report_in_need(tg: FakeTelegram, student: Chat) -> None:
    """The student reports, anonymously, a roommate in difficulty (a private report)."""
    await tg.user_send(student.user, "/report")
    category = await prompt(tg, student)
    location = await press(tg, student, category, "A student needs help")
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "My roommate has not eaten for days")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    anonymous = await press(tg, student, urgency, "Urgent")
    summary = await press(tg, student, anonymous, "Yes")
    await press(tg, student, summary, "✔ Submit")


async def test_a_floor_leader_cannot_act_on_a_private_report_of_their_floor(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    await report_in_need(tg, student)
    await card_of(tg, counsellor)
    for action in ("ack", "res", "not", "unr"):
        await forge(tg, leader, GRID_ISSUE.pack(issue=1, action=action))
    issue = await issue_of(campus)
    assert (issue.status, issue.assignee_role) == (IssueStatus.OPEN, Role.COUNSELLOR)
    async with campus.unit_of_work() as session:
        refused = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "grid.refused")
        )
        assert [a.detail["action"] for a in refused] == ["ack", "res", "not", "unr"]
    # Nothing of the report reached the floor leader, not even a question about it.
    told = [m.text or "" for m in tg.state.bot_outbox.get(leader.user.id, [])]
    assert not any("roommate" in text or "Why" in text for text in told)


PRIVATE_TO_FLOOR_LEADERS = """
rules:
  - id: everything-to-floor-leaders
    description: a routing file that forgets private reports
    when: 'true'
    assign: floor_leader
"""


async def test_a_private_report_goes_to_the_counsellors_whatever_the_routing_file_says(
    campus: Database, person: Person, invite: Invite, tg: FakeTelegram, clock: Clock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", rules)
    (rules / "routing.yaml").write_text(textwrap.dedent(PRIVATE_TO_FLOOR_LEADERS), encoding="utf-8")
    async with running(make_application(campus, tg, clock, rules_dir=rules)):
        leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
        counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
        student = await linked(person, invite, STUDENT, language="en")
        await report_hygiene(tg, student)
        assert "Rubbish" in ((await card_of(tg, leader)).text or "")
        await report_in_need(tg, student)
        assert "roommate" in ((await card_of(tg, counsellor)).text or "")
        private = (await issues_of(campus))[1]
        assert (private.private, private.assignee_role) == (True, Role.COUNSELLOR)
        assert all(
            "roommate" not in (m.text or "") for m in tg.state.bot_outbox.get(leader.user.id, [])
        )
