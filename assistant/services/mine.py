""" "My requests" and "pending for me": one list across every kind of thing a person starts, and
the cards of what waits for a person, each with its buttons.

A card goes out when a report or a request comes to someone; /pending sends each waiting item's
card again, and a person who links their Telegram account gets the cards of everything they
already hold (routed to them before they could be reached) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import (
    Actor,
    IssueStatus,
    Language,
    RequestKind,
    RequestStatus,
    Thing,
    reference,
)
from assistant.services import grid, projects
from assistant.services.approvals import Approvals
from assistant.storage import outbox, repo
from assistant.storage.models import (
    Booking,
    FunctionalRoom,
    GridIssue,
    Person,
    Priority,
    ProjectScore,
    Request,
    StarAward,
    StarNomination,
)

LIMIT = 20
"""The most items of each kind listed; older ones are left out (of /pending: newer ones)."""


@dataclass(frozen=True)
class Item:
    """One line of a list: what it is, its reference, what it is about and where it stands.

    ``id`` is the row behind the line: a request's for a booking that waits for a decision
    (its card is the request's), else the thing's own. ``reference`` is what people call it.
    """

    kind: Thing
    id: int
    reference: str
    # A project's title, a report's category, a nominee's name; empty for a booking.
    title: str
    status: str
    at: datetime
    # The stage a request in review is at, for "pending" lines.
    stage: str = ""
    # Who a request of mine still waits for (a role), for "mine" lines.
    waiting: str = ""
    # A booking's room in both languages, its campus day (shown by the ``day`` filter) and hours.
    room_zh: str = ""
    room_en: str = ""
    day: date | None = None
    hours: str = ""
    # A nomination's month ("2026-11").
    when: str = ""


def _issue(issue: GridIssue) -> Item:
    return Item(
        Thing.REPORT, issue.id, issue.reference, issue.category, issue.status, issue.created_at
    )


def _request(request: Request, stage: str = "") -> Item:
    """A request as a line: a booking request shows its room and time from its detail."""
    detail = request.detail
    booking = request.kind is RequestKind.BOOKING
    return Item(
        Thing(str(request.kind)),
        request.id,
        request.reference,
        "" if booking else request.title,
        request.status,
        request.created_at,
        stage,
        _waiting(request),
        room_zh=str(detail.get("room_zh", "")) if booking else "",
        room_en=str(detail.get("room_en", "")) if booking else "",
        day=date.fromisoformat(str(detail["date"])) if booking else None,
        hours=str(detail.get("slot", "")) if booking else "",
    )


def _waiting(request: Request | None) -> str:
    """The role a pending request waits for, if it waits for a role's approval cards."""
    if request is None or request.status is not RequestStatus.PENDING:
        return ""
    if request.approver_role is None or request.stage == projects.EXPERTS:
        return ""
    return str(request.approver_role)


async def started_by(session: AsyncSession, person_id: int, campus: tzinfo) -> list[Item]:
    """Everything ``person_id`` started, newest first; a request in review says who has it."""
    items: list[Item] = []
    issues = await session.scalars(
        select(GridIssue)
        .where(GridIssue.reporter_person_id == person_id)
        .order_by(GridIssue.created_at.desc())
        .limit(LIMIT)
    )
    items += [_issue(i) for i in issues]
    bookings = await session.execute(
        select(Booking, FunctionalRoom, Request)
        .join(FunctionalRoom, FunctionalRoom.id == Booking.room_id)
        .outerjoin(Request, Request.id == Booking.request_id)
        .where(Booking.person_id == person_id)
        .order_by(Booking.starts_at.desc())
        .limit(LIMIT)
    )
    items += [
        Item(
            Thing.BOOKING,
            b.id,
            b.reference,
            "",
            "no_show" if b.no_show else b.status,
            b.created_at,
            waiting=_waiting(request),
            room_zh=room.name_zh,
            room_en=room.name_en,
            day=b.starts_at.astimezone(campus).date(),
            hours=f"{b.starts_at.astimezone(campus):%H:%M}–{b.ends_at.astimezone(campus):%H:%M}",
        )
        for b, room, request in bookings
    ]
    requests = await session.scalars(
        select(Request)
        .where(Request.requester_person_id == person_id, Request.kind == RequestKind.PROJECT)
        .order_by(Request.created_at.desc())
        .limit(LIMIT)
    )
    items += [_request(r, r.stage) for r in requests]
    # A nomination is chosen when its nominee is that month's Star, whoever nominated first.
    chosen = (
        select(StarAward.id)
        .where(
            StarAward.person_id == StarNomination.nominee_person_id,
            StarAward.month == StarNomination.month,
        )
        .exists()
    )
    nominations = await session.execute(
        select(StarNomination, Person.name, chosen)
        .join(Person, Person.id == StarNomination.nominee_person_id)
        .where(StarNomination.nominator_person_id == person_id)
        .order_by(StarNomination.created_at.desc())
        .limit(LIMIT)
    )
    items += [
        Item(
            Thing.NOMINATION,
            n.id,
            reference(Thing.NOMINATION, n.id),
            name,
            "chosen" if award else "nominated",
            n.created_at,
            when=n.month,
        )
        for n, name, award in nominations
    ]
    return sorted(items, key=lambda item: item.at, reverse=True)


async def waiting_for(session: AsyncSession, actor: Actor, approvals: Approvals) -> list[Item]:
    """What waits for ``actor``, oldest first, at most :data:`LIMIT`: requests at a stage they
    decide (never their own), projects they have still to score, reports they have."""
    items = [_request(r, r.stage) for r in (await approvals.pending_for(session, actor))[:LIMIT]]
    panel = projects.EXPERTS_STAGE
    # Found through the requests at the panel's stage (their approver index), then this
    # expert's row of each (the unique request and expert pair).
    scoring = await session.scalars(
        select(Request)
        .join(ProjectScore, ProjectScore.request_id == Request.id)
        .where(
            Request.status == RequestStatus.PENDING,
            Request.approver_role == panel.role,
            Request.approver_scope_kind == panel.scope_kind,
            Request.approver_scope_id == panel.scope_id,
            Request.stage == panel.name,
            ProjectScore.expert_person_id == actor.person_id,
            ProjectScore.total.is_(None),
        )
        .order_by(Request.created_at)
        .limit(LIMIT)
    )
    items += [_request(r, r.stage) for r in scoring]
    grants = [(g.role, g.scope_kind, g.scope_id) for g in actor.grants]
    if grants:
        issues = await session.scalars(
            select(GridIssue)
            .where(
                GridIssue.status.in_([IssueStatus.OPEN, IssueStatus.ACKNOWLEDGED]),
                tuple_(
                    GridIssue.assignee_role,
                    GridIssue.assignee_scope_kind,
                    GridIssue.assignee_scope_id,
                ).in_(grants),
            )
            .order_by(GridIssue.created_at)
            .limit(LIMIT)
        )
        items += [_issue(i) for i in issues]
    return sorted(items, key=lambda item: item.at)[:LIMIT]


async def send_cards(
    session: AsyncSession,
    actor: Actor,
    items: list[Item],
    chat_id: int,
    language: Language,
    *,
    approvals: Approvals,
    cards: grid.Cards,
    now: datetime,
) -> None:
    """Queue to ``chat_id`` the card of each item waiting for ``actor``, with its buttons: a
    request's approval card, a project's scoring card, a report's card. A decision rewrites it
    like every other card of the same thing."""
    review = approvals.workflows.get(RequestKind.PROJECT)
    for item in items:
        if item.kind is Thing.REPORT:
            issue = await session.get(GridIssue, item.id)
            assert issue is not None and issue.floor_id is not None
            place = await repo.place_of_floor(session, issue.floor_id)
            reporter = await session.get(Person, issue.reporter_person_id)
            assert place is not None and reporter is not None
            shown = None if issue.anonymous else reporter.name
            cards.send_to(
                session, issue, place, chat_id, language, owner=True, reporter=shown, now=now
            )
            continue
        request = await session.get(Request, item.id)
        assert request is not None
        if item.stage != projects.EXPERTS:
            await approvals.send_card(session, request, chat_id, language, now=now)
            continue
        row = await session.scalar(
            select(ProjectScore).where(
                ProjectScore.request_id == request.id,
                ProjectScore.expert_person_id == actor.person_id,
            )
        )
        assert row is not None and isinstance(review, projects.Review)
        card = await review.card(session, language, request, row, open_=True)
        outbox.enqueue(
            session, chat_id, "sendMessage", card.payload(), priority=Priority.BULK, now=now
        )


async def deliver_held(
    session: AsyncSession,
    actor: Actor,
    chat_id: int,
    language: Language,
    *,
    approvals: Approvals,
    cards: grid.Cards,
    now: datetime,
) -> int:
    """``actor`` has just linked ``chat_id``: queue the cards of everything already waiting
    for them; returns how many."""
    items = await waiting_for(session, actor, approvals)
    await send_cards(
        session, actor, items, chat_id, language, approvals=approvals, cards=cards, now=now
    )
    return len(items)
