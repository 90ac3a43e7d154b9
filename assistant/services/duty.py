"""Duty rotation (值班制度) and work logs (工作记录制度) of the activity rooms, from
``rules/duty.yaml``.

The ``duty.plan`` job keeps the coming weeks of each room planned as ``duty_shifts`` rows: a
person from the room's pool for every shift on the days it runs (its weekdays and its ``when``:
exam weeks may have shifts of their own), in turn or by fewest hours, none on the days the
room's ``skip`` rule names. Planning again changes only shifts that have not started and that
nobody has swapped, so a changed pool or file re-plans the future and never the past. Each
planned shift has two firings: a reminder to its holder before it starts (with "I can't make it")
and, at its end, the request for the work log (conversations/duty_log.yaml).

"I can't make it" offers the shift to the rest of the pool; the first to press "Take it" gets it
(a conditional update), every other offer card is rewritten, and the taker, the holder and the
room's owner are told. Nobody by ``escalate_hours`` before the start: the room's owner has it
(the pool may still take it until it starts); a shift nobody took asks nobody for a log.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec
from assistant.domain import ROLE_SCOPE, Actor, Language, ScopeKind, ShiftStatus
from assistant.flows.engine import Action, FlowContext, Refused, Submitted
from assistant.rules import Rules
from assistant.rules.duty import DutyRoom, Order
from assistant.schedule import Handler, Job, firings
from assistant.services import people
from assistant.services.kit import Kit, Names
from assistant.services.reminders import people_facts
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Building,
    Community,
    DutyLog,
    DutyShift,
    Firing,
    FiringStatus,
    FunctionalRoom,
    Person,
    Priority,
)
from assistant.texts import Texts, pick_language

log = logging.getLogger(__name__)

DUTY = CallbackCodec("dt", ("shift", "op"))
"""Buttons about a shift: only the shift and what was pressed; who may is decided here."""
CANT = "x"
TAKE = "t"
LOG = "l"
OPS = frozenset({CANT, TAKE, LOG})

HORIZON_WEEKS = 4
"""How far ahead the ``duty.plan`` job keeps shifts planned."""

REMIND, ASK_LOG, ESCALATE = "duty.remind", "duty.log", "duty.escalate"
# Shifts that still belong to their holder and count as hours on duty.
_HELD = (ShiftStatus.PLANNED, ShiftStatus.OFFERED, ShiftStatus.DONE)
# Shifts planning may still change: nobody asked anything of them yet.
_REPLANNABLE = (ShiftStatus.PLANNED, ShiftStatus.SKIPPED)
# Shifts the pool may still take.
_OPEN = (ShiftStatus.OFFERED, ShiftStatus.ESCALATED)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class Handling(enum.StrEnum):
    """What a press about a shift did."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    TOO_LATE = "too_late"
    TOO_EARLY = "too_early"


@dataclass(frozen=True)
class ShiftView:
    """A shift as messages and the roster show it (campus time)."""

    id: int
    code: str
    room_zh: str
    room_en: str
    day: date
    weekday: int
    start: str
    end: str
    holder: str | None
    number: str | None
    status: str
    hours: float
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Planned:
    """What one planning pass did, and the rooms of the file it could not plan."""

    changed: int
    unknown_rooms: tuple[str, ...]
    empty_pools: tuple[str, ...]


@dataclass(frozen=True)
class Hours:
    """One person's hours on duty: served (logged) and still planned."""

    name: str
    number: str
    served: float
    planned: float

    @property
    def total(self) -> float:
        """Served and planned together."""
        return self.served + self.planned


@dataclass(frozen=True)
class _Slot:
    room: FunctionalRoom
    spec: DutyRoom
    starts_at: datetime
    ends_at: datetime
    skipped: bool


def names(kit: Kit) -> Names:
    """The planning job, the three firing kinds and the work log's submit action."""
    duty = Duty(kit.rules, kit.texts, kit.default, kit.campus)
    return Names(
        actions={"duty.log": duty.file_log()},
        jobs={"duty.plan": duty.planner()},
        firings={REMIND: duty.remind(), ASK_LOG: duty.ask_log(), ESCALATE: duty.escalate()},
    )


