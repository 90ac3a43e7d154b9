"""Room bookings (预约功能房): the reading room of one's building, one's college's activity room,
and the shared studios, booked by the slot.

Two bookings of a room can never overlap: the store refuses the second insert (a unique slot
start everywhere; over the time range, an exclusion constraint on PostgreSQL and triggers on
SQLite), so when two people press Submit at the same moment, or ask for slots of two lengths
that overlap, one gets the room and the other is told it was just taken. The
booking window, the weekly quota, blackout days, opening hours and who approves come from the
rules (``booking.*`` in rules/access.yaml and rules/policies.yaml) and are checked again here
when a booking is made, whatever the conversation showed.

A booking that needs no approval is confirmed at once; otherwise it holds the slot while a
request waits for the approver the rules name, and is confirmed or released by the decision.
A confirmed booking must be checked in to within ``booking.checkin_minutes`` of its start, or the
slot is released and a no-show recorded for the rooms' usage evaluation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec
from assistant.domain import (
    HOLDING_BOOKING,
    ROLE_SCOPE,
    Actor,
    BookingStatus,
    FunctionalRoomKind,
    Place,
    RequestKind,
    RequestStatus,
    Role,
    ScopeKind,
)
from assistant.flows.engine import FlowContext, Refused, Reprompt, Submitted
from assistant.flows.spec import Option
from assistant.rules import AccessDecision
from assistant.services import identity, people
from assistant.services.approvals import Stage, grant_of
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Booking,
    Building,
    Community,
    FunctionalRoom,
    OutboxStatus,
    Person,
    Priority,
    Request,
)
from assistant.texts import pick_language

BOOKING = CallbackCodec("bk", ("booking", "action"))
"""The buttons of "my bookings" (cancel) and of the check-in message (I'm here)."""
CANCEL, CHECK_IN = "x", "in"
# Cancel only asks; the question's buttons cancel for good or go back to the list.
CANCEL_SURE, BACK = "xy", "ls"
NO_APPROVER = "none"
LIMIT = 20
"""The most upcoming bookings "my bookings" lists."""


class Handling(enum.StrEnum):
    """What a press of a booking's button did; each has its own message."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"


@dataclass(frozen=True)
class Slot:
    """One bookable period of a room on a day, in UTC, and its start in campus time."""

    starts_at: datetime
    ends_at: datetime
    value: str
    label: str


@dataclass(frozen=True)
class Listed:
    """A booking as "my bookings" shows it, with its room and its times in campus time."""

    booking: Booking
    room: FunctionalRoom
    starts: datetime
    ends: datetime

    @property
    def cancellable(self) -> bool:
        """Whether the booker may still withdraw it."""
        return self.booking.status in (BookingStatus.PENDING, BookingStatus.CONFIRMED)


def may_use(room: FunctionalRoom, actor: Actor, place: Place | None) -> bool:
    """A college's room is for its people, a reading room for its building's residents, and the
    shared studios for everyone."""
    if room.college_id is not None:
        return actor.college is not None and room.college_id == actor.college.id
    if room.kind is FunctionalRoomKind.READING_ROOM:
        return place is not None and room.building_id == place.building.id
    return True


class Bookings:
    """Books rooms, decides booking requests' next steps, takes check-ins, releases no-shows."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.rules = kit.rules
        self.texts = kit.texts

    # Rules -------------------------------------------------------------------------------------

    def _number(self, policy: str, subject: Mapping[str, Any], kind: FunctionalRoomKind) -> int:
        return int(self.rules.policy(policy, {**subject, "room_kind": str(kind)}).outcome.value)

    def today(self, now: datetime) -> date:
        """The campus date at ``now``."""
        return now.astimezone(self.kit.campus).date()

    def slots(self, day: date, subject: Mapping[str, Any], kind: FunctionalRoomKind) -> list[Slot]:
        """The slots of a room of ``kind`` on ``day``, from its opening hours in the rules, which
        may differ by day (longer in exam weeks)."""
        subject = {**subject, **people.day_facts(day, self.rules.calendar)}
        first = self._number("booking.open_hour", subject, kind)
        last = self._number("booking.close_hour", subject, kind)
        length = max(1, self._number("booking.slot_hours", subject, kind))
        found = []
        for hour in range(first, last - length + 1, length):
            starts = datetime.combine(day, time(hour), tzinfo=self.kit.campus)
            ends = starts + timedelta(hours=length)
            found.append(
                Slot(
                    starts.astimezone(UTC),
                    ends.astimezone(UTC),
                    f"{starts:%H:%M}",
                    f"{starts:%H:%M}–{ends:%H:%M}",
                )
            )
        return found

    def open_on(
        self, subject: Mapping[str, Any], kind: FunctionalRoomKind, day: date
    ) -> AccessDecision:
        """Whether rooms of ``kind`` may be booked on ``day`` (blackout days, holidays)."""
        facts = people.day_facts(day, self.rules.calendar)
        return self.rules.allowed("booking.create", {**subject, **facts, "room_kind": str(kind)})

    # Rooms and slots ---------------------------------------------------------------------------

    async def usable_rooms(
        self, session: AsyncSession, actor: Actor, kind: FunctionalRoomKind | None = None
    ) -> list[FunctionalRoom]:
        """The rooms ``actor`` may book, of ``kind`` if given."""
        query = select(FunctionalRoom).order_by(FunctionalRoom.code)
        if kind is not None:
            query = query.where(FunctionalRoom.kind == kind)
        place = actor.home
        return [room for room in await session.scalars(query) if may_use(room, actor, place)]

    async def usable_room(
        self, session: AsyncSession, actor: Actor, code: object
    ) -> FunctionalRoom | None:
        """The room with this code, if ``actor`` may book it."""
        room = await session.scalar(select(FunctionalRoom).where(FunctionalRoom.code == str(code)))
        if room is None or not may_use(room, actor, actor.home):
            return None
        return room

    async def free_slots(
        self, session: AsyncSession, actor: Actor, room: FunctionalRoom, day: date, now: datetime
    ) -> list[Slot]:
        """The slots of ``room`` on ``day`` that are still ahead and that nobody holds."""
        subject = people.rule_subject(actor)
        slots = [s for s in self.slots(day, subject, room.kind) if s.starts_at > now]
        if not slots:
            return []
        held = (
            await session.execute(
                select(Booking.starts_at, Booking.ends_at).where(
                    Booking.room_id == room.id,
                    Booking.status.in_(HOLDING_BOOKING),
                    Booking.starts_at < slots[-1].ends_at,
                    Booking.ends_at > slots[0].starts_at,
                )
            )
        ).all()
        return [s for s in slots if not any(a < s.ends_at and s.starts_at < b for a, b in held)]

    # What the conversation asks ----------------------------------------------------------------

    async def room_kinds(self, context: FlowContext) -> list[Option]:
        """The kinds of room the person has a room of and that the rules let them book."""
        rooms = await self.usable_rooms(context.session, context.actor)
        subject = people.rule_subject(context.actor)
        present = {room.kind for room in rooms}
        return [
            Option(
                str(kind),
                {
                    language: self.texts.render(language, "booking_room_kind", kind=str(kind))
                    for language in self.texts.languages()
                },
            )
            for kind in FunctionalRoomKind
            if kind in present
            and self.rules.allowed(
                "booking.create", {**subject, "room_kind": str(kind)}
            ).outcome.allowed
        ]

    async def rooms(self, context: FlowContext) -> list[Option]:
        """The rooms of the chosen kind the person may book."""
        kind = _kind(context.answers.get("room_kind"))
        if kind is None:
            return []
        return [
            Option(room.code, {"zh-CN": room.name_zh, "en": room.name_en})
            for room in await self.usable_rooms(context.session, context.actor, kind)
        ]

    async def slot_options(self, context: FlowContext) -> list[Option]:
        """The free slots of the chosen room on the chosen day."""
        found = await self._chosen(context)
        if found is None:
            return []
        room, day = found
        slots = await self.free_slots(context.session, context.actor, room, day, context.now)
        return [Option(s.value, {"zh-CN": s.label, "en": s.label}) for s in slots]

    async def _chosen(self, context: FlowContext) -> tuple[FunctionalRoom, date] | None:
        room = await self.usable_room(context.session, context.actor, context.answers.get("room"))
        day = _day(context.answers.get("date"))
        return (room, day) if room is not None and day is not None else None

    async def not_past(self, context: FlowContext, value: Any) -> bool:
        """The day is today or later."""
        day = _day(value)
        return day is not None and day >= self.today(context.now)

    async def in_window(self, context: FlowContext, value: Any) -> bool:
        """The day is no further ahead than ``booking.window_days``."""
        day, kind = _day(value), _kind(context.answers.get("room_kind"))
        if day is None or kind is None:
            return False
        subject = people.rule_subject(context.actor)
        window = self._number("booking.window_days", subject, kind)
        return day <= self.today(context.now) + timedelta(days=window)

    async def open_day(self, context: FlowContext, value: Any) -> bool:
        """The rules let rooms of this kind be booked on that day."""
        day, kind = _day(value), _kind(context.answers.get("room_kind"))
        if day is None or kind is None:
            return False
        subject = people.rule_subject(context.actor)
        return self.open_on(subject, kind, day).outcome.allowed

    async def has_free_slot(self, context: FlowContext, value: Any) -> bool:
        """The chosen room still has a free slot that day."""
        del value
        return bool(await self.slot_options(context))

    async def week_has_room(self, context: FlowContext, value: Any) -> bool:
        """The person holds fewer bookings in the day's week than ``booking.max_per_week``;
        the re-prompt names that limit."""
        day, kind = _day(value), _kind(context.answers.get("room_kind"))
        if day is None or kind is None:
            return False
        limit = self._number("booking.max_per_week", people.rule_subject(context.actor), kind)
        if await self._held_in_week(context.session, context.actor.person_id, day) >= limit:
            raise Reprompt(limit)
        return True

    async def fits_room(self, context: FlowContext, value: Any) -> bool:
        """At least one attendee, and no more than the room holds."""
        room = await self.usable_room(context.session, context.actor, context.answers.get("room"))
        return room is not None and isinstance(value, int | float) and 1 <= value <= room.capacity

    async def quota_left(self, context: FlowContext) -> None:
        """``booking.quota_left``, before /book's first question: refused, as the submit would
        refuse, when every week the booking window reaches already holds the person's weekly
        quota of bookings, whatever kind of room they would choose."""
        session, actor = context.session, context.actor
        subject = people.rule_subject(actor)
        today = self.today(context.now)
        held: dict[date, int] = {}
        limits = []
        for option in await self.room_kinds(context):
            kind = FunctionalRoomKind(option.value)
            limit = self._number("booking.max_per_week", subject, kind)
            last = today + timedelta(days=self._number("booking.window_days", subject, kind))
            monday = today - timedelta(days=today.isoweekday() - 1)
            while monday <= last:
                if monday not in held:
                    held[monday] = await self._held_in_week(session, actor.person_id, monday)
                if held[monday] < limit:
                    return
                monday += timedelta(days=7)
            limits.append(limit)
        if limits:
            raise Refused("booking_quota", limit=max(limits))

    async def facts(self, context: FlowContext) -> dict[str, Any]:
        """What /book's questions state: the chosen room's capacity, how many days ahead rooms
        of the chosen kind may be booked and the last such day, the check-in minutes, and the
        weekly quota (None for what is not chosen yet)."""
        answers = context.answers
        room = None
        if "room" in answers:
            room = await self.usable_room(context.session, context.actor, answers["room"])
        kind = room.kind if room is not None else _kind(answers.get("room_kind"))
        found: dict[str, Any] = {
            "capacity": room.capacity if room is not None else None,
            "window_days": None,
            "last_day": None,
            "checkin_minutes": None,
            "per_week": None,
        }
        if kind is not None:
            subject = people.rule_subject(context.actor)
            window = self._number("booking.window_days", subject, kind)
            found |= {
                "window_days": window,
                "last_day": self.today(context.now) + timedelta(days=window),
                "checkin_minutes": self._number("booking.checkin_minutes", subject, kind),
                "per_week": self._number("booking.max_per_week", subject, kind),
            }
        return found

    async def submit(self, context: FlowContext) -> Submitted:
        """``booking.create``: book the room as answered, everything checked again."""
        answers = context.answers
        day = _day(answers.get("date"))
        if day is None:
            raise Refused("booking_room_unavailable")
        booking, room = await self.create(
            context.session,
            context.actor,
            room_code=str(answers.get("room")),
            day=day,
            slot=str(answers.get("slot")),
            purpose=str(answers.get("purpose", "")),
            attendees=int(answers.get("attendees", 0)),
            now=context.now,
        )
        told = {"booking": booking, "room": room, **self._times(booking)}
        if booking.request_id is None:
            return Submitted("booking_confirmed", told)
        request = await context.session.get(Request, booking.request_id)
        assert request is not None
        return Submitted("booking_pending", {**told, "role": str(request.approver_role)})

    # Booking -----------------------------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        room_code: str,
        day: date,
        slot: str,
        purpose: str,
        attendees: int,
        now: datetime,
    ) -> tuple[Booking, FunctionalRoom]:
        """Book ``room_code`` on ``day`` at ``slot`` (its start, "HH:MM" campus time) for
        ``actor``; raises :class:`Refused` with the reason when it cannot be had."""
        room = await self.usable_room(session, actor, room_code)
        if room is None:
            raise Refused("booking_room_unavailable")
        subject = people.rule_subject(actor)
        chosen = next((s for s in self.slots(day, subject, room.kind) if s.value == slot), None)
        if chosen is None:
            raise Refused("booking_room_unavailable")
        if chosen.starts_at <= now:
            raise Refused("booking_past")
        window = self._number("booking.window_days", subject, room.kind)
        if day > self.today(now) + timedelta(days=window):
            raise Refused("booking_out_of_window", days=window)
        opened = self.open_on(subject, room.kind, day)
        if not opened.outcome.allowed:
            raise Refused("booking_closed_day", reason=opened.outcome.reason)
        if not 1 <= attendees <= room.capacity:
            raise Refused("booking_too_many", capacity=room.capacity)
        await _one_at_a_time(session, actor.person_id)
        limit = self._number("booking.max_per_week", subject, room.kind)
        if await self._held_in_week(session, actor.person_id, day) >= limit:
            raise Refused("booking_quota", limit=limit)
        approver = self.rules.policy("booking.approver", {**subject, "room_kind": str(room.kind)})
        needs_approval = str(approver.outcome.value) != NO_APPROVER
        booking = Booking(
            room_id=room.id,
            person_id=actor.person_id,
            starts_at=chosen.starts_at,
            ends_at=chosen.ends_at,
            status=BookingStatus.PENDING if needs_approval else BookingStatus.CONFIRMED,
            purpose=purpose[:500],
            attendees=attendees,
            created_at=now,
            updated_at=now,
            no_show=False,
        )
        try:
            # The store, not a look beforehand, decides who gets a slot two people want.
            async with session.begin_nested():
                session.add(booking)
                await session.flush()
        except IntegrityError:
            raise Refused("booking_taken", room=room, slot=chosen.label) from None
        if not needs_approval:
            await self._queue_check_in(session, booking, room, now=now)
            return booking, room
        role = Role(str(approver.outcome.value))
        stage = Stage(
            "approve", role, *await _scope(session, role, room), routed_by=approver.rule_id or ""
        )
        request = await self.kit.approvals.open(
            session,
            kind=RequestKind.BOOKING,
            requester=actor,
            title=f"{room.code} {day.isoformat()} {chosen.label}",
            detail={
                "booking": booking.id,
                "room": room.code,
                "room_zh": room.name_zh,
                "room_en": room.name_en,
                "date": day.isoformat(),
                "slot": chosen.label,
                "purpose": booking.purpose,
                "attendees": attendees,
            },
            stage=stage,
            now=now,
            lapses_at=booking.starts_at,
        )
        booking.request_id = request.id
        return booking, room

    async def _held_in_week(self, session: AsyncSession, person_id: int, day: date) -> int:
        """How many bookings the person holds in the ISO week (campus time) of ``day``."""
        monday = day - timedelta(days=day.isoweekday() - 1)
        first = datetime.combine(monday, time(), tzinfo=self.kit.campus)
        held = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.person_id == person_id,
                Booking.status.in_(HOLDING_BOOKING),
                Booking.starts_at >= first.astimezone(UTC),
                Booking.starts_at < (first + timedelta(days=7)).astimezone(UTC),
            )
        )
        return held or 0

    def _times(self, booking: Booking) -> dict[str, datetime]:
        return {
            "starts": booking.starts_at.astimezone(self.kit.campus),
            "ends": booking.ends_at.astimezone(self.kit.campus),
        }

    async def _queue_check_in(
        self, session: AsyncSession, booking: Booking, room: FunctionalRoom, *, now: datetime
    ) -> None:
        """Queue the "I'm here" message to the booker, to arrive when the booking starts."""
        account = await repo.account_of(session, booking.person_id)
        if account is None:
            return
        language = pick_language(account.language, self.kit.default)
        subject = people.rule_subject(await _person(session, booking.person_id))
        message = outbox.enqueue(
            session,
            account.telegram_user_id,
            "sendMessage",
            {
                "text": self.texts.render(
                    language,
                    "booking_checkin",
                    booking=booking,
                    room=room,
                    minutes=self._number("booking.checkin_minutes", subject, room.kind),
                    **self._times(booking),
                ),
                "parse_mode": "HTML",
                "reply_markup": {
                    "inline_keyboard": [
                        [
                            {
                                "text": self.texts.render(language, "booking_button_checkin"),
                                "callback_data": BOOKING.pack(booking=booking.id, action=CHECK_IN),
                            }
                        ]
                    ]
                },
            },
            priority=Priority.BULK,
            now=now,
            ref=_check_in_ref(booking),
        )
        message.next_attempt_at = max(booking.starts_at, now)

    # The approval workflow of a booking request ------------------------------------------------

    def stage(self, request: Request) -> Stage:
        """A booking has one stage: its approver, as stored when it was opened."""
        grant = grant_of(request)
        assert grant is not None, "a booking request is opened with its approver"
        return Stage(request.stage, grant.role, grant.scope_kind, grant.scope_id, request.routed_by)

    async def approved(
        self, session: AsyncSession, request: Request, now: datetime
    ) -> Stage | None:
        """Approved: the booking is confirmed and its check-in queued."""
        booking = await _booking_of(session, request)
        if booking is not None and booking.status is BookingStatus.PENDING:
            booking.status, booking.updated_at = BookingStatus.CONFIRMED, now
            room = await session.get(FunctionalRoom, booking.room_id)
            assert room is not None
            await self._queue_check_in(session, booking, room, now=now)
        return None

    async def rejected(self, session: AsyncSession, request: Request, now: datetime) -> None:
        """Rejected: the slot is free again."""
        booking = await _booking_of(session, request)
        if booking is not None and booking.status is BookingStatus.PENDING:
            booking.status, booking.updated_at = BookingStatus.REJECTED, now

    # My bookings, cancelling, checking in ------------------------------------------------------

    async def upcoming(self, session: AsyncSession, actor: Actor, now: datetime) -> list[Listed]:
        """The bookings ``actor`` holds that have not ended, soonest first."""
        rows = await session.execute(
            select(Booking, FunctionalRoom)
            .join(FunctionalRoom, FunctionalRoom.id == Booking.room_id)
            .where(
                Booking.person_id == actor.person_id,
                Booking.status.in_(HOLDING_BOOKING),
                Booking.ends_at > now,
            )
            .order_by(Booking.starts_at, Booking.id)
            .limit(LIMIT)
        )
        return [Listed(b, room, **self._times(b)) for b, room in rows.all()]

    async def cancellable(
        self, session: AsyncSession, actor: Actor, booking_id: int, *, now: datetime
    ) -> tuple[Handling, Listed | None]:
        """Whether ``actor`` may cancel ``booking_id`` now (DONE), and the booking to ask about;
        nothing changes. Anyone but the booker is refused and audited."""
        booking = await session.get(Booking, booking_id)
        if booking is None:
            return Handling.ALREADY, None
        handling = self._may_cancel(session, actor, booking, now)
        if handling is not Handling.DONE:
            return handling, None
        room = await session.get(FunctionalRoom, booking.room_id)
        assert room is not None
        return Handling.DONE, Listed(booking, room, **self._times(booking))

    def _may_cancel(
        self, session: AsyncSession, actor: Actor, booking: Booking, now: datetime
    ) -> Handling:
        if booking.person_id != actor.person_id:
            _refused(session, actor, booking, CANCEL, now)
            return Handling.NOT_ALLOWED
        waiting = (BookingStatus.PENDING, BookingStatus.CONFIRMED)
        if booking.status not in waiting or booking.ends_at <= now:
            return Handling.ALREADY
        return Handling.DONE

    async def cancel(
        self, session: AsyncSession, actor: Actor, booking_id: int, *, now: datetime
    ) -> Handling:
        """The booker withdraws a booking that has not ended; a waiting request goes with it.

        Checked again in full when the question's "Yes, cancel" is pressed: that button, like
        every other, is no permission.
        """
        booking = await session.get(Booking, booking_id)
        if booking is None:
            return Handling.ALREADY
        # The request first, as a decision on it does, so the two never wait for each other.
        request = None
        if booking.request_id is not None:
            request = await session.get(Request, booking.request_id, with_for_update=True)
        booking = await session.get(
            Booking, booking_id, with_for_update=True, populate_existing=True
        )
        assert booking is not None
        handling = self._may_cancel(session, actor, booking, now)
        if handling is not Handling.DONE:
            return handling
        booking.status, booking.updated_at = BookingStatus.CANCELLED, now
        if request is not None and request.status is RequestStatus.PENDING:
            await self.kit.approvals.cancel(session, request, actor, now=now)
        for message in await outbox.by_ref(session, _check_in_ref(booking)):
            if message.status is OutboxStatus.PENDING and message.telegram_message_id is None:
                await session.delete(message)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="booking.cancelled",
                detail={"booking": booking.id},
            )
        )
        return Handling.DONE

    async def check_in(
        self, session: AsyncSession, actor: Actor, booking_id: int, *, now: datetime
    ) -> tuple[Handling, Listed | None]:
        """The booker is there: within ``booking.checkin_minutes`` of the start, it counts."""
        booking = await session.get(Booking, booking_id, with_for_update=True)
        if booking is None:
            return Handling.ALREADY, None
        if booking.person_id != actor.person_id:
            _refused(session, actor, booking, CHECK_IN, now)
            return Handling.NOT_ALLOWED, None
        room = await session.get(FunctionalRoom, booking.room_id)
        assert room is not None
        listed = Listed(booking, room, **self._times(booking))
        if booking.status is BookingStatus.RELEASED:
            return Handling.TOO_LATE, listed
        if booking.status is not BookingStatus.CONFIRMED:
            return Handling.ALREADY, listed
        subject = people.rule_subject(actor)
        minutes = self._number("booking.checkin_minutes", subject, room.kind)
        if now < booking.starts_at:
            return Handling.TOO_EARLY, listed
        if now > booking.starts_at + timedelta(minutes=minutes):
            return Handling.TOO_LATE, listed
        booking.status, booking.checked_in_at, booking.updated_at = (
            BookingStatus.CHECKED_IN,
            now,
            now,
        )
        return Handling.DONE, listed

    async def release_no_shows(self, session: AsyncSession, now: datetime) -> int:
        """``booking.release_no_shows``: confirmed bookings whose check-in time has passed are
        released and recorded as no-shows, and requests nobody decided before their booking
        began lapse; the bookers are told."""
        released = await self._lapse_undecided(session, now)
        started = await session.execute(
            select(Booking, FunctionalRoom)
            .join(FunctionalRoom, FunctionalRoom.id == Booking.room_id)
            .where(Booking.status == BookingStatus.CONFIRMED, Booking.starts_at <= now)
            .order_by(Booking.starts_at, Booking.id)
            .with_for_update(of=Booking, skip_locked=True)
        )
        for booking, room in started.all():
            booker = await _person(session, booking.person_id)
            subject = people.rule_subject(booker)
            minutes = self._number("booking.checkin_minutes", subject, room.kind)
            if now <= booking.starts_at + timedelta(minutes=minutes):
                continue
            booking.status, booking.no_show, booking.updated_at = BookingStatus.RELEASED, True, now
            released += 1
            account = await repo.account_of(session, booking.person_id)
            if account is None:
                continue
            language = pick_language(account.language, self.kit.default)
            outbox.enqueue(
                session,
                account.telegram_user_id,
                "sendMessage",
                {
                    "text": self.texts.render(
                        language,
                        "booking_released",
                        booking=booking,
                        room=room,
                        **self._times(booking),
                    ),
                    "parse_mode": "HTML",
                },
                priority=Priority.BULK,
                now=now,
            )
        return released

    async def _lapse_undecided(self, session: AsyncSession, now: datetime) -> int:
        """Pending bookings whose time has come: the slot is freed and the request lapses."""
        undecided = await session.execute(
            select(Booking, FunctionalRoom, Request)
            .join(FunctionalRoom, FunctionalRoom.id == Booking.room_id)
            .join(Request, Request.id == Booking.request_id)
            .where(Booking.status == BookingStatus.PENDING, Booking.starts_at <= now)
            .with_for_update(of=Booking, skip_locked=True)
        )
        lapsed = 0
        for booking, room, request in undecided.all():
            booking.status, booking.updated_at = BookingStatus.CANCELLED, now
            await self.kit.approvals.cancel(session, request, None, now=now)
            lapsed += 1
            account = await repo.account_of(session, booking.person_id)
            if account is not None:
                language = pick_language(account.language, self.kit.default)
                text = self.texts.render(
                    language, "booking_lapsed", booking=booking, room=room, **self._times(booking)
                )
                outbox.enqueue(
                    session,
                    account.telegram_user_id,
                    "sendMessage",
                    {"text": text, "parse_mode": "HTML"},
                    priority=Priority.BULK,
                    now=now,
                )
        return lapsed


