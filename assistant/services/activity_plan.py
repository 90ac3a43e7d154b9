"""The year's activity plan (/activities plan): for each fixed activity of
``rules/activities.yaml``, per community (under the college that leads it) what is held, planned
and missing this school year.

The school year is the one the calendar's semesters make (2026—2027 学年: the autumn semester,
then the spring one): it begins on 1 September and ends on 31 August. An activity counts for the
place its audience is: a community, or a building, grid or floor in it, counts for that community;
a college for every community the college leads (for the college itself when it leads none); the
whole school for every community. A fixed activity with parts (``part_of``) counts as held or
planned when any of its parts is. A fixed activity a college owns (``owner: {college: X}``) is
expected of that college's communities only.

Who may read it: the holders of a fixed activity's owner roles, and whoever the access rules let
(``activity.plan``: the Organisation Department, college party organisation leaders). A
school-wide post sees every college; any other post its own college.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import (
    ActivityStatus,
    Actor,
    Attendance,
    Grant,
    Language,
    ScopeKind,
    SignupStatus,
)
from assistant.rules import Rules
from assistant.rules.activities import FixedActivity
from assistant.services import people
from assistant.services.broadcasts import Campus, Place, load_campus
from assistant.storage.models import Activity, ActivitySignup, PartyBranch, Substation

YEAR_BEGINS = 9
"""The month a school year begins in: the autumn semester's."""
SHOWN = 2
"""How many held (or planned) activities of one kind a line names; the rest are counted."""
OVERVIEW = "0"
"""The page key of the overview; a unit's is ``m<community id>`` or ``c<college id>``."""

Unit = tuple[ScopeKind, int]


class Standing(enum.StrEnum):
    """Where a fixed activity stands for one community this school year."""

    HELD = "held"
    PLANNED = "planned"
    # Its window has opened (or passed) and nothing is held or planned.
    MISSING = "missing"
    # Its window is still ahead and nothing is planned yet.
    LATER = "later"


STANDINGS = tuple(Standing)


@dataclass(frozen=True)
class Seen:
    """One activity of the plan: its reference, its day and, once held with attendance taken,
    how many checked in."""

    reference: str
    day: date
    attended: int | None = None


@dataclass(frozen=True)
class Line:
    """A fixed activity for one community: its window this school year and where it stands."""

    fixed: FixedActivity
    # Its months in school-year order (September first), or the calendar's period's name.
    months: tuple[int, ...]
    period: dict[str, str] | None
    opens: date
    closes: date
    standing: Standing
    held: tuple[Seen, ...]
    planned: tuple[Seen, ...]

    @property
    def part(self) -> bool:
        """Whether it is part of another fixed activity (shown under it)."""
        return self.fixed.part_of is not None


def _counts(lines: Iterable[Line]) -> dict[str, int]:
    found = dict.fromkeys((str(s) for s in STANDINGS), 0)
    for line in lines:
        found[str(line.standing)] += 1
    return found


