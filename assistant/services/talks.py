"""Heart-to-heart talks (谈心谈话, §三): school and college leaders, party organisation heads,
teachers and counsellors come into the communities to talk with students.

Those the access rules let (``talk.offer``) publish slots, once or at the same time every week,
in a room of the communities or online (conversations/offer_talk.yaml). Students book one
(``talk.book``, conversations/book_talk.yaml), with a short topic they may leave blank; a
counsellor may also invite a student of their community to a talk (``talk.invite``,
conversations/invite_talk.yaml). A slot holds one talk: the store refuses a second one (a unique
index over the talks that hold it), so two students pressing for the same slot cannot both get
it. A student sees the slots of teachers of their own college, and of teachers of no college
(the school's offices).

Private by design: only the teacher and the student are shown that a talk exists, and the
counsellors of the student's community where ``talk.counsellor_sees`` (rules/policies.yaml)
says so; the teacher's note is read by the teacher and those counsellors only. Anyone else who
presses, forwards or forges a talk's button is told the button has expired, as for a talk that
does not exist, and the refusal is audited. Counts (``talk.report``) are numbers, never content.

Both are reminded ``talk.remind_minutes`` before the talk (a ``talk.remind`` firing), either may
cancel it with a reason until it starts (conversations/talk_cancel.yaml; the slot is offered
again only when the student cancelled a slot they booked: a time the teacher cannot keep, or gave
one student, goes to nobody else), and at its end the
teacher is asked whether it was held or the student did not come (``talk.ask``), which the
evaluation counts; the teacher may write the note (conversations/talk_note.yaml) at any time.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec, number
from assistant.domain import (
    HOLDING_TALK,
    Actor,
    FunctionalRoomKind,
    Language,
    PersonStatus,
    Role,
    ScopeKind,
    TalkOrigin,
    TalkSlotStatus,
    TalkStatus,
)
from assistant.flows.engine import FlowContext, Refused, Submitted
from assistant.flows.spec import Option
from assistant.rules import NoRuleMatched
from assistant.schedule import Handler, firings
from assistant.services import people
from assistant.services.kit import Kit, Names
from assistant.services.reminders import people_facts
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Building,
    Community,
    DormRoom,
    Firing,
    FiringStatus,
    Floor,
    FunctionalRoom,
    Person,
    Priority,
    Talk,
    TalkSlot,
)
from assistant.texts import pick_language

TALK = CallbackCodec("tk", ("talk", "op"))
"""A talk's buttons: only the talk and what was pressed; who may is decided here."""
VIEW, CANCEL, NOTE, HELD, ABSENT, LIST = "v", "x", "n", "h", "a", "l"
# About all of a teacher's open slots (talk 0): withdrawing asks first.
WITHDRAW, WITHDRAW_SURE = "w", "wy"
OPS = frozenset({VIEW, CANCEL, NOTE, HELD, ABSENT, LIST, WITHDRAW, WITHDRAW_SURE})
REMIND, ASK = "talk.remind", "talk.ask"
ONLINE = "online"
"""The place of a talk held online."""
STUDENTS = (PersonStatus.STUDENT, PersonStatus.ACTIVIST, PersonStatus.PARTY_MEMBER)
MAX_WEEKS = 18
"""The most weeks one weekly pattern runs: a semester's teaching weeks."""
LIMIT = 20
"""The most talks one section of /talks lists, and the most slots /talk offers."""
# Talks start on the hour or the half hour, from 08:00, and end by 22:00 (campus time).
_FIRST, _LAST, _STEP = time(8, 0), time(22, 0), timedelta(minutes=30)
_SHORTEST = timedelta(minutes=30)
# Policies' values for a rules folder that leaves them out: those shipped.
_DEFAULTS: dict[str, Any] = {
    "talk.window_days": 60,
    "talk.max_upcoming": 2,
    "talk.remind_minutes": 120,
    "talk.counsellor_sees": True,
}


class Handling(enum.StrEnum):
    """What a press of a talk's button did; each has its own message."""

    DONE = "done"
    # Not theirs, or no such talk: the same answer, so that a talk's existence never leaks.
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    TOO_EARLY = "too_early"
    TOO_LATE = "too_late"


class Viewer(enum.StrEnum):
    """Who is looking at a talk, which decides what they see and may press."""

    TEACHER = "teacher"
    STUDENT = "student"
    COUNSELLOR = "counsellor"


@dataclass(frozen=True)
class TalkView:
    """A talk as its card and /talks show it to one viewer (times in campus time); ``note`` is
    set only for a viewer who may read it."""

    id: int
    starts: datetime
    ends: datetime
    teacher: str
    student: str
    room_zh: str | None
    room_en: str | None
    online: str | None
    topic: str | None
    status: str
    origin: str
    note: str | None
    cancel_reason: str | None
    cancelled_by: str | None
    viewer: Viewer


@dataclass(frozen=True)
class Count:
    """The talks of one community's students: numbers only."""

    community_zh: str
    community_en: str
    upcoming: int
    held: int
    no_show: int
    unrecorded: int
    cancelled: int


