"""Work reaches people who can act on it: the cards of people not linked yet come when they link;
when nobody holding the role the work is for can be reached, it goes up the chain at once and the
reporter or requester hears who really has it; an approval nobody decides is nudged, then offered
to the next holder up, before it can lapse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from assistant.app import Edge
from assistant.callbacks import APPROVAL
from assistant.domain import BookingStatus, IssueStatus, RequestStatus, Role
from assistant.sandbox import FakeTelegram
from assistant.sandbox.state import FakeMessage
from assistant.storage.db import Database
from assistant.storage.models import AuditEntry, Firing, FiringStatus, Request, TelegramAccount
from tests.bot.conftest import Chat, Clock
from tests.bot.test_booking import (
    C1_WORKSTATION_HEAD,
    WEDNESDAY_8,
    bookings_in,
    forge,
    refusals,
    shows_lapsed,
    to_summary,
)
from tests.bot.test_escalation import BUS_PARTY_LEADER, issue_of
from tests.bot.test_grid_lifecycle import edited, labels
from tests.bot.test_identity import C1_COUNSELLOR, FLOOR_1_LEADER, STUDENT, linked
from tests.bot.test_report import press, prompt

Invite = Callable[[str], Awaitable[str]]
Person = Callable[..., Chat]
B1_BUILDING_LEADER = "2021010003"  # 王琪华
ACTIVITY_ROOM = ("Party and League activity room", "Business School Party & League Activity Room")
# The Tuesday a week after the clock's start: far enough that nothing lapses first.
NEXT_TUESDAY_8 = WEDNESDAY_8 + timedelta(days=6)


async def report(tg: FakeTelegram, student: Chat, category: str) -> str:
    """The student reports a ``category`` problem in their dorm (normal urgency); returns the
    bot's answer to Submit."""
    await tg.user_send(student.user, "/report")
    categories = await prompt(tg, student)
    location = await press(tg, student, categories, category)
    await press(tg, student, location, location.buttons[0][0]["text"])
    await tg.user_send(student.user, "The door of the washroom is broken")
    photo = await prompt(tg, student)
    urgency = await press(tg, student, photo, "Skip")
    summary = await press(tg, student, urgency, "Normal")
    if category == "A student needs help":
        summary = await press(tg, student, summary, "No")  # not anonymous
    return (await press(tg, student, summary, "✔ Submit")).text or ""


async def book(tg: FakeTelegram, student: Chat, day: str = "2") -> str:
    """The student books the Business School's activity room (a counsellor approves it)."""
    summary = await to_summary(tg, student, *ACTIVITY_ROOM, day=day)
    return (await press(tg, student, summary, "✔ Submit")).text or ""


async def blocked(tg: FakeTelegram, db: Database, chat: Chat, clock: Clock) -> None:
    """``chat``'s person blocked the bot: Telegram refuses every message to them, and the store
    already knows it (as the sender records a 403)."""
    await tg.block_bot(chat.user)
    async with db.unit_of_work() as session:
        await session.execute(
            update(TelegramAccount)
            .where(TelegramAccount.telegram_user_id == chat.user.id)
            .values(unreachable_since=clock())
        )


async def audited(db: Database, action: str) -> list[dict[str, object]]:
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [row.detail for row in rows]


async def timers(db: Database) -> dict[str, datetime]:
    """The pending approval firings, by key."""
    async with db.unit_of_work() as session:
        rows = await session.scalars(
            select(Firing).where(
                Firing.kind.startswith("approval."), Firing.status == FiringStatus.PENDING
            )
        )
        return {row.key: row.due_at for row in rows}


async def the_request(db: Database) -> Request:
    async with db.unit_of_work() as session:
        request = await session.scalar(select(Request))
    assert request is not None
    return request


async def news_for(tg: FakeTelegram, chat: Chat, words: str) -> FakeMessage:
    return await tg.wait_for_bot_message(
        chat.user.id, predicate=lambda m: m.edit_date is None and words in (m.text or "")
    )


# Cards for people not linked yet ----------------------------------------------------------------


