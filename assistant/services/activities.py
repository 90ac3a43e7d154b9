"""Activities (活动): the year's fixed activities reminded to their owners, and activities people
sign up for.

The fixed activities of ``rules/activities.yaml`` are planned like reminders
(:func:`assistant.services.timed.planner`, kind ``activity.plan``): before each one's window
opens, its owners (an office, every counsellor, a college's party organisation) are told to
schedule it.
"""

from __future__ import annotations

import enum
import hmac
import io
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import segno
from icalendar import Calendar as ICalendar
from icalendar import Event
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant import callbacks
from assistant.callbacks import CallbackCodec
from assistant.domain import (
    HOLDING_PLACE,
    ActivityStatus,
    Actor,
    Attendance,
    BookingStatus,
    FunctionalRoomKind,
    Language,
    MissedPolicy,
    PersonStatus,
    Role,
    ScopeKind,
    SignupStatus,
)
from assistant.flows.engine import FlowContext, Refused, Submitted
from assistant.flows.spec import Option
from assistant.rules import Rules
from assistant.rules.activities import FixedActivity
from assistant.rules.broadcasts import CHANNELS, SCOPE_KINDS, Audience
from assistant.schedule import Handler, firings
from assistant.services import broadcasts, identity, people, timed
from assistant.services.booking import Bookings, Slot
from assistant.services.broadcasts import Campus, Place, load_campus, recipients
from assistant.services.kit import Kit, Names
from assistant.storage import outbox
from assistant.storage.db import defer
from assistant.storage.models import (
    Activity,
    ActivitySignup,
    AuditEntry,
    Booking,
    College,
    Community,
    Firing,
    FunctionalRoom,
    Person,
    Priority,
    RoleAssignment,
    TelegramAccount,
)
from assistant.texts import Texts, pick_language

log = logging.getLogger(__name__)

PLAN = "activity.plan"
"""The kind of the firing that reminds a fixed activity's owners to schedule it."""


async def owners(session: AsyncSession, activity: FixedActivity) -> list[int]:
    """The active people who schedule ``activity``: holders of its owner's roles, over its
    college (or a community the college leads) when it names one."""
    query = (
        select(RoleAssignment.person_id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(Person.active, RoleAssignment.role.in_(activity.owner.roles))
    )
    if activity.owner.college is not None:
        college = await session.scalar(
            select(College.id).where(College.code == activity.owner.college)
        )
        if college is None:
            log.warning(
                "%s:%s [%s]: no college %r on the campus; nobody reminded",
                activity.file,
                activity.line,
                activity.id,
                activity.owner.college,
            )
            return []
        led = select(Community.id).where(Community.college_id == college)
        query = query.where(
            or_(
                and_(
                    RoleAssignment.scope_kind == ScopeKind.COLLEGE,
                    RoleAssignment.scope_id == college,
                ),
                and_(
                    RoleAssignment.scope_kind == ScopeKind.COMMUNITY,
                    RoleAssignment.scope_id.in_(led),
                ),
            )
        )
    found = await session.scalars(query.distinct().order_by(RoleAssignment.person_id))
    return list(found.all())


@dataclass(frozen=True)
class Note:
    """What one person is told: a template, its variables, and buttons whose labels are
    templates too ({"text", "callback_data"})."""

    template: str
    variables: dict[str, Any]
    keyboard: list[list[dict[str, str]]] | None = None


async def tell(
    session: AsyncSession,
    texts: Texts,
    default: Language,
    people: Iterable[int],
    template: str,
    variables: dict[str, Any],
    *,
    now: datetime,
    keyboard: list[list[dict[str, str]]] | None = None,
    priority: Priority = Priority.BULK,
) -> int:
    """Queue ``template`` to each linked, reachable one of ``people`` in their language.
    Returns how many were queued."""
    note = Note(template, variables, keyboard)
    return await tell_each(
        session, texts, default, dict.fromkeys(people, note), now=now, priority=priority
    )


async def tell_each(
    session: AsyncSession,
    texts: Texts,
    default: Language,
    notes: dict[int, Note],
    *,
    now: datetime,
    priority: Priority = Priority.BULK,
) -> int:
    """Queue each linked, reachable person their own note (by person id), in their language,
    in the order of ``notes``. Returns how many were queued."""
    rows = await session.execute(
        select(
            TelegramAccount.person_id, TelegramAccount.telegram_user_id, TelegramAccount.language
        ).where(
            TelegramAccount.person_id.in_(sorted(notes)),
            TelegramAccount.unreachable_since.is_(None),
        )
    )
    accounts = {person_id: (chat_id, chosen) for person_id, chat_id, chosen in rows.all()}
    queued = 0
    for person_id, note in notes.items():
        if person_id not in accounts:
            continue
        chat_id, chosen = accounts[person_id]
        language = pick_language(chosen, default)
        payload: dict[str, Any] = {
            "text": texts.render(language, note.template, **note.variables),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if note.keyboard:
            payload["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {
                            "text": texts.render(language, button["text"]),
                            "callback_data": button["callback_data"],
                        }
                        for button in row
                    ]
                    for row in note.keyboard
                ]
            }
        outbox.enqueue(session, chat_id, "sendMessage", payload, priority=priority, now=now)
        queued += 1
    return queued


def remind_owners(rules: Rules, texts: Texts, default: Language) -> Handler:
    """Tell the owners of each due fixed activity to schedule it."""

    async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        for firing in due:
            activity = rules.activities.get(str(firing.payload.get(PLAN)))
            if activity is None:
                continue  # removed from the file since it was planned
            part_of = rules.activities.get(activity.part_of or "")
            period = next(
                (p for p in rules.calendar.periods if p.id == activity.window.period), None
            )
            variables = {
                "activity": activity,
                "part_of": part_of.name if part_of is not None else None,
                "period": period.name if period is not None else None,
            }
            await tell(
                session,
                texts,
                default,
                await owners(session, activity),
                activity.template,
                variables,
                now=now,
            )

    return fire


# Activities people sign up for -------------------------------------------------------------


ORGANISERS = frozenset(
    {
        Role.COUNSELLOR,
        Role.WORKSTATION_HEAD,
        Role.COLLEGE_PARTY_LEADER,
        Role.YOUTH_LEAGUE,
        Role.ORG_DEPARTMENT,
        Role.FLOOR_LEADER,
    }
)
"""Roles that organise activities for the places they are held over (a floor leader for their
floor, a counsellor for their community, the Youth League for the school); rules/access.yaml
(``activity.create``) decides which of them may at all."""

ACTIVITY = CallbackCodec("ac", ("activity", "action"))
"""Every button of an activity: the activity and what to do; who may is decided here."""
SIGN_UP = "su"
CANCEL, CANCEL_SURE, BACK = "x", "xy", "ls"
CONFIRM, DECLINE = "ok", "no"
CALENDAR = "ics"
CHECK_IN, OPEN_CHECK_IN = "in", "op"
RATE, SUMMARISE = "fb", "sm"
ACTIONS = frozenset(
    {SIGN_UP, CANCEL, CANCEL_SURE, BACK, CONFIRM, DECLINE, CALENDAR, CHECK_IN, OPEN_CHECK_IN}
    | {RATE, SUMMARISE}
)