@dataclass(frozen=True)
class Listing:
    """What /talks shows one person."""

    booked: list[TalkView]
    given: list[TalkView]
    open_slots: int
    counselled: list[TalkView]
    counts: list[Count] | None
    since: date | None


def names(kit: Kit) -> Names:
    """The conversations' providers, checks, start check, facts and actions, and the two
    firing kinds."""
    talks = Talks(kit)
    return Names(
        providers={
            "talk.places": talks.places,
            "talk.times": talks.times,
            "talk.open_slots": talks.open_slots,
        },
        checks={
            "talk.not_past": talks.not_past,
            "talk.in_window": talks.in_window,
            "talk.has_time": talks.has_time,
            "talk.student": talks.known_student,
            "talk.whole_weeks": talks.whole_weeks,
        },
        start_checks={"talk.can_book": talks.can_book},
        facts={"talk.facts": talks.facts},
        actions={
            "talk.offer": talks.offer,
            "talk.book": talks.book,
            "talk.invite": talks.invite,
            "talk.cancel": talks.cancel,
            "talk.note": talks.write_note,
        },
        firings={REMIND: talks.remind(), ASK: talks.ask()},
    )


class Talks:
    """Publishes slots, books and invites, cancels, notes, records and reminds."""

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.rules = kit.rules
        self.texts = kit.texts
        self.campus = kit.campus

    # Rules -------------------------------------------------------------------------------------

    def _policy(self, name: str, subject: dict[str, Any]) -> Any:
        try:
            return self.rules.policy(name, subject).outcome.value
        except NoRuleMatched:
            return _DEFAULTS[name]

    def may(self, action: str, actor: Actor) -> bool:
        """Whether the access rules let ``actor`` do ``action`` (``talk.*``)."""
        return self.rules.allowed(action, people.rule_subject(actor)).outcome.allowed

    async def _student_subject(self, session: AsyncSession, student: int) -> dict[str, Any]:
        return (await people_facts(session, [student]))[student]

    async def counsellors_see(self, session: AsyncSession, student: int) -> bool:
        """Whether the counsellors of ``student``'s community see their talks and notes."""
        return bool(
            self._policy("talk.counsellor_sees", await self._student_subject(session, student))
        )

    def today(self, now: datetime) -> date:
        """The campus date at ``now``."""
        return now.astimezone(self.campus).date()

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, self.campus).astimezone(UTC)

    # What the conversations offer --------------------------------------------------------------

    async def places(self, context: FlowContext) -> list[Option]:
        """The rooms of the communities a talk may be held in (not the reading rooms, which
        are for study), and online."""
        rooms = await context.session.scalars(
            select(FunctionalRoom)
            .where(FunctionalRoom.kind != FunctionalRoomKind.READING_ROOM)
            .order_by(FunctionalRoom.code)
        )
        found = [Option(room.code, {"zh-CN": room.name_zh, "en": room.name_en}) for room in rooms]
        online = {
            language: self.texts.render(language, "talk_online") for language in ("zh-CN", "en")
        }
        return [*found, Option(ONLINE, online)]

    async def _room(self, session: AsyncSession, code: object) -> FunctionalRoom | None:
        if code == ONLINE:
            return None
        return await session.scalar(
            select(FunctionalRoom).where(
                FunctionalRoom.code == str(code),
                FunctionalRoom.kind != FunctionalRoomKind.READING_ROOM,
            )
        )

    async def _free_times(
        self, session: AsyncSession, teacher: int, day: date, length: timedelta, now: datetime
    ) -> list[datetime]:
        """The starts (UTC) on ``day`` a talk of ``length`` could have: ahead of ``now``, by
        22:00, and clear of the teacher's slots."""
        first, last = self._at(day, _FIRST), self._at(day, _LAST)
        taken = (
            await session.execute(
                select(TalkSlot.starts_at, TalkSlot.ends_at).where(
                    TalkSlot.teacher_person_id == teacher,
                    TalkSlot.status == TalkSlotStatus.OPEN,
                    TalkSlot.starts_at < last,
                    TalkSlot.ends_at > first,
                )
            )
        ).all()
        found = []
        start = first
        while start + length <= last:
            end = start + length
            if start > now and not any(a < end and start < b for a, b in taken):
                found.append(start)
            start += _STEP
        return found

    async def times(self, context: FlowContext) -> list[Option]:
        """The starts the chosen day still has for a talk of the chosen length."""
        day, length = _day(context.answers.get("date")), _minutes(context.answers.get("minutes"))
        if day is None or length is None:
            return []
        starts = await self._free_times(
            context.session, context.actor.person_id, day, length, context.now
        )
        labels = [f"{start.astimezone(self.campus):%H:%M}" for start in starts]
        return [Option(label, {"zh-CN": label, "en": label}) for label in labels]

    def _visible(self, teacher_college: int | None, actor: Actor) -> bool:
        """A student sees the slots of their college's teachers and of the school's offices."""
        return teacher_college is None or (
            actor.college is not None and actor.college.id == teacher_college
        )

    async def _open_slots(
        self, session: AsyncSession, actor: Actor, now: datetime
    ) -> list[tuple[TalkSlot, Person, FunctionalRoom | None]]:
        """The slots ``actor`` could book now, soonest first."""
        holding = select(Talk.slot_id).where(Talk.status.in_(HOLDING_TALK))
        window = self._policy("talk.window_days", people.rule_subject(actor))
        rows = await session.execute(
            select(TalkSlot, Person, FunctionalRoom)
            .join(Person, Person.id == TalkSlot.teacher_person_id)
            .outerjoin(FunctionalRoom, FunctionalRoom.id == TalkSlot.room_id)
            .where(
                TalkSlot.status == TalkSlotStatus.OPEN,
                TalkSlot.starts_at > now,
                TalkSlot.starts_at < now + timedelta(days=int(window) + 1),
                TalkSlot.teacher_person_id != actor.person_id,
                TalkSlot.id.not_in(holding),
                Person.active.is_(True),
            )
            .order_by(TalkSlot.starts_at, TalkSlot.id)
        )
        found: list[tuple[TalkSlot, Person, FunctionalRoom | None]] = [
            (slot, teacher, room)
            for slot, teacher, room in rows
            if self._visible(teacher.college_id, actor)
        ]
        return found[:LIMIT]

    async def open_slots(self, context: FlowContext) -> list[Option]:
        """``talk.open_slots``: the slots the student could book, each with its teacher."""
        found = await self._open_slots(context.session, context.actor, context.now)
        return [
            Option(
                str(slot.id),
                {
                    language: self.texts.render(
                        language,
                        "talk_slot_label",
                        starts=slot.starts_at.astimezone(self.campus),
                        ends=slot.ends_at.astimezone(self.campus),
                        teacher=teacher.name,
                        room=room,
                        online=slot.online,
                    )
                    for language in ("zh-CN", "en")
                },
            )
            for slot, teacher, room in found
        ]

    # Checks ------------------------------------------------------------------------------------

    async def not_past(self, context: FlowContext, value: Any) -> bool:
        """The day is today or later."""
        day = _day(value)
        return day is not None and day >= self.today(context.now)

    async def in_window(self, context: FlowContext, value: Any) -> bool:
        """The day is no further ahead than ``talk.window_days``."""
        day = _day(value)
        window = self._policy("talk.window_days", people.rule_subject(context.actor))
        return day is not None and day <= self.today(context.now) + timedelta(days=int(window))

    async def has_time(self, context: FlowContext, value: Any) -> bool:
        """The day still has time for the shortest talk, clear of the teacher's slots."""
        day = _day(value)
        if day is None:
            return False
        teacher = context.actor.person_id
        return bool(await self._free_times(context.session, teacher, day, _SHORTEST, context.now))

    async def whole_weeks(self, context: FlowContext, value: Any) -> bool:
        """A whole number of weeks, 1 to :data:`MAX_WEEKS`."""
        del context
        return isinstance(value, int | float) and value % 1 == 0 and 1 <= value <= MAX_WEEKS

    async def _student_of(
        self, session: AsyncSession, counsellor: Actor, typed: object
    ) -> Person | None:
        """The active student numbered ``typed`` who lives in a community ``counsellor``
        counsels."""
        communities = [
            grant.scope_id
            for grant in counsellor.grants
            if grant.role is Role.COUNSELLOR and grant.scope_kind is ScopeKind.COMMUNITY
        ]
        if not communities or not isinstance(typed, str):
            return None
        return await session.scalar(
            select(Person)
            .join(DormRoom, DormRoom.id == Person.dorm_room_id)
            .join(Floor, Floor.id == DormRoom.floor_id)
            .join(Building, Building.id == Floor.building_id)
            .where(
                Person.number == typed.strip(),
                Person.active.is_(True),
                Person.status.in_(STUDENTS),
                Building.community_id.in_(communities),
            )
        )

    async def known_student(self, context: FlowContext, value: Any) -> bool:
        """``talk.student``: a student of a community the counsellor counsels."""
        return await self._student_of(context.session, context.actor, value) is not None

    async def facts(self, context: FlowContext) -> dict[str, Any]:
        """``talk.facts``: how far ahead a talk may be, and the invited student's name once
        their number is given."""
        student = await self._student_of(
            context.session, context.actor, context.answers.get("student")
        )
        window = self._policy("talk.window_days", people.rule_subject(context.actor))
        return {"student": student.name if student else None, "window_days": int(window)}

    async def _upcoming(self, session: AsyncSession, student: int, now: datetime) -> int:
        return (
            await session.scalar(
                select(func.count())
                .select_from(Talk)
                .join(TalkSlot, TalkSlot.id == Talk.slot_id)
                .where(
                    Talk.student_person_id == student,
                    Talk.status == TalkStatus.BOOKED,
                    TalkSlot.ends_at > now,
                )
            )
            or 0
        )

    async def _booking_refusal(
        self, session: AsyncSession, actor: Actor, now: datetime
    ) -> Refused | None:
        decision = self.rules.allowed("talk.book", people.rule_subject(actor))
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            return Refused("talk_refused", reason=reason)
        limit = int(self._policy("talk.max_upcoming", people.rule_subject(actor)))
        if await self._upcoming(session, actor.person_id, now) >= limit:
            return Refused("talk_too_many", limit=limit)
        return None

    async def can_book(self, context: FlowContext) -> None:
        """``talk.can_book``, before /talk's first question: the student may hold another
        talk, and some teacher has a slot for them."""
        refusal = await self._booking_refusal(context.session, context.actor, context.now)
        if refusal is not None:
            raise refusal
        if not await self._open_slots(context.session, context.actor, context.now):
            raise Refused("talk_no_slots")

    # Submitting --------------------------------------------------------------------------------

    async def offer(self, context: FlowContext) -> Submitted:
        """``talk.offer``: publish the slot, and the same time in the weeks after; a week
        whose time the teacher already gave is passed over."""
        session, actor, answers, now = context.session, context.actor, context.answers, context.now
        if not self.may("talk.offer", actor):
            raise Refused("talk_not_allowed")
        place, online = await self._place(context)
        day, length = _day(answers.get("date")), _minutes(answers.get("minutes"))
        clock = _clock(answers.get("time"))
        weeks = answers.get("weeks")
        if day is None or length is None or clock is None or not isinstance(weeks, int | float):
            raise Refused("talk_not_allowed")
        if not await self.in_window(context, day.isoformat()):
            raise Refused("talk_gone")
        published: list[TalkSlot] = []
        passed = 0
        for week in range(int(weeks)):
            starts = self._at(day + timedelta(weeks=week), clock)
            free = await self._free_times(session, actor.person_id, self.today(starts), length, now)
            if starts not in free:
                passed += 1
                continue
            slot = TalkSlot(
                teacher_person_id=actor.person_id,
                starts_at=starts,
                ends_at=starts + length,
                room_id=place.id if place else None,
                online=online,
                status=TalkSlotStatus.OPEN,
                created_at=now,
                updated_at=now,
            )
            session.add(slot)
            await session.flush()
            published.append(slot)
        if not published:
            raise Refused("talk_time_gone")
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="talk.offered",
                detail={"slots": [slot.id for slot in published]},
            )
        )
        return Submitted(
            "talk_offered",
            {
                "count": len(published),
                "passed": passed,
                "first": published[0].starts_at.astimezone(self.campus),
                "last": published[-1].starts_at.astimezone(self.campus),
            },
        )

    async def _place(self, context: FlowContext) -> tuple[FunctionalRoom | None, str | None]:
        """The room chosen, or None and how to join for a talk online."""
        chosen = context.answers.get("place")
        if chosen == ONLINE:
            joining = context.answers.get("online")
            return None, str(joining)[:200] if joining else None
        room = await self._room(context.session, chosen)
        if room is None:
            raise Refused("talk_not_allowed")
        return room, None

    async def book(self, context: FlowContext) -> Submitted:
        """``talk.book``: the student takes the slot, if it is still there for them; the store
        decides between two who press at once."""
        session, actor, now = context.session, context.actor, context.now
        refusal = await self._booking_refusal(session, actor, now)
        if refusal is not None:
            raise refusal
        slot_id = number(str(context.answers.get("slot", "")))
        offered = {slot.id: slot for slot, _, _ in await self._open_slots(session, actor, now)}
        slot = offered.get(slot_id) if slot_id is not None else None
        if slot is None:
            raise Refused("talk_taken")
        topic = context.answers.get("topic")
        talk = await self._hold(session, actor, slot, TalkOrigin.BOOKED, topic, now)
        if talk is None:
            raise Refused("talk_taken")
        await self._tell(session, talk.teacher_person_id, "talk_booked_teacher", now, talk)
        return Submitted("talk_booked", {"talk": await self.view(session, talk, Viewer.STUDENT)})

    async def invite(self, context: FlowContext) -> Submitted:
        """``talk.invite``: a counsellor invites a student of their community at a time and
        place they choose; the student is told, and may cancel with a reason."""
        session, actor, answers, now = context.session, context.actor, context.answers, context.now
        student = await self._student_of(session, actor, answers.get("student"))
        if not self.may("talk.invite", actor) or student is None:
            raise Refused("talk_not_allowed")
        place, online = await self._place(context)
        day, length = _day(answers.get("date")), _minutes(answers.get("minutes"))
        clock = _clock(answers.get("time"))
        if day is None or length is None or clock is None:
            raise Refused("talk_not_allowed")
        starts = self._at(day, clock)
        if starts not in await self._free_times(session, actor.person_id, day, length, now):
            raise Refused("talk_time_gone")
        slot = TalkSlot(
            teacher_person_id=actor.person_id,
            starts_at=starts,
            ends_at=starts + length,
            room_id=place.id if place else None,
            online=online,
            status=TalkSlotStatus.OPEN,
            created_at=now,
            updated_at=now,
        )
        session.add(slot)
        await session.flush()
        guest = await self._actor_of(session, student)
        talk = await self._hold(session, guest, slot, TalkOrigin.INVITED, answers.get("topic"), now)
        if talk is None:
            raise Refused("talk_time_gone")
        await self._tell(
            session, student.id, "talk_invited_student", now, talk, buttons=[VIEW, CANCEL]
        )
        return Submitted("talk_invited", {"talk": await self.view(session, talk, Viewer.TEACHER)})

    async def _actor_of(self, session: AsyncSession, person: Person) -> Actor:
        place = await repo.place_of_room(session, person.dorm_room_id)
        return Actor(
            person_id=person.id,
            number=person.number,
            name=person.name,
            status=person.status,
            language=None,
            college=await repo.college(session, person.college_id),
            home=place,
            grants=(),
        )

    async def _hold(
        self,
        session: AsyncSession,
        student: Actor,
        slot: TalkSlot,
        origin: TalkOrigin,
        topic: object,
        now: datetime,
    ) -> Talk | None:
        """Store the talk in ``slot``, or None when the slot is already held; plan its
        reminder and the question at its end."""
        place = student.home
        talk = Talk(
            slot_id=slot.id,
            teacher_person_id=slot.teacher_person_id,
            student_person_id=student.person_id,
            community_id=place.community.id if place else None,
            college_id=student.college.id if student.college else None,
            origin=origin,
            status=TalkStatus.BOOKED,
            topic=str(topic) if topic else None,
            created_at=now,
            updated_at=now,
        )
        try:
            # The store, not a look beforehand, decides who gets a slot two people want.
            async with session.begin_nested():
                session.add(talk)
                await session.flush()
        except IntegrityError:
            return None
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=student.person_id,
                action=f"talk.{origin}",
                detail={"talk": talk.id, "slot": slot.id},
            )
        )
        remind = timedelta(
            minutes=int(self._policy("talk.remind_minutes", people.rule_subject(student)))
        )
        planned = [
            {
                "key": f"talk:{talk.id}:ask",
                "kind": ASK,
                "due_at": slot.ends_at,
                "payload": {"talk": talk.id},
            },
        ]
        if slot.starts_at - remind > now:
            planned.append(
                {
                    "key": f"talk:{talk.id}:remind",
                    "kind": REMIND,
                    "due_at": slot.starts_at - remind,
                    "payload": {"talk": talk.id},
                }
            )
        await firings.plan(session, planned, now=now)
        return talk

    # Who sees what -----------------------------------------------------------------------------

    async def viewer(self, session: AsyncSession, actor: Actor, talk: Talk) -> Viewer | None:
        """How ``actor`` sees ``talk``: one of its two people, a counsellor of the student's
        community the rules let see it, or not at all."""
        if actor.person_id == talk.teacher_person_id:
            return Viewer.TEACHER
        if actor.person_id == talk.student_person_id:
            return Viewer.STUDENT
        counsels = any(
            grant.role is Role.COUNSELLOR
            and grant.scope_kind is ScopeKind.COMMUNITY
            and grant.scope_id == talk.community_id
            for grant in actor.grants
        )
        if counsels and await self.counsellors_see(session, talk.student_person_id):
            return Viewer.COUNSELLOR
        return None

    async def view(self, session: AsyncSession, talk: Talk, viewer: Viewer) -> TalkView:
        """``talk`` as ``viewer`` sees it: the note only for the teacher and counsellors."""
        slot = await session.get(TalkSlot, talk.slot_id)
        assert slot is not None
        room = await session.get(FunctionalRoom, slot.room_id) if slot.room_id else None
        teacher = await session.get(Person, talk.teacher_person_id)
        student = await session.get(Person, talk.student_person_id)
        canceller = (
            await session.get(Person, talk.cancelled_by_person_id)
            if talk.cancelled_by_person_id
            else None
        )
        assert teacher is not None and student is not None
        return TalkView(
            id=talk.id,
            starts=slot.starts_at.astimezone(self.campus),
            ends=slot.ends_at.astimezone(self.campus),
            teacher=teacher.name,
            student=student.name,
            room_zh=room.name_zh if room else None,
            room_en=room.name_en if room else None,
            online=slot.online,
            topic=talk.topic,
            status=str(talk.status),
            origin=str(talk.origin),
            note=talk.note if viewer is not Viewer.STUDENT else None,
            cancel_reason=talk.cancel_reason,
            cancelled_by=canceller.name if canceller else None,
            viewer=viewer,
        )

    async def _seen(
        self, session: AsyncSession, actor: Actor, talk_id: int | None, op: str, now: datetime
    ) -> tuple[Talk, Viewer] | None:
        """The talk and how ``actor`` sees it; anyone else's press is refused and audited."""
        talk = await session.get(Talk, talk_id) if talk_id else None
        viewer = await self.viewer(session, actor, talk) if talk is not None else None
        if talk is None or viewer is None:
            self._refused(session, actor, talk_id, op, now)
            return None
        return talk, viewer

    def _refused(
        self, session: AsyncSession, actor: Actor, talk_id: int | None, op: str, now: datetime
    ) -> None:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="talk.refused",
                detail={"talk": talk_id, "op": op},
            )
        )

    async def card(
        self, session: AsyncSession, actor: Actor, talk_id: int | None, now: datetime
    ) -> tuple[Handling, TalkView | None, list[str]]:
        """The talk's card for ``actor``, and the buttons they may press on it."""
        seen = await self._seen(session, actor, talk_id, VIEW, now)
        if seen is None:
            return Handling.NOT_ALLOWED, None, []
        talk, viewer = seen
        slot = await session.get(TalkSlot, talk.slot_id)
        assert slot is not None
        return (
            Handling.DONE,
            await self.view(session, talk, viewer),
            self.ops(talk, slot, viewer, now),
        )

    def ops(self, talk: Talk, slot: TalkSlot, viewer: Viewer, now: datetime) -> list[str]:
        """The buttons of a talk's card for ``viewer`` at ``now``."""
        found: list[str] = []
        if viewer is Viewer.COUNSELLOR:
            return found
        if talk.status is TalkStatus.BOOKED and now < slot.starts_at:
            found.append(CANCEL)
        if viewer is Viewer.TEACHER and talk.status in HOLDING_TALK:
            if now >= slot.starts_at:
                found += [HELD, ABSENT]
            found.append(NOTE)
        return found

    # Acting on a talk --------------------------------------------------------------------------

    async def cancel_preset(
        self, session: AsyncSession, actor: Actor, talk_id: int | None, now: datetime
    ) -> tuple[Handling, dict[str, Any]]:
        """Whether ``actor`` may cancel the talk now, and what the reason's question says."""
        seen = await self._seen(session, actor, talk_id, CANCEL, now)
        if seen is None:
            return Handling.NOT_ALLOWED, {}
        if seen[1] is Viewer.COUNSELLOR:
            self._refused(session, actor, talk_id, CANCEL, now)
            return Handling.NOT_ALLOWED, {}
        talk, viewer = seen
        slot = await session.get(TalkSlot, talk.slot_id)
        assert slot is not None
        if talk.status is not TalkStatus.BOOKED:
            return Handling.ALREADY, {}
        if now >= slot.starts_at:
            return Handling.TOO_LATE, {}
        view = await self.view(session, talk, viewer)
        other = view.student if viewer is Viewer.TEACHER else view.teacher
        return Handling.DONE, {"talk": talk.id, **_when(view), "other": other}

    async def cancel(self, context: FlowContext) -> Submitted:
        """``talk.cancel``: either of the two cancels before it starts; the other is told why,
        the reminders go; the slot is free again when the student cancelled a slot they booked,
        and withdrawn otherwise."""
        session, actor, now = context.session, context.actor, context.now
        talk_id = number(str(context.answers.get("talk", "")))
        handling, _ = await self.cancel_preset(session, actor, talk_id, now)
        if handling is not Handling.DONE:
            raise Refused(f"talk_{handling}")
        reason = str(context.answers.get("reason", ""))
        cancelled = await session.scalar(
            update(Talk)
            .where(Talk.id == talk_id, Talk.status == TalkStatus.BOOKED)
            .values(
                status=TalkStatus.CANCELLED,
                cancelled_by_person_id=actor.person_id,
                cancel_reason=reason,
                updated_at=now,
            )
            .returning(Talk.id)
            .execution_options(synchronize_session=False)
        )
        if cancelled is None:
            raise Refused("talk_already")
        talk = await session.get(Talk, talk_id, populate_existing=True)
        assert talk is not None
        await session.execute(
            delete(Firing).where(
                Firing.status == FiringStatus.PENDING, Firing.key.startswith(f"talk:{talk.id}:")
            )
        )
        if talk.origin is TalkOrigin.INVITED or actor.person_id == talk.teacher_person_id:
            # A teacher who cannot come cannot give the time to another student either, and
            # an invitation's time was for this student only, never on offer.
            await session.execute(
                update(TalkSlot)
                .where(TalkSlot.id == talk.slot_id)
                .values(status=TalkSlotStatus.WITHDRAWN, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="talk.cancelled",
                detail={"talk": talk.id},
            )
        )
        other = (
            talk.student_person_id
            if actor.person_id == talk.teacher_person_id
            else talk.teacher_person_id
        )
        await self._tell(session, other, "talk_cancelled_other", now, talk)
        return Submitted("talk_cancelled", {"talk": await self.view(session, talk, Viewer.STUDENT)})

    async def note_preset(
        self, session: AsyncSession, actor: Actor, talk_id: int | None, now: datetime
    ) -> tuple[Handling, dict[str, Any]]:
        """Whether ``actor`` may write the talk's note, and what its question says."""
        seen = await self._seen(session, actor, talk_id, NOTE, now)
        if seen is None:
            return Handling.NOT_ALLOWED, {}
        if seen[1] is not Viewer.TEACHER:
            self._refused(session, actor, talk_id, NOTE, now)
            return Handling.NOT_ALLOWED, {}
        talk = seen[0]
        if talk.status not in HOLDING_TALK:
            return Handling.ALREADY, {}
        view = await self.view(session, talk, Viewer.TEACHER)
        return Handling.DONE, {
            "talk": talk.id,
            **_when(view),
            "other": view.student,
            "counsellors": await self.counsellors_see(session, talk.student_person_id),
            "earlier": talk.note,
        }

    async def write_note(self, context: FlowContext) -> Submitted:
        """``talk.note``: the teacher's private note, replacing an earlier one."""
        session, actor, now = context.session, context.actor, context.now
        talk_id = number(str(context.answers.get("talk", "")))
        handling, preset = await self.note_preset(session, actor, talk_id, now)
        if handling is not Handling.DONE:
            raise Refused(f"talk_{handling}")
        await session.execute(
            update(Talk)
            .where(Talk.id == talk_id)
            .values(note=str(context.answers.get("note", "")), noted_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="talk.noted",
                detail={"talk": talk_id},
            )
        )
        return Submitted("talk_noted", {"counsellors": preset["counsellors"]})

    async def record(
        self, session: AsyncSession, actor: Actor, talk_id: int | None, held: bool, now: datetime
    ) -> Handling:
        """The teacher records that the talk was held, or that the student did not come; it
        may be set right afterwards."""
        op = HELD if held else ABSENT
        seen = await self._seen(session, actor, talk_id, op, now)
        if seen is None:
            return Handling.NOT_ALLOWED
        if seen[1] is not Viewer.TEACHER:
            self._refused(session, actor, talk_id, op, now)
            return Handling.NOT_ALLOWED
        talk = seen[0]
        slot = await session.get(TalkSlot, talk.slot_id)
        assert slot is not None
        if talk.status not in HOLDING_TALK:
            return Handling.ALREADY
        if now < slot.starts_at:
            return Handling.TOO_EARLY
        talk.status = TalkStatus.HELD if held else TalkStatus.NO_SHOW
        talk.recorded_at = talk.updated_at = now
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="talk.recorded",
                detail={"talk": talk.id, "status": str(talk.status)},
            )
        )
        return Handling.DONE

    async def withdraw(self, session: AsyncSession, actor: Actor, now: datetime) -> int:
        """Take back every slot of ``actor``'s that is still ahead and nobody booked."""
        holding = select(Talk.slot_id).where(Talk.status.in_(HOLDING_TALK))
        withdrawn = list(
            await session.scalars(
                update(TalkSlot)
                .where(
                    TalkSlot.teacher_person_id == actor.person_id,
                    TalkSlot.status == TalkSlotStatus.OPEN,
                    TalkSlot.starts_at > now,
                    TalkSlot.id.not_in(holding),
                )
                .values(status=TalkSlotStatus.WITHDRAWN, updated_at=now)
                .returning(TalkSlot.id)
                .execution_options(synchronize_session=False)
            )
        )
        if withdrawn:
            session.add(
                AuditEntry(
                    at=now,
                    actor_person_id=actor.person_id,
                    action="talk.withdrawn",
                    detail={"slots": withdrawn},
                )
            )
        return len(withdrawn)

    # /talks ------------------------------------------------------------------------------------

    async def listing(self, session: AsyncSession, actor: Actor, now: datetime) -> Listing:
        """What /talks shows ``actor``: talks they booked or were invited to, talks they give,
        their slots nobody booked yet, their students' talks (a counsellor the rules let see
        them), and the counts (``talk.report``)."""
        booked = await self._talks(session, [Talk.student_person_id == actor.person_id], now)
        given = await self._talks(session, [Talk.teacher_person_id == actor.person_id], now)
        communities = [
            grant.scope_id
            for grant in actor.grants
            if grant.role is Role.COUNSELLOR and grant.scope_kind is ScopeKind.COMMUNITY
        ]
        counselled: list[TalkView] = []
        if communities:
            found = await self._talks(
                session,
                [
                    Talk.community_id.in_(communities),
                    Talk.teacher_person_id != actor.person_id,
                    Talk.student_person_id != actor.person_id,
                ],
                now,
                limit=None,
            )
            for talk in found:
                if await self.counsellors_see(session, talk.student_person_id):
                    counselled.append(await self.view(session, talk, Viewer.COUNSELLOR))
                if len(counselled) == LIMIT:
                    break
        open_slots = await session.scalar(
            select(func.count())
            .select_from(TalkSlot)
            .where(
                TalkSlot.teacher_person_id == actor.person_id,
                TalkSlot.status == TalkSlotStatus.OPEN,
                TalkSlot.starts_at > now,
                TalkSlot.id.not_in(select(Talk.slot_id).where(Talk.status.in_(HOLDING_TALK))),
            )
        )
        since = self._semester_start(now)
        counts = await self.counts(session, now, since) if self.may("talk.report", actor) else None
        return Listing(
            booked=[await self.view(session, t, Viewer.STUDENT) for t in booked],
            given=[await self.view(session, t, Viewer.TEACHER) for t in given],
            open_slots=open_slots or 0,
            counselled=counselled,
            counts=counts,
            since=since,
        )

    async def _talks(
        self, session: AsyncSession, where: list[Any], now: datetime, limit: int | None = LIMIT
    ) -> list[Talk]:
        """Talks still to come or waiting to be recorded, and those of the last week, soonest
        first."""
        query = (
            select(Talk)
            .join(TalkSlot, TalkSlot.id == Talk.slot_id)
            .where(
                *where,
                or_(
                    Talk.status == TalkStatus.BOOKED,
                    TalkSlot.starts_at > now - timedelta(days=7),
                ),
            )
            .order_by(TalkSlot.starts_at, Talk.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(await session.scalars(query))

    def _semester_start(self, now: datetime) -> date | None:
        semester = self.rules.calendar.semester_of(self.today(now))
        return semester.first_day if semester else None

    async def counts(self, session: AsyncSession, now: datetime, since: date | None) -> list[Count]:
        """Per community, the talks of its students since ``since`` (all without it): how many
        are to come, were held, the student did not come to, wait to be recorded, or were
        cancelled. Numbers only: no name, topic or note is read."""
        # One parameter for both: PostgreSQL groups by an expression only when it is the one
        # selected, parameters and all.
        ahead = TalkSlot.starts_at > bindparam("now", now)
        query = (
            select(Talk.community_id, Talk.status, ahead, func.count())
            .join(TalkSlot, TalkSlot.id == Talk.slot_id)
            .group_by(Talk.community_id, Talk.status, ahead)
        )
        if since is not None:
            query = query.where(TalkSlot.starts_at >= self._at(since, time(0)))
        tally: dict[int | None, dict[str, int]] = {}
        for community_id, status, to_come, count in await session.execute(query):
            row = tally.setdefault(community_id, {})
            key = str(status)
            if status is TalkStatus.BOOKED:
                key = "upcoming" if to_come else "unrecorded"
            row[key] = row.get(key, 0) + count
        communities = {
            c.id: c
            for c in await session.scalars(
                select(Community).where(Community.id.in_([k for k in tally if k is not None]))
            )
        }
        found = []
        for community_id, row in sorted(tally.items(), key=lambda item: item[0] or 0):
            community = communities.get(community_id) if community_id is not None else None
            found.append(
                Count(
                    community.name_zh if community else "",
                    community.name_en if community else "",
                    row.get("upcoming", 0),
                    row.get(str(TalkStatus.HELD), 0),
                    row.get(str(TalkStatus.NO_SHOW), 0),
                    row.get("unrecorded", 0),
                    row.get(str(TalkStatus.CANCELLED), 0),
                )
            )
        return found

    # Firings -----------------------------------------------------------------------------------

    def remind(self) -> Handler:
        """Before a talk: both are reminded, each with the talk's card."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                talk = await session.get(Talk, int(firing.payload["talk"]))
                slot = await session.get(TalkSlot, talk.slot_id) if talk else None
                if talk is None or slot is None or talk.status is not TalkStatus.BOOKED:
                    continue
                if now >= slot.starts_at:
                    continue
                for person in (talk.student_person_id, talk.teacher_person_id):
                    await self._tell(session, person, "talk_remind", now, talk, buttons=[VIEW])

        return fire

    def ask(self) -> Handler:
        """At a talk's end: the teacher is asked whether it was held or the student did not
        come, on the talk's card, where the note is written too."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                talk = await session.get(Talk, int(firing.payload["talk"]))
                if talk is None or talk.status is not TalkStatus.BOOKED:
                    continue
                await self._tell(
                    session,
                    talk.teacher_person_id,
                    "talk_ask",
                    now,
                    talk,
                    buttons=[HELD, ABSENT, NOTE],
                )

        return fire

    # Messages ----------------------------------------------------------------------------------

    async def _tell(
        self,
        session: AsyncSession,
        person: int,
        template: str,
        now: datetime,
        talk: Talk,
        *,
        buttons: Sequence[str] = (VIEW,),
    ) -> None:
        """Queue ``template`` about ``talk`` to ``person`` (one of its two people), with the
        talk's buttons, if they can be reached."""
        account = await repo.account_of(session, person)
        if account is None or account.unreachable_since is not None:
            return
        language = pick_language(account.language, self.kit.default)
        viewer = Viewer.TEACHER if person == talk.teacher_person_id else Viewer.STUDENT
        view = await self.view(session, talk, viewer)
        outbox.enqueue(
            session,
            account.telegram_user_id,
            "sendMessage",
            {
                "text": self.texts.render(language, template, talk=view),
                "parse_mode": "HTML",
                "reply_markup": self.keyboard(language, talk.id, buttons),
            },
            priority=Priority.BULK,
            now=now,
        )

    def keyboard(self, language: Language, talk_id: int, ops: Sequence[str]) -> dict[str, Any]:
        """The buttons ``ops`` of a talk, one a row, as the Bot API takes them."""
        return {
            "inline_keyboard": [
                [
                    {
                        "text": self.texts.render(language, f"talk_button_{op}"),
                        "callback_data": TALK.pack(talk=talk_id, op=op),
                    }
                ]
                for op in ops
            ]
        }


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _minutes(value: object) -> timedelta | None:
    minutes = number(str(value), 240)
    return timedelta(minutes=minutes) if minutes else None


def _clock(value: object) -> time | None:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return None


def _when(view: TalkView) -> dict[str, str]:
    """A talk's start and end as answers keep them (JSON): the start as ISO, which the
    templates show with the ``day_time`` filter, and the end's hour."""
    return {"starts": view.starts.isoformat(), "end": f"{view.ends:%H:%M}"}