async def test_a_report_for_a_leader_not_linked_yet_reaches_them_when_they_link(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    # A repair is the building leader's; nobody above them has linked either: it waits for them.
    done = await report(tg, student, "Repair")
    assert done.startswith(
        "Submitted as report R-1 (Repair · Building 1, room 101).\n"
        "It is with the building leader (student party member), 王琪华, who cannot be reached "
        "on this bot yet and will get it as soon as they can. "
    )
    assert (await issue_of(campus)).assignee_role is Role.BUILDING_LEADER

    leader = person(B1_BUILDING_LEADER, language_code="en")
    greeting = await leader.say(f"/start {await invite(B1_BUILDING_LEADER)}")
    assert "王琪华" in greeting
    card = await prompt(tg, leader)
    assert (card.text or "").startswith("For you to handle: report R-1\n")
    assert "washroom" in (card.text or "") and "✅ Resolved" in labels(card)
    await tg.user_press(leader.user, card, card.button_data("✅ Resolved"))
    assert labels(await edited(tg, leader, card)) == []
    await news_for(tg, student, "resolved")
    assert (await issue_of(campus)).status is IssueStatus.RESOLVED


async def test_a_request_for_a_counsellor_not_linked_yet_reaches_them_when_they_link(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    student = await linked(person, invite, STUDENT, language="en")
    done = await book(tg, student)
    assert "while the community counsellor decides" in done
    counsellor = person(C1_COUNSELLOR, language_code="en")
    assert "朱晓雪" in await counsellor.say(f"/start {await invite(C1_COUNSELLOR)}")
    card = await prompt(tg, counsellor)
    assert (card.text or "").startswith("For your approval: booking B-1\n")
    await tg.user_press(counsellor.user, card, card.button_data("✅ Approve"))
    await news_for(tg, student, "Your booking B-1 is approved.")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED


# Nobody reachable: up the chain at once --------------------------------------------------------


@pytest.mark.parametrize("why", ["not linked", "blocked the bot"])
async def test_a_report_nobody_in_its_role_can_get_goes_up_at_once(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    why: str,
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    if why == "blocked the bot":
        await blocked(tg, campus, await linked(person, invite, FLOOR_1_LEADER), clock)
    student = await linked(person, invite, STUDENT, language="en")
    # Hygiene is the floor leader's, who cannot be reached.
    done = await report(tg, student, "Hygiene")
    assert done.startswith(
        "Submitted as report R-1 (Hygiene · Building 1, room 101).\n"
        "No floor leader (student party member) can be reached just now, so it went straight "
        "up to the community counsellor, 朱晓雪. You will hear how it goes."
    )
    card = await prompt(tg, counsellor)
    assert (card.text or "").startswith("For you to handle: report R-1\n")
    assert "✅ Resolved" in labels(card)
    issue = await issue_of(campus)
    assert issue.assignee_role is Role.COUNSELLOR and issue.routed_by == "hygiene"
    # Nobody up the grid chain has linked either: its `otherwise`, the counsellors, have it.
    assert await audited(campus, "grid.rerouted") == [
        {
            "issue": 1,
            "from": "floor_leader",
            "to": "counsellor",
            "chain": "grid-chain",
            "skipped": [
                ["grid_party_member", "unreachable"],
                ["grid_group_leader", "unreachable"],
                ["branch_secretary", "unreachable"],
                ["college_party_leader", "unreachable"],
            ],
            "otherwise": True,
        }
    ]
    await tg.user_press(counsellor.user, card, card.button_data("✅ Resolved"))
    await news_for(tg, student, "resolved")


async def test_a_private_report_waits_for_the_counsellors_even_when_none_can_be_reached(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database
) -> None:
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    # The top of the grid chain can be reached: a report that may climb would go there.
    college = await linked(person, invite, BUS_PARTY_LEADER, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    done = await report(tg, student, "A student needs help")
    assert done.startswith(
        "Submitted as report R-1 (A student needs help · Building 1, room 101).\n"
        "It is with the community counsellor, 朱晓雪, who cannot be reached on this bot yet and "
        "will get it as soon as they can. "
    )
    assert (await issue_of(campus)).assignee_role is Role.COUNSELLOR
    assert await audited(campus, "grid.rerouted") == []
    # The counsellor gets it on linking; the workstation head and the college never see it.
    counsellor = person(C1_COUNSELLOR, language_code="en")
    await counsellor.say(f"/start {await invite(C1_COUNSELLOR)}")
    card = await prompt(tg, counsellor)
    assert "washroom" in (card.text or "") and "✅ Resolved" in labels(card)
    for chat in (head, college):
        assert await chat.say("/pending") == "Nothing is waiting for you."
        assert not any("washroom" in (m.text or "") for m in tg.messages(chat.user.id))


@pytest.mark.parametrize("why", ["not linked", "blocked the bot"])
async def test_a_request_nobody_in_its_role_can_get_goes_up_at_once(
    edge: Edge,
    person: Person,
    invite: Invite,
    tg: FakeTelegram,
    campus: Database,
    clock: Clock,
    why: str,
) -> None:
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    if why == "blocked the bot":
        await blocked(tg, campus, await linked(person, invite, C1_COUNSELLOR), clock)
    student = await linked(person, invite, STUDENT, language="en")
    done = await book(tg, student)
    assert "while the community party-building workstation head decides" in done
    assert "with the community party-building workstation head" in await student.say("/mine")
    card = await prompt(tg, head)
    assert (card.text or "").startswith("For your approval: booking B-1\n")
    assert await audited(campus, "approval.rerouted") == [
        {"request": 1, "from": "counsellor", "to": "workstation_head"}
    ]
    await tg.user_press(head.user, card, card.button_data("✅ Approve"))
    await news_for(tg, student, "Your booking B-1 is approved.")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED


# Nobody decides: nudged, then offered up, before it lapses -------------------------------------


async def test_an_approval_nobody_decides_is_nudged_then_offered_up(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    opened = clock()
    assert "while the community counsellor decides" in await book(tg, student, day="8")
    card = await prompt(tg, counsellor)
    # Planned with the request: approval.nudge_hours and approval.fallback_hours from now.
    assert await timers(campus) == {
        "req:1:1:approval.nudge": opened + timedelta(hours=24),
        "req:1:1:approval.fallback": opened + timedelta(hours=48),
    }

    clock.advance(timedelta(hours=23, minutes=59))
    await edge.scheduler.run_due()
    clock.advance(timedelta(minutes=1))
    await edge.scheduler.run_due()
    reminder = await prompt(tg, counsellor)
    assert (reminder.text or "").startswith("⏰ Reminder: this request is still waiting for you.")
    assert labels(reminder) == ["✅ Approve", "❌ Reject"]

    clock.advance(timedelta(hours=24))
    await edge.scheduler.run_due()
    # Offered up: the counsellor's cards lose their buttons and say where it went.
    for shown in (card, reminder):
        moved = await edited(tg, counsellor, shown)
        assert (moved.text or "").startswith(
            "Moved up to the community party-building workstation head: booking B-1\n"
        )
        assert (moved.text or "").endswith(
            "\nNot decided in time, so it went up a level; nothing more to do on this card."
        )
        assert moved.buttons == []
    news = await news_for(tg, student, "Nobody decided your booking B-1 in time")
    assert "went up to the community party-building workstation head (刘涵阳)" in (news.text or "")
    assert "with the community party-building workstation head" in await student.say("/mine")
    assert await audited(campus, "approval.fallback") == [
        {"request": 1, "from": "counsellor", "to": "workstation_head"}
    ]
    # The counsellor's old button (pressed before its edit arrived) is late; the head decides.
    await forge(tg, counsellor, APPROVAL.pack(request=1, stage=1, action="a"))
    assert await refusals(campus, "approval.refused") == []
    request = await the_request(campus)
    assert (request.status, request.stage_no) == (RequestStatus.PENDING, 2)
    assert request.lapses_at == NEXT_TUESDAY_8
    head_card = await prompt(tg, head)
    assert (head_card.text or "").startswith("For your approval: booking B-1\n")
    assert set(await timers(campus)) == {"req:1:2:approval.nudge", "req:1:2:approval.fallback"}
    await tg.user_press(head.user, head_card, head_card.button_data("✅ Approve"))
    await news_for(tg, student, "Your booking B-1 is approved.")
    [booking] = await bookings_in(campus)
    assert booking.status is BookingStatus.CONFIRMED and booking.starts_at == NEXT_TUESDAY_8


async def test_a_booking_soon_is_nudged_and_offered_up_before_it_starts(
    edge: Edge, person: Person, invite: Invite, tg: FakeTelegram, campus: Database, clock: Clock
) -> None:
    counsellor = await linked(person, invite, C1_COUNSELLOR, language="en")
    head = await linked(person, invite, C1_WORKSTATION_HEAD, language="en")
    student = await linked(person, invite, STUDENT, language="en")
    opened = clock()
    await book(tg, student, day="2")
    card = await prompt(tg, counsellor)
    # It lapses in 16 hours, before 48: a third and two thirds of the way there.
    left = WEDNESDAY_8 - opened
    assert left == timedelta(hours=16)
    assert await timers(campus) == {
        "req:1:1:approval.nudge": opened + left / 3,
        "req:1:1:approval.fallback": opened + left * 2 / 3,
    }
    clock.now = opened + left * 2 / 3
    await edge.scheduler.run_due()
    await edited(tg, counsellor, card)
    head_card = await prompt(tg, head)
    assert (head_card.text or "").startswith("For your approval: booking B-1\n")
    assert (await the_request(campus)).approver_role is Role.WORKSTATION_HEAD
    # The head's stage, too, is nudged and offered on (to nobody reachable) before the start.
    moved_at = clock()
    assert await timers(campus) == {
        "req:1:2:approval.nudge": moved_at + (WEDNESDAY_8 - moved_at) / 3,
        "req:1:2:approval.fallback": moved_at + (WEDNESDAY_8 - moved_at) * 2 / 3,
    }
    clock.now = WEDNESDAY_8 - timedelta(minutes=1)
    await edge.scheduler.run_due()
    reminders = [
        await tg.wait_for_bot_message(
            head.user.id, predicate=lambda m: "⏰ Reminder" in (m.text or "")
        )
        for _ in range(2)
    ]
    assert all(labels(m) == ["✅ Approve", "❌ Reject"] for m in reminders)
    # Nobody decided; at the start it lapses, and every card of the head's stage says so.
    clock.now = WEDNESDAY_8
    await edge.ticker.run_once()
    await news_for(tg, student, "before it began, so it has lapsed")
    for shown in (head_card, *reminders):
        await shows_lapsed(tg, head, shown)
    assert (await the_request(campus)).status is RequestStatus.CANCELLED