REMIND, OFFER, END = "activity.remind", "activity.offer", "activity.end"
"""Firing kinds: the participants' reminders, an offered place's deadline, the activity's end."""
REMINDERS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
"""How long before the start participants are reminded."""
DEADLINES = (1, 3, 24, 48, 72)
"""How many hours before the start sign-up may close."""
MAX_CAPACITY = 5000
LIMIT = 20
"""The most activities /myactivities lists."""
CODE_LENGTH = 6
_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEEP_LINK = "ci"
"""The start of a check-in deep link's payload: ``ci-<activity>-<code>``."""

_PLACE_KINDS = {
    "room": {"zh-CN": "功能房（在这里预约）", "en": "A room (booked here)"},
    "outside": {"zh-CN": "其他地点（自己填写）", "en": "Somewhere else (type it)"},
}
_DEADLINE_LABELS = {
    1: {"zh-CN": "开始前 1 小时", "en": "1 hour before"},
    3: {"zh-CN": "开始前 3 小时", "en": "3 hours before"},
    24: {"zh-CN": "开始前 1 天", "en": "1 day before"},
    48: {"zh-CN": "开始前 2 天", "en": "2 days before"},
    72: {"zh-CN": "开始前 3 天", "en": "3 days before"},
}


class Answer(enum.StrEnum):
    """How a press of an activity's button ended; each has its own words."""

    SIGNED_UP = "signed_up"
    WAITING = "waiting"
    DONE = "done"
    ALREADY = "already"
    CLOSED = "closed"
    TOO_LATE = "too_late"
    TOO_EARLY = "too_early"
    NOT_FOR_YOU = "not_for_you"
    NOT_ALLOWED = "not_allowed"
    NOT_NEEDED = "not_needed"
    GONE = "gone"


@dataclass(frozen=True)
class Seen:
    """An activity as people are shown it: when (campus time) and where, in each language."""

    activity: Activity
    starts: datetime
    ends: datetime
    where: dict[str, str]
    organiser: str

    def variables(self) -> dict[str, Any]:
        """What every activity template is given about it."""
        return {
            "activity": self.activity,
            "starts": self.starts,
            "ends": self.ends,
            "where": self.where,
            "organiser": self.organiser,
        }


@dataclass
class SignUp:
    """A press of Sign up, and how it ended: ``answer`` and ``number`` (the place's number, or
    the rank on the waiting list) are None and 0 until the unit of work settles."""

    actor: Actor
    answer: Answer | None = None
    number: int = 0


@dataclass(frozen=True)
class Mine:
    """One line of /myactivities: a sign-up (with its rank on the waiting list), or an
    activity the person organises (with its counts)."""

    seen: Seen
    signup: ActivitySignup | None
    rank: int = 0
    held: int = 0
    waiting: int = 0

    @property
    def organising(self) -> bool:
        """Whether the person organises it."""
        return self.signup is None


def may_organise(actor: Actor, place: Place) -> bool:
    """Whether ``actor`` holds an organiser's role over ``place`` or a unit it lies in."""
    return any(
        grant.role in ORGANISERS and (grant.scope_kind, grant.scope_id) in place.within
        for grant in actor.grants
    )


def in_audience(activity: Activity, actor: Actor) -> bool:
    """Whether ``actor`` is among the people ``activity`` was announced to (as a broadcast to
    its audience finds them): a button forwarded or forged to anyone else is no invitation."""
    audience = activity.audience
    roles, statuses = audience.get("roles") or [], audience.get("status") or []
    if roles and not any(str(g.role) in roles for g in actor.grants):
        return False
    if statuses and str(actor.status) not in statuses:
        return False
    home, unit, kind = actor.home, activity.scope_id, activity.scope_kind
    if kind is ScopeKind.SCHOOL:
        return home is not None or bool(roles)
    if kind is ScopeKind.COLLEGE:
        return actor.college is not None and actor.college.id == unit
    if home is None:
        return False
    found = {
        ScopeKind.COMMUNITY: home.community.id,
        ScopeKind.BUILDING: home.building.id,
        ScopeKind.GRID: home.grid_id,
        ScopeKind.FLOOR: home.floor_id,
    }
    return found.get(kind) == unit


def new_code() -> str:
    """A short check-in code, easy to read aloud and to type (no 0/O, 1/I)."""
    return "".join(secrets.choice(_CODE_LETTERS) for _ in range(CODE_LENGTH))


def calendar_file(seen: Seen, language: Language) -> bytes:
    """The activity as an iCalendar (.ics) event, for the person's own calendar."""
    activity = seen.activity
    calendar = ICalendar()
    calendar.add("prodid", "-//Community Assistant//activities//")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"activity-{activity.id}@community-assistant")
    event.add("dtstamp", activity.updated_at.astimezone(UTC))
    event.add("dtstart", activity.starts_at.astimezone(UTC))
    event.add("dtend", activity.ends_at.astimezone(UTC))
    event.add("summary", activity.title)
    event.add("location", seen.where[language])
    event.add("description", f"{activity.reference} · {seen.organiser}")
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def qr_png(link: str) -> bytes:
    """A QR code image (PNG) of ``link``, to be shown in the room."""
    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind="png", scale=8, border=2)
    return buffer.getvalue()