class Duty:
    """Planning, swaps and work logs of the rooms of ``rules.duty``."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.campus = campus
        self._warned: set[str] = set()

    # --- planning --------------------------------------------------------------------------

    def planner(self) -> Job:
        """The job that keeps the next :data:`HORIZON_WEEKS` planned."""

        async def job(session: AsyncSession, now: datetime) -> int:
            return (await self.plan(session, now)).changed

        return job

    async def plan(
        self, session: AsyncSession, now: datetime, weeks: int = HORIZON_WEEKS
    ) -> Planned:
        """Plan every room's shifts from ``now`` for ``weeks`` weeks; see the module's doc."""
        end = now + timedelta(weeks=weeks)
        rooms = {
            room.code: room
            for room in await session.scalars(
                select(FunctionalRoom).where(FunctionalRoom.code.in_(list(self.rules.duty)))
            )
        }
        unknown = tuple(code for code in self.rules.duty if code not in rooms)
        if set(unknown) - self._warned:
            # Said once per room: the job runs every half minute.
            self._warned.update(unknown)
            log.warning("duty.yaml names rooms not in the directory: %s", ", ".join(unknown))
        pools = await self._pools(session, [self.rules.duty[code] for code in rooms])
        slots = self._slots(rooms, now, end)
        shifts = list(await session.scalars(select(DutyShift).order_by(DutyShift.starts_at)))
        planned_rooms = {room.id for room in rooms.values()}

        def replannable(shift: DutyShift) -> bool:
            return (
                now < shift.starts_at
                and shift.status in _REPLANNABLE
                and shift.swapped_from_person_id is None
                and (shift.room_id not in planned_rooms or shift.starts_at < end)
            )

        fixed = [s for s in shifts if not replannable(s)]
        held = {(s.room_id, s.starts_at) for s in fixed}
        wanted = self._choose(
            fixed, [s for s in slots if (s.room.id, s.starts_at) not in held], pools
        )
        changed = 0
        current = {(s.room_id, s.starts_at): s for s in shifts if replannable(s)}
        for key, (slot, person) in wanted.items():
            status = ShiftStatus.SKIPPED if slot.skipped else ShiftStatus.PLANNED
            shift = current.pop(key, None)
            if shift is None:
                changed += await self._insert(session, slot, person, status, now)
            elif (shift.person_id, shift.status, shift.ends_at) != (person, status, slot.ends_at):
                shift.person_id, shift.status, shift.ends_at = person, status, slot.ends_at
                shift.updated_at = now
                changed += 1
        if current:
            # Shifts no longer wanted: the file, the calendar or the pool changed.
            await session.execute(
                delete(DutyShift).where(DutyShift.id.in_([s.id for s in current.values()]))
            )
            changed += len(current)
        changed += await self._plan_firings(session, rooms, now, end)
        empty = tuple(code for code in rooms if not pools[code])
        return Planned(changed, unknown, empty)

    async def _pools(self, session: AsyncSession, specs: list[DutyRoom]) -> dict[str, list[int]]:
        """The active people of each room's pool, by person id."""
        ids = list(await session.scalars(select(Person.id).where(Person.active.is_(True))))
        facts = await people_facts(session, ids) if specs else {}
        # The job runs every half minute over everyone: a pool rule is asked once per kind of
        # person (people with the same facts), not once per person. On a generated campus of
        # 6,000 that is about a thousand times a room instead of 6,000, and the job's CPU
        # falls from about 250 to 140 ms.
        kinds: dict[tuple[Any, ...], dict[str, Any]] = {}
        kind_of: dict[int, tuple[Any, ...]] = {}
        for person in ids:
            kind = _kind_of_person(facts[person])
            kinds.setdefault(kind, facts[person])
            kind_of[person] = kind
        pools: dict[str, list[int]] = {}
        for spec in specs:
            admitted = {
                kind
                for kind, subject in kinds.items()
                if spec.admits({**subject, "room_kind": None})
            }
            pools[spec.room] = sorted(i for i in ids if kind_of[i] in admitted)
        return pools

    def _slots(self, rooms: dict[str, FunctionalRoom], now: datetime, end: datetime) -> list[_Slot]:
        """Every shift of every known room starting in (now, end), in time order."""
        slots: list[_Slot] = []
        day, last = now.astimezone(self.campus).date(), end.astimezone(self.campus).date()
        while day <= last:
            facts = people.day_facts(day, self.rules.calendar)
            for code, room in rooms.items():
                spec = self.rules.duty[code]
                todays = [s for s in spec.shifts if s.runs(facts)]
                skipped = bool(todays) and spec.skips(facts)
                for shift in todays:
                    starts_at = _at(day, shift.start, self.campus)
                    if now < starts_at < end:
                        ends_at = _at(day, shift.end, self.campus)
                        slots.append(_Slot(room, spec, starts_at, ends_at, skipped))
            day += timedelta(days=1)
        return sorted(slots, key=lambda s: (s.starts_at, s.room.code))

    def _choose(
        self, fixed: list[DutyShift], slots: list[_Slot], pools: dict[str, list[int]]
    ) -> dict[tuple[int, datetime], tuple[_Slot, int | None]]:
        """Who takes each slot: walking through time, fixed shifts and chosen ones alike add
        to each person's hours and move each room's rotation on."""
        hours: dict[int, float] = {}
        latest: dict[int, datetime] = {}
        rota: dict[int, int] = {}
        chosen: dict[tuple[int, datetime], tuple[_Slot, int | None]] = {}
        events: list[tuple[datetime, int, DutyShift | _Slot]] = [
            (s.starts_at, 0, s) for s in fixed
        ] + [(s.starts_at, 1, s) for s in slots]
        for starts_at, _, event in sorted(events, key=lambda e: (e[0], e[1])):
            if isinstance(event, DutyShift):
                person, room_id = event.person_id, event.room_id
                rostered = event.swapped_from_person_id or person
                if rostered is not None:
                    rota[room_id] = rostered
                if person is None or event.status not in _HELD:
                    continue
                length = event.ends_at - event.starts_at
            else:
                pool = pools[event.spec.room]
                if event.skipped or not pool:
                    # An empty pool plans nothing; `assistant duty plan` says so.
                    if event.skipped:
                        chosen[(event.room.id, starts_at)] = (event, None)
                    continue
                if event.spec.order is Order.FAIR:
                    person = min(
                        pool, key=lambda p: (hours.get(p, 0.0), latest.get(p, _EARLIEST), p)
                    )
                else:
                    before = rota.get(event.room.id)
                    later = [p for p in pool if before is not None and p > before]
                    person = later[0] if later else pool[0]
                rota[event.room.id] = person
                chosen[(event.room.id, starts_at)] = (event, person)
                length = event.ends_at - event.starts_at
            hours[person] = hours.get(person, 0.0) + length.total_seconds() / 3600
            latest[person] = starts_at
        return chosen

    async def _insert(
        self,
        session: AsyncSession,
        slot: _Slot,
        person: int | None,
        status: ShiftStatus,
        now: datetime,
    ) -> int:
        """Store a new shift; another planner storing it first is no error."""
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(DutyShift)
            .values(
                room_id=slot.room.id,
                person_id=person,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                status=status,
                planned_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["room_id", "starts_at"])
            .returning(DutyShift.id)
        )
        return len((await session.scalars(statement)).all())

    async def _plan_firings(
        self, session: AsyncSession, rooms: dict[str, FunctionalRoom], now: datetime, end: datetime
    ) -> int:
        """The reminder and work-log firings of every held shift in (now, end); pending ones of
        shifts that changed or went are removed."""
        by_id = {room.id: self.rules.duty[code] for code, room in rooms.items()}
        shifts = await session.scalars(
            select(DutyShift).where(
                DutyShift.room_id.in_(list(by_id)),
                DutyShift.starts_at > now,
                DutyShift.starts_at < end,
                DutyShift.status != ShiftStatus.SKIPPED,
                DutyShift.person_id.is_not(None),
            )
        )
        wanted: dict[str, dict[str, Any]] = {}
        for shift in shifts:
            remind_at = shift.starts_at - by_id[shift.room_id].remind
            for kind, due in ((REMIND, remind_at), (ASK_LOG, shift.ends_at)):
                key = f"duty:{shift.id}:{kind.split('.')[1]}:{_minute(due)}"
                wanted[key] = {
                    "key": key,
                    "kind": kind,
                    "due_at": due,
                    "payload": {"shift": shift.id},
                }
        planned = await session.scalars(
            select(Firing.key).where(
                Firing.kind.in_([REMIND, ASK_LOG]),
                Firing.status == FiringStatus.PENDING,
                Firing.due_at > now,
                # A shift starting before `end` ends within a day of it.
                Firing.due_at < end + timedelta(days=1),
            )
        )
        stale = [key for key in planned if key not in wanted]
        if stale:
            await session.execute(delete(Firing).where(Firing.key.in_(stale)))
        return await firings.plan(session, wanted.values(), now=now) + len(stale)

    # --- what people and operators see -----------------------------------------------------

    async def roster(
        self,
        session: AsyncSession,
        since: datetime,
        until: datetime,
        room: str | None = None,
        person: int | None = None,
    ) -> list[ShiftView]:
        """The shifts starting in [since, until), of one room or all, held by one person or
        anyone, in time order."""
        query = (
            select(DutyShift, FunctionalRoom, Person)
            .join(FunctionalRoom, FunctionalRoom.id == DutyShift.room_id)
            .outerjoin(Person, Person.id == DutyShift.person_id)
            .where(DutyShift.starts_at >= since, DutyShift.starts_at < until)
            .order_by(DutyShift.starts_at, FunctionalRoom.code)
        )
        if room is not None:
            query = query.where(FunctionalRoom.code == room)
        if person is not None:
            query = query.where(DutyShift.person_id == person)
        return [self._view(*row) for row in await session.execute(query)]

    async def fairness(self, session: AsyncSession) -> list[Hours]:
        """Hours on duty per person who ever held a shift or is in a pool now, most first."""
        rows = await session.execute(
            select(
                DutyShift.person_id, DutyShift.status, DutyShift.starts_at, DutyShift.ends_at
            ).where(DutyShift.person_id.is_not(None), DutyShift.status.in_(_HELD))
        )
        served: dict[int, float] = {}
        planned: dict[int, float] = {}
        for person, status, starts_at, ends_at in rows:
            assert person is not None
            hours = (ends_at - starts_at).total_seconds() / 3600
            into = served if status is ShiftStatus.DONE else planned
            into[person] = into.get(person, 0.0) + hours
        rooms = list(
            await session.scalars(
                select(FunctionalRoom.code).where(FunctionalRoom.code.in_(list(self.rules.duty)))
            )
        )
        pools = await self._pools(session, [self.rules.duty[code] for code in rooms])
        ids = {*served, *planned, *(p for pool in pools.values() for p in pool)}
        found = await session.execute(
            select(Person.id, Person.name, Person.number).where(Person.id.in_(ids))
        )
        table = [
            Hours(name, number, served.get(person, 0.0), planned.get(person, 0.0))
            for person, name, number in found
        ]
        return sorted(table, key=lambda h: (-h.total, h.number))

    def _view(self, shift: DutyShift, room: FunctionalRoom, person: Person | None) -> ShiftView:
        starts, ends = (
            shift.starts_at.astimezone(self.campus),
            shift.ends_at.astimezone(self.campus),
        )
        return ShiftView(
            id=shift.id,
            code=room.code,
            room_zh=room.name_zh,
            room_en=room.name_en,
            day=starts.date(),
            weekday=starts.isoweekday(),
            start=f"{starts:%H:%M}",
            end=f"{ends:%H:%M}",
            holder=person.name if person else None,
            number=person.number if person else None,
            status=str(shift.status),
            hours=(shift.ends_at - shift.starts_at).total_seconds() / 3600,
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
        )

    async def _load(
        self, session: AsyncSession, shift_id: int, *, lock: bool = False
    ) -> tuple[DutyShift, FunctionalRoom, DutyRoom] | None:
        """The shift, its room, and the room's duty as the file says now."""
        shift = await session.get(DutyShift, shift_id, with_for_update=lock)
        if shift is None:
            return None
        room = await session.get(FunctionalRoom, shift.room_id)
        assert room is not None
        spec = self.rules.duty.get(room.code)
        return (shift, room, spec) if spec is not None else None

    async def view(self, session: AsyncSession, shift: DutyShift) -> ShiftView:
        """How messages show ``shift``."""
        room = await session.get(FunctionalRoom, shift.room_id)
        person = await session.get(Person, shift.person_id) if shift.person_id else None
        assert room is not None
        return self._view(shift, room, person)

    # --- firings ---------------------------------------------------------------------------

    def remind(self) -> Handler:
        """Before a shift: its holder is reminded, with "I can't make it"."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                found = await self._load(session, int(firing.payload["shift"]))
                if found is None:
                    continue
                shift = found[0]
                # Late after a restart is still worth it until the shift starts.
                if shift.status is not ShiftStatus.PLANNED or shift.person_id is None:
                    continue
                if now >= shift.starts_at:
                    continue
                await self._tell(
                    session, shift.person_id, "duty_remind", now, shift, buttons=[CANT]
                )

        return fire

    def ask_log(self) -> Handler:
        """At a shift's end: its holder is asked for the work log."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                found = await self._load(session, int(firing.payload["shift"]))
                if found is None:
                    continue
                shift = found[0]
                if shift.status is not ShiftStatus.PLANNED or shift.person_id is None:
                    continue
                await self._tell(
                    session, shift.person_id, "duty_log_ask", now, shift, buttons=[LOG]
                )

        return fire

    def escalate(self) -> Handler:
        """An offered shift nobody took in time goes to the room's owner."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                found = await self._load(session, int(firing.payload["shift"]), lock=True)
                if found is not None and found[0].status is ShiftStatus.OFFERED:
                    await self._escalate(session, *found, now)

        return fire

    async def _escalate(
        self,
        session: AsyncSession,
        shift: DutyShift,
        room: FunctionalRoom,
        spec: DutyRoom,
        now: datetime,
    ) -> None:
        """The owner has the shift now; the pool may still take it until it starts."""
        shift.status, shift.updated_at = ShiftStatus.ESCALATED, now
        session.add(
            AuditEntry(
                at=now, actor_person_id=None, action="duty.escalated", detail={"shift": shift.id}
            )
        )
        owners = await self._owners(session, room, spec)
        owner_names = [owner.name for owner in owners]
        for owner in owners:
            await self._tell(session, owner.person_id, "duty_escalated_owner", now, shift)
        if shift.person_id is not None:
            await self._tell(
                session, shift.person_id, "duty_escalated_holder", now, shift, owners=owner_names
            )
        await self._refresh_offers(session, shift, now)

    # --- swaps -----------------------------------------------------------------------------

    async def cant_make_it(
        self, session: AsyncSession, actor: Actor, shift_id: int, now: datetime
    ) -> Handling:
        """The holder can't make it: the shift is offered to the rest of the pool (or, inside
        the room's ``escalate_hours``, goes to its owner at once)."""
        found = await self._load(session, shift_id, lock=True)
        if found is None:
            return Handling.ALREADY
        shift, room, spec = found
        if shift.person_id != actor.person_id:
            self._refused(session, actor, shift_id, CANT, now)
            return Handling.NOT_ALLOWED
        if now >= shift.starts_at:
            return Handling.TOO_LATE
        if shift.status is not ShiftStatus.PLANNED:
            return Handling.ALREADY
        shift.status, shift.updated_at = ShiftStatus.OFFERED, now
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="duty.offered",
                detail={"shift": shift.id},
            )
        )
        pool = (await self._pools(session, [spec]))[spec.room]
        view = await self.view(session, shift)
        for person in pool:
            if person == actor.person_id:
                continue
            account = await repo.account_of(session, person)
            if account is None or account.unreachable_since is not None:
                continue
            language = pick_language(account.language, self.default)
            outbox.enqueue(
                session,
                account.telegram_user_id,
                "sendMessage",
                self._offer(language, shift, view),
                priority=Priority.BULK,
                now=now,
                ref=f"duty:{shift.id}:offer",
            )
        deadline = shift.starts_at - spec.escalate
        if now >= deadline:
            await self._escalate(session, shift, room, spec, now)
            return Handling.DONE
        await firings.plan(
            session,
            [
                {
                    "key": f"duty:{shift.id}:escalate:{_minute(now)}",
                    "kind": ESCALATE,
                    "due_at": deadline,
                    "payload": {"shift": shift.id},
                }
            ],
            now=now,
        )
        await self._tell(session, actor.person_id, "duty_offered", now, shift)
        return Handling.DONE

    async def take(
        self, session: AsyncSession, actor: Actor, shift_id: int, now: datetime
    ) -> Handling:
        """Someone of the pool takes an offered shift; the first to press wins."""
        found = await self._load(session, shift_id)
        if found is None:
            return Handling.ALREADY
        shift, room, spec = found
        holder = shift.person_id
        facts = await people_facts(session, [actor.person_id])
        if holder == actor.person_id or not spec.admits(
            {**facts[actor.person_id], "room_kind": None}
        ):
            self._refused(session, actor, shift_id, TAKE, now)
            return Handling.NOT_ALLOWED
        if now >= shift.starts_at:
            return Handling.TOO_LATE
        taken = await session.scalar(
            update(DutyShift)
            .where(
                DutyShift.id == shift_id,
                DutyShift.status.in_(_OPEN),
                DutyShift.person_id == holder,
                DutyShift.starts_at > now,
            )
            .values(
                person_id=actor.person_id,
                swapped_from_person_id=holder,
                status=ShiftStatus.PLANNED,
                updated_at=now,
            )
            .returning(DutyShift.id)
            .execution_options(synchronize_session=False)
        )
        if taken is None:
            return Handling.ALREADY
        await session.refresh(shift)
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="duty.taken",
                detail={"shift": shift.id, "from": holder},
            )
        )
        await session.execute(
            delete(Firing).where(
                Firing.kind == ESCALATE,
                Firing.status == FiringStatus.PENDING,
                Firing.key.startswith(f"duty:{shift.id}:escalate:"),
            )
        )
        await self._refresh_offers(session, shift, now, taker=actor.name)
        await self._tell(session, actor.person_id, "duty_taken", now, shift)
        before = await session.get(Person, holder) if holder is not None else None
        told = {actor.person_id}
        others = [holder] if holder is not None else []
        others += [owner.person_id for owner in await self._owners(session, room, spec)]
        for person in others:
            if person not in told:
                told.add(person)
                await self._tell(
                    session,
                    person,
                    "duty_swapped",
                    now,
                    shift,
                    taker=actor.name,
                    before=before.name if before else None,
                )
        return Handling.DONE

    def _refused(
        self, session: AsyncSession, actor: Actor, shift_id: int, op: str, now: datetime
    ) -> None:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="duty.refused",
                detail={"shift": shift_id, "op": op},
            )
        )

    # --- the work log ----------------------------------------------------------------------

    async def log_preset(
        self, session: AsyncSession, actor: Actor, shift_id: int, now: datetime
    ) -> tuple[Handling, dict[str, Any]]:
        """Whether ``actor`` may write the log of the shift now, and what the conversation is
        given (the shift, its room and time)."""
        found = await self._load(session, shift_id)
        if found is None:
            return Handling.ALREADY, {}
        shift = found[0]
        if shift.person_id != actor.person_id:
            self._refused(session, actor, shift_id, LOG, now)
            return Handling.NOT_ALLOWED, {}
        if shift.status is not ShiftStatus.PLANNED:
            return Handling.ALREADY, {}
        if now < shift.starts_at:
            return Handling.TOO_EARLY, {}
        view = await self.view(session, shift)
        return Handling.DONE, {
            "shift": shift.id,
            "room_zh": view.room_zh,
            "room_en": view.room_en,
            # Answers are stored as JSON: the moment as ISO, shown by the ``day_time`` filter.
            "starts": view.starts_at.isoformat(),
            "end": view.end,
        }

    def file_log(self) -> Action:
        """``duty.log``: store the work log of the holder's shift; the shift is done."""

        async def submit(context: FlowContext) -> Submitted:
            session, actor, answers = context.session, context.actor, context.answers
            handling, _ = await self.log_preset(session, actor, int(answers["shift"]), context.now)
            if handling is not Handling.DONE:
                raise Refused(f"duty_log_{handling}")
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            issues = answers.get("issues")
            stored = await session.scalar(
                insert(DutyLog)
                .values(
                    shift_id=int(answers["shift"]),
                    person_id=actor.person_id,
                    attendance=int(answers["attendance"]),
                    happened=str(answers["happened"]),
                    issues=str(issues) if issues else None,
                    created_at=context.now,
                )
                .on_conflict_do_nothing(index_elements=["shift_id"])
                .returning(DutyLog.id)
            )
            if stored is None:
                raise Refused("duty_log_already")
            await session.execute(
                update(DutyShift)
                .where(DutyShift.id == int(answers["shift"]))
                .values(status=ShiftStatus.DONE, updated_at=context.now)
                .execution_options(synchronize_session=False)
            )
            return Submitted("duty_logged", {"report": bool(answers.get("grid_issue"))})

        return submit

    # --- messages --------------------------------------------------------------------------

    async def _owners(
        self, session: AsyncSession, room: FunctionalRoom, spec: DutyRoom
    ) -> list[repo.Holder]:
        """The people holding the room's owner role over it."""
        kind = ROLE_SCOPE[spec.owner]
        building = await session.get(Building, room.building_id) if room.building_id else None
        scope: int | None = None
        if kind is ScopeKind.SCHOOL:
            scope = 0
        elif kind is ScopeKind.BUILDING and building is not None:
            scope = building.id
        elif kind is ScopeKind.COMMUNITY and building is not None:
            scope = building.community_id
        elif kind is ScopeKind.COLLEGE:
            community = await session.get(Community, building.community_id) if building else None
            scope = room.college_id or (community.college_id if community else None)
        if scope is None:
            return []
        return await repo.holders(session, [(spec.owner, kind, scope)])

    async def _tell(
        self,
        session: AsyncSession,
        person: int,
        template: str,
        now: datetime,
        shift: DutyShift,
        *,
        buttons: Sequence[str] = (),
        **variables: Any,
    ) -> None:
        """Queue ``template`` about ``shift`` to ``person``, if they can be reached."""
        account = await repo.account_of(session, person)
        if account is None or account.unreachable_since is not None:
            return
        language = pick_language(account.language, self.default)
        view = await self.view(session, shift)
        payload: dict[str, Any] = {
            "text": self.texts.render(language, template, shift=view, **variables),
            "parse_mode": "HTML",
        }
        if buttons:
            payload["reply_markup"] = self._keyboard(language, shift.id, buttons)
        outbox.enqueue(
            session,
            account.telegram_user_id,
            "sendMessage",
            payload,
            priority=Priority.BULK,
            now=now,
        )

    def _keyboard(self, language: Language, shift_id: int, ops: Sequence[str]) -> dict[str, Any]:
        return {
            "inline_keyboard": [
                [
                    {
                        "text": self.texts.render(language, f"duty_button_{op}"),
                        "callback_data": DUTY.pack(shift=shift_id, op=op),
                    }
                ]
                for op in ops
            ]
        }

    def _offer(
        self, language: Language, shift: DutyShift, view: ShiftView, taker: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "text": self.texts.render(
                language, "duty_offer", shift=view, open=shift.status in _OPEN, taker=taker
            ),
            "parse_mode": "HTML",
        }
        if shift.status in _OPEN:
            payload["reply_markup"] = self._keyboard(language, shift.id, [TAKE])
        return payload

    async def _refresh_offers(
        self, session: AsyncSession, shift: DutyShift, now: datetime, taker: str | None = None
    ) -> None:
        """Bring every offer card of ``shift`` up to date: waiting ones rewritten, sent ones
        edited."""
        view = await self.view(session, shift)
        for row in await outbox.by_ref(session, f"duty:{shift.id}:offer"):
            language = pick_language(await repo.language_of(session, row.chat_id), self.default)
            payload = self._offer(language, shift, view, taker)
            outbox.rewrite(session, row, payload, now=now)


def _at(day: date, clock: time, zone: tzinfo) -> datetime:
    return datetime.combine(day, clock, zone).astimezone(UTC)


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="minutes")


def _kind_of_person(facts: dict[str, Any]) -> tuple[Any, ...]:
    """The facts of ``people_facts`` as a key: people with equal keys answer rules alike.
    A pool rule cannot ask the graduation year (only reminders may), so it makes no kind."""
    return tuple(
        (name, tuple(value) if isinstance(value, list) else value)
        for name, value in sorted(facts.items())
        if name != "graduation_year"
    )
