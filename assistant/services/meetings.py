"""The meeting system (会议制度, §七(一)): meetings called, reminded of, and their minutes.

The coordination group meets twice a semester; its two standing meetings are reminded of by
rules/reminders.yaml. Each college runs meetings at each level of its working structure: the
community's workstation (学院社区党建工作站), its building sub-stations (社区楼工作分站) and each
building's party-building centre (楼栋党建工作中心). Their heads call them with /meeting
(conversations/call_meeting.yaml), the Organisation Department the coordination group's: who
may is the access rule ``meeting.call``, and which unit the service checks against the caller's
own posts (:data:`HEADS`). Everyone asked (:func:`attendees`) hears of it at once and again the
day before (but for a coordination group meeting the rules already remind the group of), and
the caller is asked for the minutes after it: who came, what was decided, the problems found
(/minutes, conversations/meeting_minutes.yaml; ``meeting.record``). The coordination group
reads every unit's minutes with /meetings (``meeting.read``); each is checked on the server.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.callbacks import CallbackCodec
from assistant.domain import (
    GROUP_ROLES,
    SCHOOL_SCOPE_ID,
    Actor,
    Language,
    Role,
    RoleGroup,
    ScopeKind,
    Thing,
    reference,
)
from assistant.flows.engine import FlowContext, Refused, Submitted
from assistant.flows.spec import Option
from assistant.rules import Rules
from assistant.schedule import Handler, firings
from assistant.services import people
from assistant.services.kit import Kit, Names
from assistant.storage import outbox, repo
from assistant.storage.models import (
    AuditEntry,
    Building,
    Community,
    Firing,
    Floor,
    GridCell,
    Meeting,
    Person,
    Priority,
    Substation,
)
from assistant.texts import Texts, pick_language

MEETING = CallbackCodec("mt", ("meeting",))
"""The "Record the minutes" button: only the meeting; who may is decided on the server."""

REMIND, ASK_MINUTES = "meeting.remind", "meeting.minutes"
REMIND_BEFORE = timedelta(days=1)
"""When the people asked are reminded of a meeting."""
MINUTES_AFTER = timedelta(hours=2)
"""When, after a meeting starts, its caller is asked for the minutes."""
WINDOW_DAYS = 90
"""How far ahead a meeting may be called."""
LIST_LIMIT = 10
"""The most minutes /meetings lists at once."""

HEADS: dict[ScopeKind, Role] = {
    # 党委组织部 leads the coordination group (GROUP_ROLES lists it first).
    ScopeKind.SCHOOL: GROUP_ROLES[RoleGroup.COORDINATION_GROUP][0],
    ScopeKind.COMMUNITY: Role.WORKSTATION_HEAD,
    ScopeKind.SUBSTATION: Role.SUBSTATION_HEAD,
    ScopeKind.BUILDING: Role.CENTRE_HEAD,
}
"""Who calls the meetings of each level, held over the unit the meeting is of."""

_CLOCK = re.compile(r"\s*([01]?\d|2[0-3])\s*[:：.]\s*([0-5]\d)\s*")


class Handling(enum.StrEnum):
    """What a press of "Record the minutes" found."""

    DONE = "done"
    NOT_ALLOWED = "not_allowed"
    ALREADY = "already"
    TOO_EARLY = "too_early"


@dataclass(frozen=True)
class Unit:
    """What a meeting is of: a scope kind and id, and the unit's names (none for the school)."""

    kind: ScopeKind
    id: int
    zh: str = ""
    en: str = ""

    @property
    def value(self) -> str:
        """The unit as a conversation's answer: ``community:3``."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class MeetingView:
    """A meeting as messages show it: campus day and time, its unit, and its minutes."""

    id: int
    reference: str
    unit: Unit
    topic: str
    place: str
    # On the campus clock; templates show it with the ``day_time`` filter.
    starts: datetime
    called_by: str
    attendees: str | None
    decisions: str | None
    problems: str | None
    minutes_by: str | None


@dataclass(frozen=True)
class Listing:
    """What /meetings shows: whether the asker may read minutes, and the ones to show."""

    allowed: bool
    reason: str = ""
    meetings: tuple[MeetingView, ...] = ()
    total: int = 0


def names(kit: Kit) -> Names:
    """The providers, checks and actions of call_meeting.yaml and meeting_minutes.yaml, and
    the two firing kinds."""
    meetings = Meetings(kit.rules, kit.texts, kit.default, kit.campus)
    return Names(
        providers={
            "meeting.units": meetings.unit_options,
            "meeting.awaiting_minutes": meetings.awaiting_options,
        },
        checks={
            "meeting.not_past": meetings.not_past,
            "meeting.in_window": meetings.in_window,
            "meeting.clock": meetings.clock_ahead,
        },
        start_checks={
            "meeting.heads_a_unit": meetings.heads_a_unit,
            "meeting.minutes_awaited": meetings.minutes_awaited,
        },
        actions={"meeting.call": meetings.call, "meeting.record": meetings.record},
        facts={"meeting.facts": meetings.facts},
        firings={REMIND: meetings.remind(), ASK_MINUTES: meetings.ask_minutes()},
    )


def parse_clock(text: object) -> time | None:
    """A time of day as people type it: 14:30, 9:00, 14：30 (a full-width colon)."""
    match = _CLOCK.fullmatch(str(text))
    return time(int(match[1]), int(match[2])) if match else None


def meeting_number(text: str) -> int | None:
    """The meeting ``M-3`` (or ``3``) names, as typed after /meetings."""
    match = re.fullmatch(r"\s*(?:[Mm]\s*-\s*)?(\d{1,9})\s*", text)
    return int(match[1]) if match else None


class Meetings:
    """Calls meetings, reminds of them, records and lists their minutes."""

    def __init__(self, rules: Rules, texts: Texts, default: Language, campus: tzinfo) -> None:
        self.rules = rules
        self.texts = texts
        self.default = default
        self.campus = campus

    # --- who heads what, and who is asked ----------------------------------------------------

    def headed(self, actor: Actor) -> list[tuple[ScopeKind, int]]:
        """The units whose meetings ``actor`` calls, by their posts."""
        return [
            (grant.scope_kind, grant.scope_id)
            for grant in actor.grants
            if HEADS.get(grant.scope_kind) is grant.role
        ]

    def _allowed(self, action: str, actor: Actor) -> bool:
        return self.rules.allowed(action, people.rule_subject(actor)).outcome.allowed

    async def unit(self, session: AsyncSession, kind: ScopeKind, unit_id: int) -> Unit | None:
        """The unit a meeting is of, with its names; None if there is no such unit."""
        if kind is ScopeKind.SCHOOL:
            return Unit(kind, SCHOOL_SCOPE_ID) if unit_id == SCHOOL_SCOPE_ID else None
        row: Community | Substation | Building | None = None
        if kind is ScopeKind.COMMUNITY:
            row = await session.get(Community, unit_id)
        elif kind is ScopeKind.SUBSTATION:
            row = await session.get(Substation, unit_id)
        elif kind is ScopeKind.BUILDING:
            row = await session.get(Building, unit_id)
        return Unit(kind, unit_id, row.name_zh, row.name_en) if row is not None else None

    async def attendees(self, session: AsyncSession, kind: ScopeKind, unit_id: int) -> list[int]:
        """The people asked to a meeting of the unit, by person id: the coordination group's
        offices; a workstation's head, counsellors, committee secretary and the heads of its
        sub-stations and building centres; a sub-station's head and its buildings' centre
        heads, building managers and building leaders; a building centre's head, the
        building's manager and leader, its floor leaders and its grids' party members."""
        wanted: list[tuple[Role, ScopeKind, int]] = []
        if kind is ScopeKind.SCHOOL:
            group = GROUP_ROLES[RoleGroup.COORDINATION_GROUP]
            wanted = [(role, kind, SCHOOL_SCOPE_ID) for role in group]
        elif kind is ScopeKind.COMMUNITY:
            wanted = [
                (role, kind, unit_id)
                for role in (Role.WORKSTATION_HEAD, Role.COUNSELLOR, Role.COMMITTEE_SECRETARY)
            ]
            stations = await session.scalars(
                select(Substation.id).where(Substation.community_id == unit_id)
            )
            wanted += [(Role.SUBSTATION_HEAD, ScopeKind.SUBSTATION, s) for s in stations]
            buildings = await session.scalars(
                select(Building.id).where(Building.community_id == unit_id)
            )
            wanted += [(Role.CENTRE_HEAD, ScopeKind.BUILDING, b) for b in buildings]
        elif kind is ScopeKind.SUBSTATION:
            wanted = [(Role.SUBSTATION_HEAD, kind, unit_id)]
            buildings = await session.scalars(
                select(Building.id).where(Building.substation_id == unit_id)
            )
            wanted += [
                (role, ScopeKind.BUILDING, b)
                for b in buildings
                for role in (Role.CENTRE_HEAD, Role.BUILDING_MANAGER, Role.BUILDING_LEADER)
            ]
        elif kind is ScopeKind.BUILDING:
            wanted = [
                (role, kind, unit_id)
                for role in (Role.CENTRE_HEAD, Role.BUILDING_MANAGER, Role.BUILDING_LEADER)
            ]
            floors = await session.scalars(select(Floor.id).where(Floor.building_id == unit_id))
            wanted += [(Role.FLOOR_LEADER, ScopeKind.FLOOR, f) for f in floors]
            grids = await session.scalars(
                select(GridCell.id).where(GridCell.building_id == unit_id)
            )
            wanted += [
                (role, ScopeKind.GRID, g)
                for g in grids
                for role in (Role.GRID_GROUP_LEADER, Role.GRID_PARTY_MEMBER)
            ]
        found = await repo.holders(session, wanted)
        return list(dict.fromkeys(holder.person_id for holder in found))

    # --- calling a meeting -------------------------------------------------------------------

    def unit_label(self, unit: Unit, language: Language) -> str:
        """The unit as a choice shows it ("第一社区党建工作站")."""
        return self.texts.render(language, "meeting_unit", unit=unit)

    async def _units(self, session: AsyncSession, actor: Actor) -> list[Unit]:
        found = [await self.unit(session, kind, unit_id) for kind, unit_id in self.headed(actor)]
        return [unit for unit in found if unit is not None]

    async def unit_options(self, context: FlowContext) -> list[Option]:
        """``meeting.units``: the units whose meetings the person calls."""
        return [
            Option(
                unit.value,
                {language: self.unit_label(unit, language) for language in self.texts.languages()},
            )
            for unit in await self._units(context.session, context.actor)
        ]

    async def heads_a_unit(self, context: FlowContext) -> None:
        """``meeting.heads_a_unit``: refuse at once someone who heads no unit."""
        if not await self._units(context.session, context.actor):
            raise Refused("meeting_no_unit")

    def _today(self, now: datetime) -> date:
        return now.astimezone(self.campus).date()

    async def not_past(self, context: FlowContext, value: Any) -> bool:
        """``meeting.not_past``: the day is today or later."""
        day = _day(value)
        return day is not None and day >= self._today(context.now)

    async def in_window(self, context: FlowContext, value: Any) -> bool:
        """``meeting.in_window``: the day is no more than :data:`WINDOW_DAYS` ahead."""
        day = _day(value)
        return day is not None and day <= self._today(context.now) + timedelta(days=WINDOW_DAYS)

    def _starts(self, answers: Any) -> datetime | None:
        day, clock = _day(answers.get("date")), parse_clock(answers.get("time", ""))
        if day is None or clock is None:
            return None
        return datetime.combine(day, clock, self.campus).astimezone(UTC)

    async def clock_ahead(self, context: FlowContext, value: Any) -> bool:
        """``meeting.clock``: a time of day, and the meeting then is still ahead."""
        starts = self._starts({**context.answers, "time": value})
        return starts is not None and starts > context.now

    async def call(self, context: FlowContext) -> Submitted:
        """``meeting.call``: store the meeting, tell everyone asked, plan its reminder and the
        request for its minutes; all checked again here, whatever the conversation showed."""
        session, actor, answers, now = context.session, context.actor, context.answers, context.now
        if not self._allowed("meeting.call", actor):
            raise Refused("meeting_not_allowed")
        unit = await self._chosen_unit(session, actor, answers.get("unit"))
        if unit is None:
            raise Refused("meeting_not_allowed")
        starts = self._starts(answers)
        if starts is None or starts <= now:
            raise Refused("meeting_past")
        meeting = Meeting(
            scope_kind=unit.kind,
            scope_id=unit.id,
            topic=str(answers["topic"]),
            place=str(answers["place"]),
            starts_at=starts,
            called_by_person_id=actor.person_id,
            created_at=now,
        )
        session.add(meeting)
        await session.flush()
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="meeting.called",
                detail={"meeting": meeting.id, "scope": unit.value},
            )
        )
        everyone = await self.attendees(session, unit.kind, unit.id)
        asked = [person for person in everyone if person != actor.person_id]
        view = await self.view(session, meeting)
        told = await self._tell(session, asked, "meeting_notice", now, meeting=view)
        planned = [
            {
                "key": f"mt:{meeting.id}:minutes",
                "kind": ASK_MINUTES,
                "due_at": starts + MINUTES_AFTER,
                "payload": {"meeting": meeting.id},
            }
        ]
        if starts - REMIND_BEFORE > now and not self._reminded_by_rules(unit, starts):
            planned.append(
                {
                    "key": f"mt:{meeting.id}:remind",
                    "kind": REMIND,
                    "due_at": starts - REMIND_BEFORE,
                    "payload": {"meeting": meeting.id},
                }
            )
        await firings.plan(session, planned, now=now)
        return Submitted("meeting_called", {"meeting": view, "told": told})

    async def _chosen_unit(self, session: AsyncSession, actor: Actor, value: object) -> Unit | None:
        """The unit of ``value`` (``community:3``), if ``actor`` calls its meetings."""
        kind_text, _, id_text = str(value).partition(":")
        if kind_text not in {kind.value for kind in HEADS} or not id_text.isdigit():
            return None
        kind, unit_id = ScopeKind(kind_text), int(id_text)
        if (kind, unit_id) not in self.headed(actor):
            return None
        return await self.unit(session, kind, unit_id)

    def _reminded_by_rules(self, unit: Unit, starts: datetime) -> bool:
        """Whether rules/reminders.yaml already reminds the coordination group of a meeting at
        ``starts`` (its two standing meetings): then a second reminder would only repeat it."""
        if unit.kind is not ScopeKind.SCHOOL:
            return False
        group = set(GROUP_ROLES[RoleGroup.COORDINATION_GROUP])
        end = starts + timedelta(minutes=1)
        return any(
            event == starts
            for reminder in self.rules.reminders.values()
            if group <= set(reminder.roles) and reminder.when is None
            for _, event in reminder.occasions(
                self.rules.calendar, starts - timedelta(days=61), end, self.campus
            )
        )

    # --- reminders and the request for minutes -----------------------------------------------

    def remind(self) -> Handler:
        """The day before: everyone asked (as the unit stands now) hears of it again."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                meeting = await session.get(Meeting, int(firing.payload["meeting"]))
                if meeting is None:
                    continue
                asked = await self.attendees(session, meeting.scope_kind, meeting.scope_id)
                view = await self.view(session, meeting)
                await self._tell(session, asked, "meeting_remind", now, meeting=view)

        return fire

    def ask_minutes(self) -> Handler:
        """After the meeting: its caller is asked for the minutes, with a button."""

        async def fire(session: AsyncSession, due: Sequence[Firing], now: datetime) -> None:
            for firing in due:
                meeting = await session.get(Meeting, int(firing.payload["meeting"]))
                if meeting is None or meeting.minutes_at is not None:
                    continue
                view = await self.view(session, meeting)
                await self._tell(
                    session,
                    [meeting.called_by_person_id],
                    "meeting_minutes_ask",
                    now,
                    button=meeting.id,
                    meeting=view,
                )

        return fire

    # --- the minutes ---------------------------------------------------------------------------

    def may_record(self, actor: Actor, meeting: Meeting) -> bool:
        """Whether ``actor`` records the minutes: its caller, or whoever heads its unit now,
        if the access rules let them record minutes at all."""
        mine = meeting.called_by_person_id == actor.person_id or (
            (meeting.scope_kind, meeting.scope_id) in self.headed(actor)
        )
        return mine and self._allowed("meeting.record", actor)

    async def _awaiting(self, session: AsyncSession, actor: Actor, now: datetime) -> list[Meeting]:
        """The meetings that began and whose minutes ``actor`` may still record."""
        units = self.headed(actor)
        rows = await session.scalars(
            select(Meeting)
            .where(Meeting.minutes_at.is_(None), Meeting.starts_at <= now)
            .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        )
        return [
            meeting
            for meeting in rows
            if meeting.called_by_person_id == actor.person_id
            or (meeting.scope_kind, meeting.scope_id) in units
        ]

    async def awaiting_options(self, context: FlowContext) -> list[Option]:
        """``meeting.awaiting_minutes``: the meetings whose minutes the person may record."""
        options = []
        for meeting in await self._awaiting(context.session, context.actor, context.now):
            view = await self.view(context.session, meeting)
            options.append(
                Option(
                    str(meeting.id),
                    {
                        language: self.texts.render(language, "meeting_option", meeting=view)
                        for language in self.texts.languages()
                    },
                )
            )
        return options

    async def minutes_awaited(self, context: FlowContext) -> None:
        """``meeting.minutes_awaited``: refuse at once when no minutes are the person's to
        record (a meeting the button started the conversation for is checked on submit)."""
        if "meeting" in context.answers:
            return
        if not await self._awaiting(context.session, context.actor, context.now):
            raise Refused("meeting_none_awaiting")

    async def minutes_preset(
        self, session: AsyncSession, actor: Actor, meeting_id: int, now: datetime
    ) -> tuple[Handling, dict[str, Any]]:
        """Whether ``actor`` may record the minutes of the meeting now (the button), and what
        the conversation is given."""
        meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            return Handling.ALREADY, {}
        if not self.may_record(actor, meeting):
            self._refused(session, actor, meeting_id, now)
            return Handling.NOT_ALLOWED, {}
        if meeting.minutes_at is not None:
            return Handling.ALREADY, {}
        if now < meeting.starts_at:
            return Handling.TOO_EARLY, {}
        return Handling.DONE, {"meeting": str(meeting.id)}

    async def facts(self, context: FlowContext) -> dict[str, Any]:
        """``meeting.facts``: the meeting chosen (or pressed for), for the questions to name."""
        number = meeting_number(str(context.answers.get("meeting", "")))
        meeting = await context.session.get(Meeting, number) if number else None
        return {"meeting": await self.view(context.session, meeting) if meeting else None}

    async def record(self, context: FlowContext) -> Submitted:
        """``meeting.record``: store the minutes, once; checked again in full."""
        session, actor, answers, now = context.session, context.actor, context.answers, context.now
        number = meeting_number(str(answers.get("meeting", "")))
        handling, _ = await self.minutes_preset(session, actor, number or 0, now)
        if handling is not Handling.DONE:
            raise Refused(f"meeting_minutes_{handling}")
        problems = answers.get("problems")
        stored = await session.scalar(
            update(Meeting)
            .where(Meeting.id == number, Meeting.minutes_at.is_(None))
            .values(
                minutes_by_person_id=actor.person_id,
                minutes_at=now,
                attendees=str(answers["attendees"]),
                decisions=str(answers["decisions"]),
                problems=str(problems) if problems else None,
            )
            .returning(Meeting.id)
            .execution_options(synchronize_session=False)
        )
        if stored is None:
            raise Refused("meeting_minutes_already")
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="meeting.minutes",
                detail={"meeting": stored},
            )
        )
        return Submitted("meeting_recorded", {"reference": reference(Thing.MEETING, stored)})

    def _refused(self, session: AsyncSession, actor: Actor, meeting_id: int, now: datetime) -> None:
        session.add(
            AuditEntry(
                at=now,
                actor_person_id=actor.person_id,
                action="meeting.refused",
                detail={"meeting": meeting_id},
            )
        )

    # --- reading the minutes -----------------------------------------------------------------

    async def listing(
        self,
        session: AsyncSession,
        actor: Actor,
        language: Language,
        number: int | None = None,
    ) -> Listing:
        """The latest recorded minutes (or the one of meeting ``number``), for the coordination
        group: refused, with the rule's reason, to anyone the access rules do not let read."""
        decision = self.rules.allowed("meeting.read", people.rule_subject(actor))
        if not decision.outcome.allowed:
            reason = decision.outcome.reason
            return Listing(False, reason.text(language) if reason else "")
        recorded = select(Meeting).where(Meeting.minutes_at.is_not(None))
        if number is not None:
            recorded = recorded.where(Meeting.id == number)
        rows = list(
            await session.scalars(
                recorded.order_by(Meeting.starts_at.desc(), Meeting.id.desc()).limit(LIST_LIMIT)
            )
        )
        total = await session.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.minutes_at.is_not(None))
        )
        views = tuple([await self.view(session, meeting) for meeting in rows])
        return Listing(True, "", views, int(total or 0))

    # --- messages ------------------------------------------------------------------------------

    async def view(self, session: AsyncSession, meeting: Meeting) -> MeetingView:
        """``meeting`` as messages show it."""
        unit = await self.unit(session, meeting.scope_kind, meeting.scope_id)
        starts = meeting.starts_at.astimezone(self.campus)
        caller = await session.get(Person, meeting.called_by_person_id)
        recorder = (
            await session.get(Person, meeting.minutes_by_person_id)
            if meeting.minutes_by_person_id is not None
            else None
        )
        return MeetingView(
            id=meeting.id,
            reference=reference(Thing.MEETING, meeting.id),
            unit=unit or Unit(meeting.scope_kind, meeting.scope_id),
            topic=meeting.topic,
            place=meeting.place,
            starts=starts,
            called_by=caller.name if caller else "",
            attendees=meeting.attendees,
            decisions=meeting.decisions,
            problems=meeting.problems,
            minutes_by=recorder.name if recorder else None,
        )

    async def _tell(
        self,
        session: AsyncSession,
        person_ids: Sequence[int],
        template: str,
        now: datetime,
        *,
        button: int | None = None,
        **variables: Any,
    ) -> int:
        """Queue ``template`` to each of ``person_ids`` who can be reached, in their language;
        returns how many."""
        told = 0
        for person in person_ids:
            account = await repo.account_of(session, person)
            if account is None or account.unreachable_since is not None:
                continue
            language = pick_language(account.language, self.default)
            payload: dict[str, Any] = {
                "text": self.texts.render(language, template, **variables),
                "parse_mode": "HTML",
            }
            if button is not None:
                label = self.texts.render(language, "meeting_button_minutes")
                payload["reply_markup"] = {
                    "inline_keyboard": [
                        [{"text": label, "callback_data": MEETING.pack(meeting=button)}]
                    ]
                }
            outbox.enqueue(
                session,
                account.telegram_user_id,
                "sendMessage",
                payload,
                priority=Priority.BULK,
                now=now,
            )
            told += 1
        return told


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