class Activities:
    """Creates activities, takes sign-ups in press order with a waiting list, offers freed
    places, reminds, takes attendance, and asks for ratings and the organiser's summary."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.rules = kit.rules
        self.texts = kit.texts
        self.bookings = Bookings(kit)

    # Rules ------------------------------------------------------------------------------------

    def _number(self, policy: str, actor: Actor) -> int:
        return int(self.rules.policy(policy, people.rule_subject(actor)).outcome.value)

    def _today(self, now: datetime) -> date:
        return now.astimezone(self.kit.campus).date()

    def seen(self, activity: Activity, room: FunctionalRoom | None, organiser: str) -> Seen:
        """``activity`` as people are shown it."""
        if room is not None:
            where = {"zh-CN": room.name_zh, "en": room.name_en}
        else:
            where = {language: activity.place or "" for language in self.texts.languages()}
        zone = self.kit.campus
        return Seen(
            activity,
            activity.starts_at.astimezone(zone),
            activity.ends_at.astimezone(zone),
            where,
            organiser,
        )

    async def _seen(self, session: AsyncSession, activity: Activity) -> Seen:
        room = await session.get(FunctionalRoom, activity.room_id) if activity.room_id else None
        organiser = await session.get(Person, activity.organiser_person_id)
        return self.seen(activity, room, organiser.name if organiser else "")

    # What /activity asks ----------------------------------------------------------------------

    async def kinds(self, context: FlowContext) -> list[Option]:
        """The year's fixed activities, then the kinds of optional ones."""
        return [Option(kind.id, kind.name) for kind in self.rules.activity_kinds.values()]

    async def title_suggestion(self, context: FlowContext) -> list[Option]:
        """The chosen kind's name, as the title to take with one press."""
        kind = self.rules.activity_kinds.get(str(context.answers.get("kind")))
        if kind is None:
            return []
        name = kind.name[context.language]
        return [Option(name, {language: name for language in self.texts.languages()})]

    async def place_kinds(self, context: FlowContext) -> list[Option]:
        """A functional room (when the organiser may book one) or a place typed."""
        rooms = await self.bookings.usable_rooms(context.session, context.actor)
        return [
            Option(kind, label)
            for kind, label in _PLACE_KINDS.items()
            if kind == "outside" or rooms
        ]

    async def rooms(self, context: FlowContext) -> list[Option]:
        """The functional rooms the organiser may book, as for any booking."""
        rooms = await self.bookings.usable_rooms(context.session, context.actor)
        return [Option(room.code, {"zh-CN": room.name_zh, "en": room.name_en}) for room in rooms]

    async def _room(self, context: FlowContext) -> FunctionalRoom | None:
        if context.answers.get("place_kind") != "room":
            return None
        return await self.bookings.usable_room(
            context.session, context.actor, context.answers.get("room")
        )

    async def _slots(self, context: FlowContext, day: date) -> list[Slot]:
        """The times the activity may take on ``day``: the chosen room's free slots, or for
        a place typed the slots of an activity room."""
        room = await self._room(context)
        if room is not None:
            return await self.bookings.free_slots(
                context.session, context.actor, room, day, context.now
            )
        subject = people.rule_subject(context.actor)
        slots = self.bookings.slots(day, subject, FunctionalRoomKind.ACTIVITY_ROOM)
        return [slot for slot in slots if slot.starts_at > context.now]

    async def slots(self, context: FlowContext) -> list[Option]:
        """The times of the chosen day."""
        day = _day(context.answers.get("date"))
        if day is None:
            return []
        return [
            Option(s.value, {"zh-CN": s.label, "en": s.label})
            for s in await self._slots(context, day)
        ]

    def _window_days(self, actor: Actor, room: FunctionalRoom | None) -> int:
        if room is not None:
            subject = {**people.rule_subject(actor), "room_kind": str(room.kind)}
            return int(self.rules.policy("booking.window_days", subject).outcome.value)
        return self._number("activity.window_days", actor)

    async def not_past(self, context: FlowContext, value: Any) -> bool:
        """The day is today or later."""
        day = _day(value)
        return day is not None and day >= self._today(context.now)

    async def in_window(self, context: FlowContext, value: Any) -> bool:
        """No further ahead than a room of its kind may be booked, or than
        ``activity.window_days`` for a place typed."""
        day = _day(value)
        if day is None:
            return False
        window = self._window_days(context.actor, await self._room(context))
        return day <= self._today(context.now) + timedelta(days=window)

    async def open_day(self, context: FlowContext, value: Any) -> bool:
        """A room's day is one the rules let rooms of its kind be booked on."""
        day, room = _day(value), await self._room(context)
        if day is None:
            return False
        if room is None:
            return True
        subject = people.rule_subject(context.actor)
        return self.bookings.open_on(subject, room.kind, day).outcome.allowed

    async def has_time(self, context: FlowContext, value: Any) -> bool:
        """A time is still free that day."""
        day = _day(value)
        return day is not None and bool(await self._slots(context, day))

    async def fits(self, context: FlowContext, value: Any) -> bool:
        """At least one place, and no more than the room holds (or :data:`MAX_CAPACITY`)."""
        room = await self._room(context)
        most = room.capacity if room is not None else MAX_CAPACITY
        return isinstance(value, int | float) and 1 <= value <= most

    async def scope_kinds(self, context: FlowContext) -> list[Option]:
        """The kinds of place the organiser organises for at least one of."""
        campus = await load_campus(context.session)
        return [
            Option(kind.value, broadcasts.KIND_LABELS[kind])
            for kind in SCOPE_KINDS
            if any(may_organise(context.actor, place) for place in campus.of_kind(kind))
        ]

    async def scopes(self, context: FlowContext) -> list[Option]:
        """The places of the chosen kind the organiser organises for."""
        kind = context.answers.get("scope_kind")
        if kind not in SCOPE_KINDS:
            return []
        campus = await load_campus(context.session)
        return [
            Option(place.code, {"zh-CN": place.zh, "en": place.en})
            for place in campus.of_kind(ScopeKind(kind))
            if may_organise(context.actor, place)
        ]

    async def deadlines(self, context: FlowContext) -> list[Option]:
        """When sign-up closes: so many hours before the start, while that is still ahead."""
        starts = await self._starts(context)
        return [
            Option(str(hours), _DEADLINE_LABELS[hours])
            for hours in DEADLINES
            if starts is None or starts - timedelta(hours=hours) > context.now
        ]

    async def _starts(self, context: FlowContext) -> datetime | None:
        day = _day(context.answers.get("date"))
        if day is None:
            return None
        subject = people.rule_subject(context.actor)
        room = await self._room(context)
        kind = room.kind if room is not None else FunctionalRoomKind.ACTIVITY_ROOM
        found = [
            s
            for s in self.bookings.slots(day, subject, kind)
            if s.value == context.answers.get("slot")
        ]
        return found[0].starts_at if found else None

    async def facts(self, context: FlowContext) -> dict[str, Any]:
        """What /activity's questions state: the chosen room's capacity, how far ahead, the
        last such day, and how long a waiting person has to take a freed place."""
        room = await self._room(context)
        window = self._window_days(context.actor, room)
        return {
            "capacity": room.capacity if room is not None else None,
            "window_days": window,
            "last_day": self._today(context.now) + timedelta(days=window),
            "offer_hours": self._number("activity.offer_hours", context.actor),
        }

    # Creating ---------------------------------------------------------------------------------

    async def submit(self, context: FlowContext) -> Submitted:
        """``activity.create``: everything checked again on the server; a room is booked
        through the booking service in this unit of work, then the activity is announced
        (or, while the room waits for its approver, held until it is confirmed)."""
        session, actor, now, answers = context.session, context.actor, context.now, context.answers
        subject = people.rule_subject(actor) | people.day_facts(
            self._today(now), self.rules.calendar
        )
        decision = self.rules.allowed("activity.create", subject)
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            raise Refused("flow_denied", reason=reason.text(context.language) if reason else "")
        kind = self.rules.activity_kinds.get(str(answers.get("kind")))
        title, capacity = answers.get("title"), answers.get("capacity")
        hours, attendance = answers.get("deadline"), answers.get("attendance")
        day = _day(answers.get("date"))
        campus = await load_campus(session)
        audience = broadcasts.chosen(answers)
        place = campus.find(audience.scope_kind, audience.scope) if audience else None
        if (
            kind is None
            or not _fit(title, 2, 80)
            or not isinstance(capacity, int | float)
            or capacity != int(capacity)
            or not 1 <= capacity <= MAX_CAPACITY
            or str(hours) not in {str(h) for h in DEADLINES}
            or attendance not in {a.value for a in Attendance}
            or day is None
            or audience is None
            or place is None
        ):
            raise Refused("activity/incomplete")
        if not may_organise(actor, place):
            self._refused(session, actor, None, "create", now, scope=f"{place.kind}:{place.code}")
            raise Refused("activity/not_yours", place=place.name(context.language))
        slot, room, booking = str(answers.get("slot")), None, None
        if answers.get("place_kind") == "room":
            room = await self.bookings.usable_room(session, actor, answers.get("room"))
            if room is None:
                raise Refused("booking_room_unavailable")
            if capacity > room.capacity:
                raise Refused("booking_too_many", capacity=room.capacity)
        elif not _fit(answers.get("place"), 2, 100):
            raise Refused("activity/incomplete")
        subject = people.rule_subject(actor)
        kind_of_room = room.kind if room is not None else FunctionalRoomKind.ACTIVITY_ROOM
        chosen = [s for s in self.bookings.slots(day, subject, kind_of_room) if s.value == slot]
        if not chosen:
            raise Refused("activity/incomplete")
        starts, ends = chosen[0].starts_at, chosen[0].ends_at
        # Before anything is booked: a refusal leaves nothing behind.
        deadline = starts - timedelta(hours=int(str(hours)))
        if starts > now and deadline <= now:
            raise Refused("activity/deadline_past")
        if room is not None:
            booking, room = await self.bookings.create(
                session,
                actor,
                room_code=room.code,
                day=day,
                slot=slot,
                purpose=str(title),
                attendees=int(capacity),
                now=now,
            )
        else:
            if starts <= now:
                raise Refused("booking_past")
            window = self._window_days(actor, None)
            if day > self._today(now) + timedelta(days=window):
                raise Refused("booking_out_of_window", days=window)
        activity = Activity(
            kind=kind.id,
            title=str(title).strip(),
            organiser_person_id=actor.person_id,
            starts_at=starts,
            ends_at=ends,
            room_id=room.id if room is not None else None,
            booking_id=booking.id if booking is not None else None,
            place=None if room is not None else str(answers.get("place")).strip(),
            capacity=int(capacity),
            scope_kind=place.kind,
            scope_id=place.id,
            audience={
                **audience.to_json(),
                "place": {"zh-CN": place.zh, "en": place.en},
            },
            signup_deadline=deadline,
            attendance=Attendance(attendance),
            status=ActivityStatus.OPEN,
            positions=0,
            created_at=now,
            updated_at=now,
        )
        session.add(activity)
        await session.flush()
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="activity.create",
                detail={"activity": activity.id, "booking": activity.booking_id},
            )
        )
        seen = self.seen(activity, room, actor.name)
        told = {**seen.variables(), "place": place.name(context.language)}
        if booking is not None and booking.status is BookingStatus.PENDING:
            activity.status = ActivityStatus.PENDING
            return Submitted("activity/created_pending", told)
        total = await self.announce(session, activity, seen, campus, now=now)
        return Submitted("activity/created", {**told, "total": total})

    async def announce(
        self,
        session: AsyncSession,
        activity: Activity,
        seen: Seen,
        campus: Campus,
        *,
        now: datetime,
    ) -> int:
        """Queue the announcement with its Sign up button to the audience (its people privately
        and/or its bound group chats), and plan the reminders and the end; how many messages."""
        place = campus.places.get((activity.scope_kind, activity.scope_id))
        if place is None:
            return 0
        audience = Audience(
            activity.scope_kind,
            place.code,
            tuple(Role(r) for r in activity.audience.get("roles", [])),
            tuple(PersonStatus(s) for s in activity.audience.get("status", [])),
            tuple(activity.audience.get("channels", CHANNELS)),
        )
        found = await recipients(session, campus, place, audience)
        rendered: dict[Language, dict[str, Any]] = {}
        for chat_id, chosen in [*found.people, *((chat, None) for chat in found.groups)]:
            language = pick_language(chosen, self.kit.default)
            if language not in rendered:
                rendered[language] = {
                    "text": self.texts.render(
                        language, "activity/announcement", **seen.variables()
                    ),
                    "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": True},
                    "reply_markup": _keyboard(
                        [
                            [
                                (
                                    self.texts.render(language, "activity/button_sign_up"),
                                    activity.id,
                                    SIGN_UP,
                                )
                            ]
                        ]
                    ),
                }
            outbox.enqueue(
                session,
                chat_id,
                "sendMessage",
                rendered[language],
                priority=Priority.BULK,
                now=now,
                ref=f"act:{activity.id}",
            )
        planned = [
            {
                "key": f"act:{activity.id}:remind:{which}",
                "kind": REMIND,
                "due_at": activity.starts_at - ahead,
                "missed": MissedPolicy.SKIP,
                "payload": {"activity": activity.id, "which": which},
            }
            for which, ahead in REMINDERS.items()
            if activity.starts_at - ahead > now
        ]
        planned.append(
            {
                "key": f"act:{activity.id}:end",
                "kind": END,
                "due_at": activity.ends_at,
                "payload": {"activity": activity.id},
            }
        )
        await firings.plan(session, planned, now=now)
        return found.total

    async def follow_bookings(self, session: AsyncSession, now: datetime) -> int:
        """The ticker's sweep: an activity whose room waited for approval is announced once the
        booking is confirmed, and called off (its organiser told) once it is refused, lapses or
        is released; so is an announced one whose booking went (its participants told too)."""
        rows = await session.execute(
            select(Activity, Booking)
            .join(Booking, Booking.id == Activity.booking_id)
            .where(
                Activity.status.in_([ActivityStatus.PENDING, ActivityStatus.OPEN]),
                # Once it has begun, a room released for want of its own check-in stays a
                # matter of the booking: the activity goes on.
                Activity.starts_at > now,
            )
            .where(
                or_(
                    Activity.status == ActivityStatus.PENDING,
                    Booking.status.in_(
                        [BookingStatus.CANCELLED, BookingStatus.REJECTED, BookingStatus.RELEASED]
                    ),
                )
            )
            .with_for_update(of=Activity, skip_locked=True)
        )
        changed = 0
        campus: Campus | None = None
        for activity, booking in rows.all():
            if booking.status is BookingStatus.PENDING:
                continue
            seen = await self._seen(session, activity)
            activity.updated_at = now
            changed += 1
            if booking.status in (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN):
                activity.status = ActivityStatus.OPEN
                campus = campus or await load_campus(session)
                await self.announce(session, activity, seen, campus, now=now)
                await tell(
                    session,
                    self.texts,
                    self.kit.default,
                    [activity.organiser_person_id],
                    "activity/announced",
                    seen.variables(),
                    now=now,
                )
                continue
            activity.status = ActivityStatus.CANCELLED
            told = [
                activity.organiser_person_id,
                *await self._participants(
                    session,
                    activity,
                    (SignupStatus.SIGNED_UP, SignupStatus.OFFERED, SignupStatus.WAITING),
                ),
            ]
            await tell(
                session,
                self.texts,
                self.kit.default,
                told,
                "activity/called_off",
                seen.variables(),
                now=now,
            )
        return changed

    # Signing up -------------------------------------------------------------------------------

    async def _take_turn(self, session: AsyncSession, activity_id: int, step: int) -> int | None:
        """Lock the activity's row for this unit of work (sign-ups, cancellations and offers of
        one activity take turns, so places are counted right), moving its last position on by
        ``step``; the last position, or None when there is no such activity. One UPDATE both
        locks (a row lock on PostgreSQL, SQLite's write lock) and counts."""
        return await session.scalar(
            update(Activity)
            .where(Activity.id == activity_id)
            .values(positions=Activity.positions + step)
            .returning(Activity.positions),
            execution_options={"synchronize_session": False},
        )

    async def _counts(self, session: AsyncSession, activity_id: int) -> tuple[int, int]:
        """(places held, people waiting) of an activity."""
        row = (
            await session.execute(
                select(
                    func.count().filter(ActivitySignup.status.in_(HOLDING_PLACE)),
                    func.count().filter(ActivitySignup.status == SignupStatus.WAITING),
                ).where(ActivitySignup.activity_id == activity_id)
            )
        ).one()
        return int(row[0]), int(row[1])

    async def _rank(self, session: AsyncSession, signup: ActivitySignup) -> int:
        """Where a waiting sign-up stands on the waiting list (1 is next)."""
        ahead = await session.scalar(
            select(func.count()).where(
                ActivitySignup.activity_id == signup.activity_id,
                ActivitySignup.status == SignupStatus.WAITING,
                ActivitySignup.position < signup.position,
            )
        )
        return (ahead or 0) + 1

    async def sign_up(
        self, session: AsyncSession, actor: Actor, activity_id: int, *, now: datetime
    ) -> SignUp:
        """A press of Sign up: a place while there are places, else the end of the waiting
        list. What can be told at once (no such activity, closed, too late, not for them) is;
        the place is taken when the unit of work settles (:func:`~assistant.storage.db.settle`),
        with every other press of the activity handled in it, in the order they were pressed.

        Presses of one activity take turns on its row, so however many come at once, exactly
        its capacity get places and the rest wait in the order they were taken. Nobody signs up
        twice: a second press says where they stand (the pair is unique in the store too).
        """
        press = SignUp(actor)
        activity = await session.get(Activity, activity_id)
        if activity is None:
            press.answer = Answer.GONE
        elif activity.status is not ActivityStatus.OPEN or activity.starts_at <= now:
            press.answer = Answer.CLOSED
        elif now > activity.signup_deadline:
            press.answer = Answer.TOO_LATE
        elif not in_audience(activity, actor):
            self._refused(session, actor, activity, SIGN_UP, now)
            press.answer = Answer.NOT_FOR_YOU
        else:

            async def take(presses: list[SignUp]) -> None:
                # The activity stays referenced (and so in the session) until then.
                await self._take_places(session, activity, presses, now)

            defer(session, (SIGN_UP, activity_id), take, press)
        return press

    async def _take_places(
        self, session: AsyncSession, activity: Activity, presses: list[SignUp], now: datetime
    ) -> None:
        """The presses of Sign up of one activity handled in this unit of work, in press order:
        one turn on the activity's row and one count for all of them, each new sign-up told in
        writing. This is what lets hundreds of presses a second through."""
        people = [press.actor.person_id for press in presses]
        found = await session.scalars(
            select(ActivitySignup).where(
                ActivitySignup.activity_id == activity.id, ActivitySignup.person_id.in_(people)
            )
        )
        signups = {signup.person_id: signup for signup in found.all()}
        # A person's first press here may take a place; any other says where they stand.
        fresh: list[SignUp] = []
        pressed: set[int] = set()
        for press in presses:
            person, mine = press.actor.person_id, signups.get(press.actor.person_id)
            if person not in pressed and (mine is None or mine.status is SignupStatus.CANCELLED):
                fresh.append(press)
            pressed.add(person)
        if fresh:
            last = await self._take_turn(session, activity.id, len(fresh))
            assert last is not None
            held, waiting = await self._counts(session, activity.id)
            position = last - len(fresh)
            for press in fresh:
                position += 1
                placed = held < activity.capacity and not waiting
                mine = signups.get(press.actor.person_id)
                if mine is None:
                    mine = ActivitySignup(
                        activity_id=activity.id, person_id=press.actor.person_id, created_at=now
                    )
                    session.add(mine)
                    signups[press.actor.person_id] = mine
                mine.status = SignupStatus.SIGNED_UP if placed else SignupStatus.WAITING
                mine.position, mine.updated_at = position, now
                mine.offer_expires_at = mine.checked_in_at = None
                if placed:
                    held += 1
                    press.answer, press.number = Answer.SIGNED_UP, held
                else:
                    waiting += 1
                    press.answer, press.number = Answer.WAITING, waiting
            await self._confirm(session, activity, fresh, now)
        for press in presses:
            if press.answer is None:
                press.answer, press.number = await self._standing(
                    session, signups[press.actor.person_id]
                )

    async def _confirm(
        self, session: AsyncSession, activity: Activity, presses: list[SignUp], now: datetime
    ) -> None:
        """Each new sign-up, in writing: the place or the rank, with Cancel (and the calendar
        file for a place)."""
        seen = (await self._seen(session, activity)).variables()
        notes = {}
        for press in presses:
            placed = press.answer is Answer.SIGNED_UP
            notes[press.actor.person_id] = Note(
                "activity/signed_up" if placed else "activity/waiting",
                {**seen, "number": press.number},
                self._signup_keyboard(activity, placed),
            )
        await tell_each(session, self.texts, self.kit.default, notes, now=now)

    async def _standing(self, session: AsyncSession, signup: ActivitySignup) -> tuple[Answer, int]:
        if signup.status is SignupStatus.WAITING:
            return Answer.WAITING, await self._rank(session, signup)
        return Answer.ALREADY, 0

    def _signup_keyboard(self, activity: Activity, placed: bool) -> list[list[dict[str, str]]]:
        row = [
            {
                "text": "activity/button_cancel",
                "callback_data": ACTIVITY.pack(activity=activity.id, action=CANCEL),
            }
        ]
        if placed:
            row.append(
                {
                    "text": "activity/button_calendar",
                    "callback_data": ACTIVITY.pack(activity=activity.id, action=CALENDAR),
                }
            )
        return [row]

    async def _signup(
        self, session: AsyncSession, activity_id: int, person_id: int
    ) -> ActivitySignup | None:
        return await session.scalar(
            select(ActivitySignup).where(
                ActivitySignup.activity_id == activity_id, ActivitySignup.person_id == person_id
            )
        )

    async def _participants(
        self, session: AsyncSession, activity: Activity, statuses: Sequence[SignupStatus]
    ) -> list[int]:
        found = await session.scalars(
            select(ActivitySignup.person_id)
            .where(ActivitySignup.activity_id == activity.id, ActivitySignup.status.in_(statuses))
            .order_by(ActivitySignup.position)
        )
        return list(found.all())

    # Cancelling, and the waiting list ---------------------------------------------------------

    async def cancellable(
        self, session: AsyncSession, actor: Actor, activity_id: int, *, now: datetime
    ) -> tuple[Answer, Mine | None]:
        """Whether ``actor`` may cancel their sign-up now (DONE), and the line to ask about;
        nothing changes."""
        activity = await session.get(Activity, activity_id)
        if activity is None:
            return Answer.GONE, None
        signup = await self._signup(session, activity_id, actor.person_id)
        answer = self._may_cancel(activity, signup, now)
        if answer is not Answer.DONE or signup is None:
            return answer, None
        return Answer.DONE, Mine(await self._seen(session, activity), signup)

    def _may_cancel(
        self, activity: Activity, signup: ActivitySignup | None, now: datetime
    ) -> Answer:
        if signup is None:
            return Answer.GONE
        live = (SignupStatus.SIGNED_UP, SignupStatus.WAITING, SignupStatus.OFFERED)
        if signup.status not in live or activity.starts_at <= now:
            return Answer.ALREADY
        return Answer.DONE

    async def cancel(
        self, session: AsyncSession, actor: Actor, activity_id: int, *, now: datetime
    ) -> Answer:
        """The participant gives up their place (or their place on the waiting list); a place
        goes to the first waiting. Checked again in full at the question's "yes"."""
        if await self._take_turn(session, activity_id, 0) is None:
            return Answer.GONE
        activity = await session.get(Activity, activity_id, populate_existing=True)
        assert activity is not None
        signup = await self._signup(session, activity_id, actor.person_id)
        answer = self._may_cancel(activity, signup, now)
        if answer is not Answer.DONE or signup is None:
            return answer
        held = signup.status in HOLDING_PLACE
        signup.status, signup.updated_at, signup.offer_expires_at = (
            SignupStatus.CANCELLED,
            now,
            None,
        )
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="activity.cancel",
                detail={"activity": activity_id},
            )
        )
        if held:
            await self._offer_next(session, activity, now)
        return Answer.DONE

    async def _offer_next(self, session: AsyncSession, activity: Activity, now: datetime) -> None:
        """Offer a freed place to the first waiting person, who is told and has until the
        offer's deadline (``activity.offer_hours``, never past the start) to confirm."""
        if activity.status is not ActivityStatus.OPEN or activity.starts_at <= now:
            return
        held, _ = await self._counts(session, activity.id)
        if held >= activity.capacity:
            return
        first = await session.scalar(
            select(ActivitySignup)
            .where(
                ActivitySignup.activity_id == activity.id,
                ActivitySignup.status == SignupStatus.WAITING,
            )
            .order_by(ActivitySignup.position)
            .limit(1)
        )
        if first is None:
            return
        person = await session.get(Person, first.person_id)
        assert person is not None
        hours = self._number("activity.offer_hours", await identity.person_actor(session, person))
        expires = min(now + timedelta(hours=hours), activity.starts_at)
        first.status, first.offer_expires_at, first.updated_at = SignupStatus.OFFERED, expires, now
        seen = await self._seen(session, activity)
        await tell(
            session,
            self.texts,
            self.kit.default,
            [first.person_id],
            "activity/offered",
            {**seen.variables(), "expires": expires.astimezone(self.kit.campus)},
            now=now,
            keyboard=[
                [
                    {
                        "text": "activity/button_confirm",
                        "callback_data": ACTIVITY.pack(activity=activity.id, action=CONFIRM),
                    },
                    {
                        "text": "activity/button_decline",
                        "callback_data": ACTIVITY.pack(activity=activity.id, action=DECLINE),
                    },
                ]
            ],
        )
        await firings.plan(
            session,
            [
                {
                    "key": f"act:{activity.id}:offer:{first.id}:{first.position}",
                    "kind": OFFER,
                    "due_at": expires,
                    "payload": {"activity": activity.id, "signup": first.id},
                }
            ],
            now=now,
        )

    async def answer_offer(
        self, session: AsyncSession, actor: Actor, activity_id: int, take: bool, *, now: datetime
    ) -> Answer:
        """Confirm (``take``) or decline an offered place; declined, or too late, it goes on."""
        if await self._take_turn(session, activity_id, 0) is None:
            return Answer.GONE
        activity = await session.get(Activity, activity_id, populate_existing=True)
        assert activity is not None
        signup = await self._signup(session, activity_id, actor.person_id)
        if signup is None:
            return Answer.GONE
        if signup.status is SignupStatus.CANCELLED:
            # Declined, or lapsed: the place has gone on.
            return Answer.TOO_LATE
        if signup.status is not SignupStatus.OFFERED:
            return Answer.ALREADY
        assert signup.offer_expires_at is not None
        if now > signup.offer_expires_at:
            return Answer.TOO_LATE
        signup.updated_at, signup.offer_expires_at = now, None
        if take:
            signup.status = SignupStatus.SIGNED_UP
            # In writing too, as a sign-up is: the place's number and the calendar file.
            held, _ = await self._counts(session, activity_id)
            seen = await self._seen(session, activity)
            await tell(
                session,
                self.texts,
                self.kit.default,
                [actor.person_id],
                "activity/signed_up",
                {**seen.variables(), "number": held},
                now=now,
                keyboard=self._signup_keyboard(activity, True),
                priority=Priority.INTERACTIVE,
            )
            return Answer.SIGNED_UP
        signup.status = SignupStatus.CANCELLED
        await self._offer_next(session, activity, now)
        return Answer.DONE

    async def offers_lapse(
        self, session: AsyncSession, due: Sequence[Firing], now: datetime
    ) -> None:
        """Offers nobody confirmed in time: the place goes to the next waiting person."""
        for firing in due:
            activity_id, signup_id = int(firing.payload["activity"]), int(firing.payload["signup"])
            if await self._take_turn(session, activity_id, 0) is None:
                continue
            signup = await session.get(ActivitySignup, signup_id, populate_existing=True)
            if signup is None or signup.status is not SignupStatus.OFFERED:
                continue
            if signup.offer_expires_at is not None and signup.offer_expires_at > now:
                continue
            signup.status, signup.updated_at, signup.offer_expires_at = (
                SignupStatus.CANCELLED,
                now,
                None,
            )
            activity = await session.get(Activity, activity_id, populate_existing=True)
            assert activity is not None
            seen = await self._seen(session, activity)
            await tell(
                session,
                self.texts,
                self.kit.default,
                [signup.person_id],
                "activity/offer_lapsed",
                seen.variables(),
                now=now,
            )
            await self._offer_next(session, activity, now)

    # Reminders and the end --------------------------------------------------------------------

    async def remind(self, session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        """The day before and an hour before: every participant with a place is reminded."""
        for firing in due:
            activity = await session.get(Activity, int(firing.payload["activity"]))
            if activity is None or activity.status is not ActivityStatus.OPEN:
                continue
            seen = await self._seen(session, activity)
            held = await self._participants(
                session, activity, (SignupStatus.SIGNED_UP, SignupStatus.OFFERED)
            )
            await tell(
                session,
                self.texts,
                self.kit.default,
                held,
                "activity/reminder",
                {**seen.variables(), "which": str(firing.payload["which"])},
                now=now,
            )

    async def end(self, session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
        """An activity is over: those with a place who did not check in are recorded as
        no-shows (where attendance was taken), the participants are asked to rate it, and the
        organiser gets the attendance and a button to record a summary."""
        for firing in due:
            activity_id = int(firing.payload["activity"])
            if await self._take_turn(session, activity_id, 0) is None:
                continue
            activity = await session.get(Activity, activity_id, populate_existing=True)
            assert activity is not None
            if activity.status is not ActivityStatus.OPEN:
                continue
            activity.status, activity.updated_at = ActivityStatus.ENDED, now
            signups = (
                await session.scalars(
                    select(ActivitySignup).where(ActivitySignup.activity_id == activity_id)
                )
            ).all()
            came: list[int] = []
            for signup in signups:
                if signup.status is SignupStatus.OFFERED:
                    signup.status, signup.offer_expires_at = SignupStatus.CANCELLED, None
                elif (
                    signup.status is SignupStatus.SIGNED_UP
                    and activity.attendance is not Attendance.NONE
                ):
                    signup.status = SignupStatus.NO_SHOW
                elif signup.status in (SignupStatus.SIGNED_UP, SignupStatus.ATTENDED):
                    came.append(signup.person_id)
                else:
                    continue
                signup.updated_at = now
            seen = await self._seen(session, activity)
            rate = [
                [
                    {
                        "text": "activity/button_rate",
                        "callback_data": ACTIVITY.pack(activity=activity_id, action=RATE),
                    }
                ]
            ]
            await tell(
                session,
                self.texts,
                self.kit.default,
                came,
                "activity/ended",
                seen.variables(),
                now=now,
                keyboard=rate,
            )
            summary = await self.summary(session, activity)
            summarise = [
                [
                    {
                        "text": "activity/button_summarise",
                        "callback_data": ACTIVITY.pack(activity=activity_id, action=SUMMARISE),
                    }
                ]
            ]
            await tell(
                session,
                self.texts,
                self.kit.default,
                [activity.organiser_person_id],
                "activity/report",
                {**seen.variables(), "summary": summary},
                now=now,
                keyboard=summarise,
            )

    async def summary(self, session: AsyncSession, activity: Activity) -> dict[str, Any]:
        """How many signed up, came, did not come and still wait; the ratings so far."""
        rows = await session.execute(
            select(
                ActivitySignup.status,
                func.count(),
                func.avg(ActivitySignup.rating),
                func.count(ActivitySignup.rating),
            )
            .where(ActivitySignup.activity_id == activity.id)
            .group_by(ActivitySignup.status)
        )
        counts: dict[str, int] = {}
        rated, total = 0, 0.0
        for status, count, average, ratings in rows.all():
            counts[str(status)] = int(count)
            if ratings:
                rated += int(ratings)
                total += float(average) * int(ratings)
        return {
            "capacity": activity.capacity,
            "counts": counts,
            "rated": rated,
            "average": round(total / rated, 1) if rated else None,
            "attendance": str(activity.attendance),
        }

    # Attendance -------------------------------------------------------------------------------

    def _organiser(
        self, session: AsyncSession, actor: Actor, activity: Activity, action: str, now: datetime
    ) -> bool:
        if activity.organiser_person_id == actor.person_id:
            return True
        self._refused(session, actor, activity, action, now)
        return False

    async def open_check_in(
        self, session: AsyncSession, actor: Actor, activity_id: int, *, now: datetime
    ) -> tuple[Answer, Activity | None]:
        """The organiser opens check-in, from ``activity.checkin_open_minutes`` before the start
        until the end; only the organiser may (anyone else is refused and audited). With a
        button, each participant with a place gets one; with a code, the organiser gets the
        code to show (and its QR code, made by the edge). The room's booking is checked in
        too: the organiser is there."""
        if await self._take_turn(session, activity_id, 0) is None:
            return Answer.GONE, None
        activity = await session.get(Activity, activity_id, populate_existing=True)
        assert activity is not None
        if not self._organiser(session, actor, activity, OPEN_CHECK_IN, now):
            return Answer.NOT_ALLOWED, None
        if activity.attendance is Attendance.NONE:
            return Answer.NOT_NEEDED, None
        if activity.status is not ActivityStatus.OPEN or now >= activity.ends_at:
            return Answer.TOO_LATE, None
        early = timedelta(minutes=self._number("activity.checkin_open_minutes", actor))
        if now < activity.starts_at - early:
            return Answer.TOO_EARLY, activity
        if activity.checkin_opened_at is not None:
            return Answer.ALREADY, activity
        activity.checkin_opened_at, activity.updated_at = now, now
        if activity.booking_id is not None and now >= activity.starts_at:
            await self.bookings.check_in(session, actor, activity.booking_id, now=now)
        if activity.attendance is Attendance.CODE:
            activity.checkin_code = new_code()
            return Answer.DONE, activity
        seen = await self._seen(session, activity)
        held = await self._participants(session, activity, (SignupStatus.SIGNED_UP,))
        button = [
            [
                {
                    "text": "activity/button_check_in",
                    "callback_data": ACTIVITY.pack(activity=activity_id, action=CHECK_IN),
                }
            ]
        ]
        await tell(
            session,
            self.texts,
            self.kit.default,
            held,
            "activity/check_in_open",
            seen.variables(),
            now=now,
            keyboard=button,
            priority=Priority.INTERACTIVE,
        )
        return Answer.DONE, activity

    async def check_in(
        self,
        session: AsyncSession,
        actor: Actor,
        activity_id: int,
        *,
        now: datetime,
        code: str | None = None,
    ) -> Answer:
        """A participant with a place checks in: only while check-in is open (from the moment
        the organiser opened it until the activity ends), and, where the organiser asked for a
        code, only with that code (the QR code's deep link carries it)."""
        activity = await session.get(Activity, activity_id)
        if activity is None:
            return Answer.GONE
        signup = await self._signup(session, activity_id, actor.person_id)
        if signup is None or signup.status not in (SignupStatus.SIGNED_UP, SignupStatus.ATTENDED):
            self._refused(session, actor, activity, CHECK_IN, now)
            return Answer.NOT_ALLOWED
        if signup.status is SignupStatus.ATTENDED:
            return Answer.ALREADY
        if activity.attendance is Attendance.NONE:
            return Answer.NOT_NEEDED
        if activity.checkin_opened_at is None or now < activity.checkin_opened_at:
            return Answer.TOO_EARLY
        if activity.status is not ActivityStatus.OPEN or now > activity.ends_at:
            return Answer.TOO_LATE
        if activity.attendance is Attendance.CODE and not (
            code is not None
            and activity.checkin_code is not None
            and hmac.compare_digest(code.upper().encode(), activity.checkin_code.encode())
        ):
            return Answer.NOT_ALLOWED
        signup.status, signup.checked_in_at, signup.updated_at = SignupStatus.ATTENDED, now, now
        return Answer.DONE

    def check_in_link(self, bot_username: str, activity: Activity) -> str:
        """The deep link the room's QR code holds: opening it checks the person in."""
        return (
            f"https://t.me/{bot_username}?start={DEEP_LINK}-{activity.id}-{activity.checkin_code}"
        )

    # /myactivities -----------------------------------------------------------------------------

    async def mine(self, session: AsyncSession, actor: Actor, now: datetime) -> list[Mine]:
        """What ``actor`` signed up for (a place, an offer, the waiting list) and what they
        organise, that has not ended, soonest first."""
        live = (
            SignupStatus.SIGNED_UP,
            SignupStatus.OFFERED,
            SignupStatus.WAITING,
            SignupStatus.ATTENDED,
        )
        rows = await session.execute(
            select(Activity, ActivitySignup)
            .join(ActivitySignup, ActivitySignup.activity_id == Activity.id)
            .where(
                ActivitySignup.person_id == actor.person_id,
                ActivitySignup.status.in_(live),
                Activity.status == ActivityStatus.OPEN,
                Activity.ends_at > now,
            )
            .order_by(Activity.starts_at, Activity.id)
            .limit(LIMIT)
        )
        found = []
        for activity, signup in rows.all():
            rank = await self._rank(session, signup) if signup.status is SignupStatus.WAITING else 0
            found.append(Mine(await self._seen(session, activity), signup, rank))
        organised = await session.scalars(
            select(Activity)
            .where(
                Activity.organiser_person_id == actor.person_id,
                Activity.status.in_([ActivityStatus.OPEN, ActivityStatus.PENDING]),
                Activity.ends_at > now,
            )
            .order_by(Activity.starts_at, Activity.id)
            .limit(LIMIT)
        )
        for activity in organised.all():
            held, waiting = await self._counts(session, activity.id)
            found.append(Mine(await self._seen(session, activity), None, 0, held, waiting))
        return sorted(found, key=lambda item: (item.seen.activity.starts_at, item.organising))

    async def calendar(
        self, session: AsyncSession, actor: Actor, activity_id: int, language: Language
    ) -> tuple[Answer, Seen | None, bytes]:
        """The .ics of an activity the person has a place in or organises."""
        activity = await session.get(Activity, activity_id)
        if activity is None:
            return Answer.GONE, None, b""
        signup = await self._signup(session, activity_id, actor.person_id)
        if activity.organiser_person_id != actor.person_id and (
            signup is None or signup.status not in HOLDING_PLACE
        ):
            return Answer.NOT_ALLOWED, None, b""
        seen = await self._seen(session, activity)
        return Answer.DONE, seen, calendar_file(seen, language)

    # Rating and the organiser's summary --------------------------------------------------------

    async def may_rate(self, context: FlowContext) -> None:
        """Before the rating conversation: the activity is over and the person came (or had a
        place, where attendance was not taken) and has not rated it yet."""
        activity, signup = await self._rated(context)
        if signup.rating is not None:
            raise Refused("activity/rated_already")
        del activity

    async def _rated(self, context: FlowContext) -> tuple[Activity, ActivitySignup]:
        number = callbacks.number(str(context.answers.get("activity")))
        activity = await context.session.get(Activity, number) if number is not None else None
        if activity is None or activity.status is not ActivityStatus.ENDED:
            raise Refused("activity/not_yet_over")
        signup = await self._signup(context.session, activity.id, context.actor.person_id)
        came = (
            (SignupStatus.ATTENDED,)
            if activity.attendance is not Attendance.NONE
            else (SignupStatus.SIGNED_UP,)
        )
        if signup is None or signup.status not in came:
            raise Refused("activity/not_a_participant")
        return activity, signup

    async def rate(self, context: FlowContext) -> Submitted:
        """``activity.rate``: the rating (1-5) and a comment, checked again."""
        activity, signup = await self._rated(context)
        rating, comment = context.answers.get("rating"), context.answers.get("comment")
        if str(rating) not in {"1", "2", "3", "4", "5"} or (
            comment is not None and not _fit(comment, 1, 500)
        ):
            raise Refused("activity/incomplete")
        if signup.rating is not None:
            raise Refused("activity/rated_already")
        signup.rating = int(str(rating))
        signup.comment = str(comment).strip() if comment is not None else None
        signup.updated_at = context.now
        return Submitted("activity/rated", {"activity": activity, "rating": signup.rating})

    async def may_summarise(self, context: FlowContext) -> None:
        """Before the summary conversation: only the organiser, once it is over."""
        await self._summarised(context)

    async def _summarised(self, context: FlowContext) -> Activity:
        number = callbacks.number(str(context.answers.get("activity")))
        activity = await context.session.get(Activity, number) if number is not None else None
        if activity is None or activity.status is not ActivityStatus.ENDED:
            raise Refused("activity/not_yet_over")
        if not self._organiser(context.session, context.actor, activity, SUMMARISE, context.now):
            raise Refused("activity/not_organiser")
        return activity

    async def summarise(self, context: FlowContext) -> Submitted:
        """``activity.summarise``: the organiser's summary and photo, kept with the activity."""
        activity = await self._summarised(context)
        text, photo = context.answers.get("summary"), context.answers.get("photo")
        if not _fit(text, 2, 2000) or (photo is not None and not _fit(photo, 1, 255)):
            raise Refused("activity/incomplete")
        activity.summary = str(text).strip()
        activity.summary_photo = str(photo) if photo is not None else None
        activity.updated_at = context.now
        summary = await self.summary(context.session, activity)
        return Submitted("activity/summarised", {"activity": activity, "summary": summary})

    # Audit -------------------------------------------------------------------------------------

    def _refused(
        self,
        session: AsyncSession,
        actor: Actor,
        activity: Activity | None,
        action: str,
        now: datetime,
        **detail: Any,
    ) -> None:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="activity.refused",
                detail={"activity": activity.id if activity else None, "action": action, **detail},
            )
        )