def names(kit: Kit) -> Names:
    """The providers, checks and action of ``conversations/book_room.yaml``, the booking
    requests' workflow, and the sweep that releases no-shows."""
    bookings = Bookings(kit)
    return Names(
        providers={
            "booking.room_kinds": bookings.room_kinds,
            "booking.rooms": bookings.rooms,
            "booking.free_slots": bookings.slot_options,
        },
        checks={
            "booking.not_past": bookings.not_past,
            "booking.in_window": bookings.in_window,
            "booking.open_day": bookings.open_day,
            "booking.week_has_room": bookings.week_has_room,
            "booking.has_free_slot": bookings.has_free_slot,
            "booking.fits_room": bookings.fits_room,
        },
        actions={"booking.create": bookings.submit},
        start_checks={"booking.quota_left": bookings.quota_left},
        facts={"booking.facts": bookings.facts},
        workflows={RequestKind.BOOKING: bookings},
        jobs={"booking.release_no_shows": bookings.release_no_shows},
    )


async def _one_at_a_time(session: AsyncSession, person_id: int) -> None:
    """One person's bookings are made one at a time, so the weekly quota counts every one.

    PostgreSQL locks the person's row. SQLite has one writer, and a write takes its lock; it
    also opens the transaction, so the booking's SAVEPOINT nests inside this unit of work (the
    SQLite driver would otherwise begin the transaction with the SAVEPOINT and commit it when
    the SAVEPOINT is released).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Person.id).where(Person.id == person_id).with_for_update())
        return
    await session.execute(
        update(Person).where(Person.id == person_id).values(active=Person.active),
        execution_options={"synchronize_session": False},
    )


async def _scope(session: AsyncSession, role: Role, room: FunctionalRoom) -> tuple[ScopeKind, int]:
    """Where ``role`` approves bookings of ``room``: the community, building or college of the
    room, or the whole school."""
    kind = ROLE_SCOPE[role]
    building = await session.get(Building, room.building_id) if room.building_id else None
    if kind is ScopeKind.SCHOOL:
        return kind, 0
    if kind is ScopeKind.COMMUNITY and building is not None:
        return kind, building.community_id
    if kind is ScopeKind.BUILDING and building is not None:
        return kind, building.id
    if kind is ScopeKind.COLLEGE:
        community = await session.get(Community, building.community_id) if building else None
        college = room.college_id or (community.college_id if community else None)
        if college is not None:
            return kind, college
    raise ValueError(f"booking.approver names {role}, who holds no scope over room {room.code}")


async def _person(session: AsyncSession, person_id: int) -> Actor:
    """A person as the rules see them, whether or not they are the one acting."""
    person = await session.get(Person, person_id)
    assert person is not None
    return await identity.person_actor(session, person)


async def _booking_of(session: AsyncSession, request: Request) -> Booking | None:
    return await session.scalar(
        select(Booking).where(Booking.request_id == request.id).with_for_update()
    )


def _refused(
    session: AsyncSession, actor: Actor, booking: Booking, action: str, now: datetime
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_person_id=actor.person_id,
            action="booking.refused",
            detail={"booking": booking.id, "action": action},
        )
    )


def _check_in_ref(booking: Booking) -> str:
    return f"booking:{booking.id}:checkin"


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _kind(value: object) -> FunctionalRoomKind | None:
    try:
        return FunctionalRoomKind(str(value))
    except ValueError:
        return None