@dataclass(frozen=True)
class UnitPlan:
    """The plan of one community (or of a college that leads none)."""

    key: str
    name: dict[str, str]
    college: dict[str, str] | None
    lines: tuple[Line, ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many of its fixed activities stand each way."""
        return _counts(self.lines)


@dataclass(frozen=True)
class Group:
    """A college and the communities it leads (no college: the communities nobody leads)."""

    college: dict[str, str] | None
    units: tuple[UnitPlan, ...]

    @property
    def counts(self) -> dict[str, int]:
        """The sum over its communities."""
        return _counts(line for unit in self.units for line in unit.lines)


@dataclass(frozen=True)
class Plan:
    """What /activities plan shows the reader (or why they may not see it)."""

    allowed: bool
    reason: str = ""
    year: int = 0
    today: date | None = None
    groups: tuple[Group, ...] = ()
    fixed: int = 0

    @property
    def units(self) -> tuple[UnitPlan, ...]:
        """Every community page the reader may open, in overview order."""
        return tuple(unit for group in self.groups for unit in group.units)

    def unit(self, key: str) -> UnitPlan | None:
        """The page ``key`` among the reader's own (None for any other, forged or gone)."""
        return next((unit for unit in self.units if unit.key == key), None)


def school_year(today: date) -> int:
    """The year the school year of ``today`` begins in (2026 for 2026—2027)."""
    return today.year if today.month >= YEAR_BEGINS else today.year - 1


def _in_school_order(months: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(months, key=lambda month: (month - YEAR_BEGINS) % 12))


def _month_days(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


def window(rules: Rules, fixed: FixedActivity, year: int) -> tuple[date, date]:
    """The first and last day of ``fixed``'s window in the school year beginning in ``year``:
    its months, or the calendar's period (on its own dates)."""
    period = next((p for p in rules.calendar.periods if p.id == fixed.window.period), None)
    if period is not None:
        return period.first, period.last
    months = _in_school_order(fixed.window.months)

    def year_of(month: int) -> int:
        return year if month >= YEAR_BEGINS else year + 1

    first, _ = _month_days(year_of(months[0]), months[0])
    _, last = _month_days(year_of(months[-1]), months[-1])
    return first, last


def _owner_roles(rules: Rules) -> frozenset[str]:
    return frozenset(str(role) for fixed in rules.activities.values() for role in fixed.owner.roles)


def may_read(rules: Rules, actor: Actor) -> bool:
    """Whether ``actor`` may read the plan at all: holds a fixed activity's owner role, or the
    access rules let them (``activity.plan``). A fixed activity a college owns is only that
    college's to schedule; which colleges the reader sees is :meth:`ActivityPlan.plan`'s."""
    if any(str(grant.role) in _owner_roles(rules) for grant in actor.grants):
        return True
    return rules.allowed("activity.plan", people.rule_subject(actor)).outcome.allowed


class ActivityPlan:
    """Builds the plan for one reader, from the store and the rules, on every request."""

    def __init__(self, rules: Rules, campus: tzinfo) -> None:
        self.rules = rules
        self.campus = campus

    def _reading(self, actor: Actor) -> list[Grant]:
        """The reader's posts that let them read the plan, each judged alone: an owner role of
        a fixed activity, or a role the access rules let read it."""
        owners = _owner_roles(self.rules)
        subject = people.rule_subject(actor)
        return [
            grant
            for grant in actor.grants
            if str(grant.role) in owners
            or self.rules.allowed(
                "activity.plan", {**subject, "roles": [str(grant.role)]}
            ).outcome.allowed
        ]

    async def plan(
        self, session: AsyncSession, actor: Actor, *, now: datetime, language: Language
    ) -> Plan:
        """The plan of the communities ``actor`` may see, or the rule's refusal."""
        if not may_read(self.rules, actor):
            reason = self.rules.allowed("activity.plan", people.rule_subject(actor)).outcome.reason
            return Plan(False, reason.text(language) if reason else "")
        today = now.astimezone(self.campus).date()
        year = school_year(today)
        campus = await load_campus(session)
        units = _units(campus)
        seen = await self._seen_units(session, campus, units, self._reading(actor))
        begins = datetime(year, YEAR_BEGINS, 1, tzinfo=self.campus)
        ends = datetime(year + 1, YEAR_BEGINS, 1, tzinfo=self.campus)
        found = await self._activities(session, campus, units, begins, ends, now)
        fixed = sorted(
            self.rules.activities.values(),
            key=lambda item: (window(self.rules, item, year)[0], item.line),
        )
        # A part is shown under the fixed activity it belongs to.
        ordered = [item for item in fixed if item.part_of is None]
        for part in (item for item in fixed if item.part_of is not None):
            parent = next((i for i, item in enumerate(ordered) if item.id == part.part_of), None)
            if parent is None:
                ordered.append(part)
                continue
            after = parent + 1
            while after < len(ordered) and ordered[after].part_of == part.part_of:
                after += 1
            ordered.insert(after, part)
        groups: list[Group] = []
        for college, members in _grouped(campus, units):
            pages = tuple(
                self._unit_plan(campus, unit, college, ordered, found, year, today)
                for unit in members
                if unit in seen
            )
            if pages:
                groups.append(Group(_names(college), pages))
        return Plan(True, "", year, today, tuple(groups), len(ordered))

    def _unit_plan(
        self,
        campus: Campus,
        unit: Unit,
        college: Place | None,
        ordered: list[FixedActivity],
        found: dict[Unit, dict[str, list[tuple[bool, Seen]]]],
        year: int,
        today: date,
    ) -> UnitPlan:
        place = campus.places[unit]
        mine = found.get(unit, {})
        lines = []
        for fixed in ordered:
            if fixed.owner.college is not None and (
                college is None or college.code != fixed.owner.college
            ):
                continue
            kinds = {fixed.id} | {
                item.id for item in self.rules.activities.values() if item.part_of == fixed.id
            }
            entries = sorted(
                (entry for kind in kinds for entry in mine.get(kind, [])),
                key=lambda entry: entry[1].day,
            )
            held = tuple(seen for done, seen in entries if done)
            planned = tuple(seen for done, seen in entries if not done)
            opens, closes = window(self.rules, fixed, year)
            if held:
                standing = Standing.HELD
            elif planned:
                standing = Standing.PLANNED
            elif opens <= today:
                standing = Standing.MISSING
            else:
                standing = Standing.LATER
            period = next(
                (p for p in self.rules.calendar.periods if p.id == fixed.window.period), None
            )
            lines.append(
                Line(
                    fixed,
                    _in_school_order(fixed.window.months),
                    period.name if period is not None else None,
                    opens,
                    closes,
                    standing,
                    held,
                    planned,
                )
            )
        key = f"m{unit[1]}" if unit[0] is ScopeKind.COMMUNITY else f"c{unit[1]}"
        return UnitPlan(key, _names(place) or {}, _names(college), tuple(lines))

    async def _seen_units(
        self, session: AsyncSession, campus: Campus, units: list[Unit], grants: list[Grant]
    ) -> set[Unit]:
        """The communities (and lone colleges) the reader's posts let them see: all for a
        school-wide post, else those of the post's college (or its community, led by none)."""
        seen: set[Unit] = set()
        for grant in grants:
            if grant.scope_kind is ScopeKind.SCHOOL:
                return set(units)
            kind, unit_id = grant.scope_kind, grant.scope_id
            # A party branch or a sub-station lies in one community.
            community: int | None = unit_id
            if kind is ScopeKind.BRANCH:
                community = await session.scalar(
                    select(PartyBranch.community_id).where(PartyBranch.id == unit_id)
                )
            elif kind is ScopeKind.SUBSTATION:
                community = await session.scalar(
                    select(Substation.community_id).where(Substation.id == unit_id)
                )
            if community is None:
                continue
            if kind in (ScopeKind.BRANCH, ScopeKind.SUBSTATION):
                kind, unit_id = ScopeKind.COMMUNITY, community
            place = campus.places.get((kind, unit_id))
            if place is None:
                continue
            college = next((u for u in place.within if u[0] is ScopeKind.COLLEGE), None)
            for unit in units:
                within = campus.places[unit].within
                if college is not None and college in within:
                    seen.add(unit)
                elif college is None and (unit in place.within or (kind, unit_id) in within):
                    # Led by no college: only the community the post lies in (or covers).
                    seen.add(unit)
        return seen

    async def _activities(
        self,
        session: AsyncSession,
        campus: Campus,
        units: list[Unit],
        begins: datetime,
        ends: datetime,
        now: datetime,
    ) -> dict[Unit, dict[str, list[tuple[bool, Seen]]]]:
        """This school year's activities of the fixed kinds, by the community they count for
        and their kind: (whether held, the activity as seen)."""
        rows = (
            await session.scalars(
                select(Activity)
                .where(
                    Activity.kind.in_(sorted(self.rules.activities)),
                    Activity.status != ActivityStatus.CANCELLED,
                    Activity.starts_at >= begins,
                    Activity.starts_at < ends,
                )
                .order_by(Activity.starts_at, Activity.id)
            )
        ).all()
        attended = dict(
            (
                await session.execute(
                    select(ActivitySignup.activity_id, func.count())
                    .where(
                        ActivitySignup.activity_id.in_([a.id for a in rows]),
                        ActivitySignup.status == SignupStatus.ATTENDED,
                    )
                    .group_by(ActivitySignup.activity_id)
                )
            ).all()
        )
        found: dict[Unit, dict[str, list[tuple[bool, Seen]]]] = {}
        for activity in rows:
            held = activity.status is ActivityStatus.ENDED or (
                activity.status is ActivityStatus.OPEN and activity.ends_at <= now
            )
            if not held and activity.ends_at <= now:
                continue  # its room never approved: neither held nor still planned
            counted = (
                int(attended.get(activity.id, 0))
                if held and activity.attendance is not Attendance.NONE
                else None
            )
            seen = Seen(
                activity.reference, activity.starts_at.astimezone(self.campus).date(), counted
            )
            for unit in _counts_for(campus, units, activity):
                found.setdefault(unit, {}).setdefault(activity.kind, []).append((held, seen))
        return found


def _units(campus: Campus) -> list[Unit]:
    """The communities, and the colleges that lead none: what the plan is kept for."""
    communities = campus.of_kind(ScopeKind.COMMUNITY)
    leading = {u for c in communities for u in c.within if u[0] is ScopeKind.COLLEGE}
    return [(c.kind, c.id) for c in communities] + [
        (c.kind, c.id) for c in campus.of_kind(ScopeKind.COLLEGE) if (c.kind, c.id) not in leading
    ]


def _grouped(campus: Campus, units: list[Unit]) -> list[tuple[Place | None, list[Unit]]]:
    """The units under their college, colleges in the order of the first community they
    lead (Community 1's first); those led by none last."""
    groups: list[tuple[Place | None, list[Unit]]] = []
    for college in campus.of_kind(ScopeKind.COLLEGE):
        unit = (college.kind, college.id)
        members = [u for u in units if unit in campus.places[u].within]
        if members:
            groups.append((college, members))
    alone = [
        u for u in units if not any(w[0] is ScopeKind.COLLEGE for w in campus.places[u].within)
    ]
    groups.sort(key=lambda group: units.index(group[1][0]))
    if alone:
        groups.append((None, alone))
    return groups


def _counts_for(campus: Campus, units: list[Unit], activity: Activity) -> list[Unit]:
    """The communities (or lone colleges) an activity counts for, by its audience's place."""
    place = campus.places.get((activity.scope_kind, activity.scope_id))
    if place is None:
        return []
    if place.kind is ScopeKind.SCHOOL:
        return list(units)
    if place.kind is ScopeKind.COLLEGE:
        led = [u for u in units if (place.kind, place.id) in campus.places[u].within]
        return led or [(place.kind, place.id)]
    return [u for u in units if u[0] is ScopeKind.COMMUNITY and u in place.within]


def _names(place: Place | None) -> dict[str, str] | None:
    return {"zh-CN": place.zh, "en": place.en} if place is not None else None