def _keyboard(rows: list[list[tuple[str, int, str]]]) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [
                {"text": label, "callback_data": ACTIVITY.pack(activity=activity, action=action)}
                for label, activity, action in row
            ]
            for row in rows
        ]
    }


def _fit(text: object, shortest: int, longest: int) -> bool:
    # What the conversation's text step accepts; anything else came from a forged state.
    return isinstance(text, str) and shortest <= len(text.strip()) <= longest


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def names(kit: Kit) -> Names:
    """The fixed activities' reminders to their owners; /activity's providers, checks and
    Submit; the rating and summary conversations; the participants' reminders, offers and
    ends as firings; and the sweep that follows activities' room bookings."""
    activities = Activities(kit)
    return Names(
        providers={
            "activity.kinds": activities.kinds,
            "activity.title_suggestion": activities.title_suggestion,
            "activity.place_kinds": activities.place_kinds,
            "activity.rooms": activities.rooms,
            "activity.slots": activities.slots,
            "activity.scope_kinds": activities.scope_kinds,
            "activity.scopes": activities.scopes,
            "activity.deadlines": activities.deadlines,
        },
        checks={
            "activity.not_past": activities.not_past,
            "activity.in_window": activities.in_window,
            "activity.open_day": activities.open_day,
            "activity.has_time": activities.has_time,
            "activity.fits": activities.fits,
        },
        actions={
            "activity.create": activities.submit,
            "activity.rate": activities.rate,
            "activity.summarise": activities.summarise,
        },
        start_checks={
            "activity.may_rate": activities.may_rate,
            "activity.may_summarise": activities.may_summarise,
        },
        facts={"activity.facts": activities.facts},
        jobs={
            "activities.plan": timed.planner(
                PLAN, kit.rules.activities, kit.rules.calendar, kit.campus
            ),
            "activities.follow_bookings": activities.follow_bookings,
        },
        firings={
            PLAN: remind_owners(kit.rules, kit.texts, kit.default),
            REMIND: activities.remind,
            OFFER: activities.offers_lapse,
            END: activities.end,
        },
    )
