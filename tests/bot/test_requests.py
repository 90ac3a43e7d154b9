""" "My requests" (/mine) and "pending for me" (/pending), and forged approval buttons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from assistant.app import Edge
from assistant.domain import RequestStatus
from assistant.sandbox import FakeTelegram
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, Request
from tests.bot.conftest import Chat
from tests.bot.test_booking import to_summary
from tests.bot.test_escalation import report_hygiene
from tests.bot.test_grid_lifecycle import labels
from tests.bot.test_identity import (
    C1_COUNSELLOR,
    FLOOR_1_LEADER,
    STUDENT,
    linked,
    personal_menu,
)
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
ACTIVITY_ROOM = ("Party and League activity room", "Business School Party & League Activity Room")


async def test_mine_and_pending_follow_a_request_to_its_decision(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    leader = await linked(person, invite, FLOOR_1_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    assert await student.say("/mine") == (
        "You have not started anything yet. /help lists what you can do."
    )
    assert await counsellor.say("/pending") == "Nothing is waiting for you."

    summary = await to_summary(tg, student, *ACTIVITY_ROOM)
    await press(tg, student, summary, "✔ Submit")
    card = await tg.wait_for_bot_message(counsellor.user.id)
    await report_hygiene(tg, student)
    report_card = await tg.wait_for_bot_message(leader.user.id)

    mine = await student.say("/mine")
    assert mine.splitlines()[0] == "My requests"
    assert "Grid issue #1 · Hygiene · open" in mine
    assert (
        "Booking #1 · BUS-ACT 2026-09-02 08:00 · waiting for approval"
        " · with the community counsellor"
    ) in mine
    pending = await counsellor.say("/pending")
    assert "Booking #1 · BUS-ACT 2026-09-02 08:00–10:00 · approval" in pending
    assert "Grid issue" not in pending  # hygiene is the floor leader's
    # Every item comes again as its card, with its buttons.
    again = await prompt(tg, counsellor)
    assert "Request #1 for your approval" in (again.text or "")
    assert labels(again) == ["✅ Approve", "❌ Reject"]
    assert "Grid issue #1 · Hygiene · open" in await leader.say("/pending")
    issue_again = await prompt(tg, leader)
    assert (issue_again.text or "") == (report_card.text or "")
    assert labels(issue_again) == labels(report_card) and "✅ Resolved" in labels(issue_again)
    # What others started is not in my list.
    assert await student.say("/pending") == "Nothing is waiting for you."

    # The card /pending sent decides, and every card of the request loses its buttons.
    await tg.user_press(counsellor.user, again, again.button_data("✅ Approve"))
    await prompt(tg, student)
    for shown in (card, again):
        decided = await tg.wait_for_bot_message(
            counsellor.user.id, predicate=lambda m, shown=shown: m.message_id == shown.message_id
        )
        assert decided.buttons == [] and ": approved" in (decided.text or "")
    assert "Booking #1 · BUS-ACT 2026-09-02 08:00 · confirmed" in await student.say("/mine")
    assert await counsellor.say("/pending") == "Nothing is waiting for you."
    # The report's /pending card moves it on like the first one.
    await tg.user_press(leader.user, issue_again, issue_again.button_data("✅ Resolved"))
    await tg.wait_for_bot_message(student.user.id, predicate=lambda m: "resolved" in (m.text or ""))
    assert await leader.say("/pending") == "Nothing is waiting for you."


async def test_people_who_hold_a_role_see_its_commands_in_their_menu(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    theirs, mine = await personal_menu(tg, counsellor), await personal_menu(tg, student)
    for command in ("pending", "apply", "broadcast"):
        assert command in theirs
        assert command not in mine
    # Picking the Star is the Service Centre's, not theirs.
    assert "stars" not in theirs and "mine" in mine


@pytest.mark.parametrize(
    "data",
    ["ap:1:1:a", "ap:1:1:r", "ap:²:1:a", "ap:1:٣:r", "ap:99999999999:1:a", "ap:1:1:x", "ap::::"],
)
async def test_forged_approval_buttons_are_refused_or_expired(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, data: str
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    summary = await to_summary(tg, student, *ACTIVITY_ROOM)
    await press(tg, student, summary, "✔ Submit")
    await tg.wait_for_bot_message(counsellor.user.id)
    tg.inject_update(
        {
            "callback_query": {
                "id": "forged-1",
                "from": {"id": student.user.id, "is_bot": False, "first_name": "x"},
                "chat_instance": "1",
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "chat": {"id": student.user.id, "type": "private"},
                },
                "data": data,
            }
        }
    )
    # Updates of one chat are handled in order: once this is answered, the press was judged.
    assert "Community Assistant can do this" in await student.say("/help")
    async with campus.unit_of_work() as session:
        audited = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "approval.refused"))
        )
        request = await session.get(Request, 1)
    assert len(audited) == (1 if data in ("ap:1:1:a", "ap:1:1:r") else 0)
    assert request is not None and request.status is RequestStatus.PENDING
