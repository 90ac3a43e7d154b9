"""Duty rotation (值班轮换), ``rules/duty.yaml``: each activity room's shifts, who takes them, in
what order, and the days there is no duty.

A room names its shifts (weekdays and hours, campus time; a shift may run only on the days its
own ``when`` names, so that exam weeks can have longer hours than teaching weeks), its pool (a
rule over people, as in policies.yaml), the order people take turns in, the days to skip (a rule
over the day's facts: holidays, vacations, ...), and the role that owns it. Two shifts of a room
that run on the same day must not overlap: shifts without ``when`` are compared by weekday, the
others on every day of the calendar's semesters. Room codes are those of the campus
directory; the file is read before the directory, so an unknown code is reported when planning
(``assistant duty plan``), not here.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from assistant.domain import ROLE_SCOPE, Role, ScopeKind
from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.schema import SCHEMAS, Kind, Schema, Shape, Symbol
from assistant.rules.timed import ItemReader, Report, close_to, read_list
from assistant.yamlfile import Located, LocatedList

FILE_NAME = "duty.yaml"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_ROOM_KEYS = {
    "room": "the room's code in the campus file, like BUS-ACT",
    "owner": "the role that owns the room, like counsellor",
    "pool": "who takes turns: a rule over people, like status == 'party_member'",
    "order": "round_robin (in turn) or fair (fewest hours first)",
    "skip": "the days without duty: a rule over the day, like is_holiday",
    "remind_minutes": "how long before a shift its holder is reminded",
    "escalate_hours": "how long before a shift an untaken swap goes to the owner",
    "shifts": "the shifts: [{id, days, from, to, when?}, ...]",
}
_SHIFT_KEYS = {
    "id": "a short id like evening",
    "days": "weekdays, 1 (Monday) to 7 (Sunday), like [1, 2, 3, 4, 5]",
    "from": 'when it starts, in quotes, like "18:00"',
    "to": 'when it ends, in quotes, like "21:00"',
    "when": "only on the days this rule over the day names, like is_exam_week ?? false",
}
# Without semesters in the calendar, shifts with a `when` are compared over one plain week.
_PLAIN_WEEK = date(2026, 3, 2)
# Owners hold their role over the room's building, community, college or the whole school.
_OWNER_SCOPES = (ScopeKind.SCHOOL, ScopeKind.COLLEGE, ScopeKind.COMMUNITY, ScopeKind.BUILDING)
_OWNERS = tuple(role.value for role, kind in ROLE_SCOPE.items() if kind in _OWNER_SCOPES)
_WEEKDAY_NAMES = ("", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_ACCESS = SCHEMAS[Kind.ACCESS].symbols
DAY_SCHEMA = Schema(
    Kind.ACCESS,
    (
        # Always known for a day, so rules need no ``??`` for them.
        Symbol("date", Shape.TEXT),
        Symbol("weekday", Shape.NUMBER, low=1, high=7),
        Symbol("day_of_month", Shape.NUMBER, low=1, high=31),
        Symbol("year", Shape.NUMBER, low=2000, high=2200),
        Symbol("is_holiday", Shape.FLAG),
        # The academic calendar's facts, null outside a semester or without a calendar.
        *(
            _ACCESS[name]
            for name in ("semester", "week", "teaching_week", "is_exam_week", "is_vacation")
        ),
        _ACCESS["periods"],
    ),
)
"""What a room's ``skip`` rule may ask of a day (see ``people.day_facts``)."""


class Order(enum.StrEnum):
    """How the pool takes turns."""

    # Each next person of the pool after the one rostered before (by person, stable).
    ROUND_ROBIN = "round_robin"
    # Whoever has the fewest hours on duty so far, planned ones included.
    FAIR = "fair"


@dataclass(frozen=True)
class Shift:
    """One weekly shift of a room: its weekdays and its hours (campus time, same day)."""

    id: str
    days: frozenset[int]
    start: time
    end: time
    line: int
    # Only on the days this rule over the day names (none: every day of ``days``).
    when: Compiled | None = None

    def runs(self, day_facts: dict[str, Any]) -> bool:
        """Whether the shift is on the day of ``day_facts`` (``Calendar.day_facts``)."""
        if day_facts["weekday"] not in self.days:
            return False
        return self.when is None or bool(self.when.condition.matches(DAY_SCHEMA.subject(day_facts)))

    def overlaps(self, other: Shift) -> bool:
        """Whether the two shifts' hours overlap (on a day both run)."""
        return self.start < other.end and other.start < self.end

    @property
    def hours(self) -> float:
        """How long the shift is."""
        minutes = (self.end.hour - self.start.hour) * 60 + self.end.minute - self.start.minute
        return minutes / 60


@dataclass(frozen=True)
class DutyRoom:
    """One room's duty as declared; ``line`` is where it starts in the file."""

    room: str
    owner: Role
    pool: Compiled
    order: Order
    skip: Compiled | None
    remind: timedelta
    escalate: timedelta
    shifts: tuple[Shift, ...]
    file: str
    line: int

    def skips(self, day_facts: dict[str, Any]) -> bool:
        """Whether there is no duty on the day of ``day_facts`` (``people.day_facts``)."""
        if self.skip is None:
            return False
        return bool(self.skip.condition.matches(DAY_SCHEMA.subject(day_facts)))

    def admits(self, person_facts: dict[str, Any]) -> bool:
        """Whether the person of ``person_facts`` (a policies subject) is in the pool."""
        return bool(self.pool.condition.matches(SCHEMAS[Kind.POLICIES].subject(person_facts)))


def load_duty(
    directory: Path, timezone: tzinfo, problems: list[RuleProblem], calendar: Calendar
) -> tuple[DutyRoom, ...]:
    """Read ``duty.yaml`` of ``directory`` (none: no duty); problems are added to ``problems``
    with line, room (or room/shift) id and a suggestion. Shifts with a ``when`` are checked for
    overlaps on the days of ``calendar``."""
    contexts = (SCHEMAS[Kind.POLICIES].context(timezone), DAY_SCHEMA.context(timezone))
    days = _days_to_compare(calendar)
    return read_list(
        directory,
        FILE_NAME,
        "rooms",
        "room must be a mapping with room, owner, pool, shifts, ...",
        lambda item, report, file: _Reader(item, report, contexts, days).read(file),
        lambda room: room.room,
        problems,
        id_key="room",
    )


def _days_to_compare(calendar: Calendar) -> list[dict[str, Any]]:
    """The facts of the days shifts with a ``when`` are compared on: every day of the
    calendar's semesters, or one plain week without them."""
    if calendar.semesters:
        first = min(s.first_day for s in calendar.semesters)
        count = (max(s.last_day for s in calendar.semesters) - first).days + 1
    else:
        first, count = _PLAIN_WEEK, 7
    return [calendar.day_facts(first + timedelta(days=n)) for n in range(count)]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader(ItemReader):
    """Checks one room and its shifts."""

    def __init__(
        self,
        item: Located,
        report: Report,
        contexts: tuple[Any, Any],
        days: list[dict[str, Any]],
    ) -> None:
        super().__init__(item, report)
        self.people_context, self.day_context = contexts
        self.days = days

    def read(self, file: str) -> DutyRoom | None:
        item = self.item
        code = item.get("room")
        if isinstance(code, str) and _CODE.fullmatch(code):
            self.id = code
        meant = self.keys(_ROOM_KEYS)
        if self.id is None and "room" not in meant:
            self.problem("room", "missing or bad room: the room's code, like BUS-ACT")
        owner = self._owner(meant)
        pool = self._rule("pool", self.people_context, SCHEMAS[Kind.POLICIES], meant)
        skip = self._rule("skip", self.day_context, DAY_SCHEMA, meant) if "skip" in item else None
        order = self.choice("order", Order, Order.ROUND_ROBIN)
        remind = self._amount("remind_minutes", 24 * 60, 0, 7 * 24 * 60)
        escalate = self._amount("escalate_hours", 4, 0, 7 * 24)
        if escalate * 60 >= remind:
            self.problem(
                "escalate_hours",
                f"escalate_hours ({escalate:g}) must end before the reminder ({remind:g} minutes "
                "before the shift): the reminder's button offers the shift to the pool first",
            )
        shifts = self._shifts(meant)
        if self.failed or self.id is None or owner is None or pool is None:
            return None
        return DutyRoom(
            room=self.id,
            owner=owner,
            pool=pool,
            order=order,
            skip=skip,
            remind=timedelta(minutes=remind),
            escalate=timedelta(hours=escalate),
            shifts=shifts,
            file=file,
            line=item.line,
        )

    def _owner(self, meant: set[str]) -> Role | None:
        text = self.item.get("owner")
        if text is None:
            if "owner" not in meant:
                self.problem(None, "missing owner: the role that owns the room")
            return None
        if str(text) not in _OWNERS:
            self.problem(
                "owner",
                f"owner '{text}' is not a role held over a room's building, community, college "
                f"or the school (one of: {', '.join(_OWNERS)})",
                close_to(text, _OWNERS),
            )
            return None
        return Role(str(text))

    def _rule(self, key: str, context: Any, schema: Schema, meant: set[str]) -> Compiled | None:
        text = self.item.get(key)
        if text is None:
            if key not in meant:
                self.problem(None, f"missing {key}: {_ROOM_KEYS[key]}")
            return None
        if isinstance(text, bool):
            text = "true" if text else "false"
        if not isinstance(text, str) or not text.strip():
            self.problem(key, f"{key} must be a rule in quotes: {_ROOM_KEYS[key]}")
            return None
        compiled, found = compile_when(text, schema, context)
        for each in found:
            self.problem(key, f"{key}: {each.message}", each.suggestion)
        return compiled

    def _amount(self, key: str, default: int, low: int, high: int) -> float:
        value = self.item.get(key, default)
        if not _number(value) or not low <= value <= high:
            self.problem(key, f"{key} must be a number from {low} to {high}")
            return default
        return float(value)

    def _shifts(self, meant: set[str]) -> tuple[Shift, ...]:
        shifts = self.item.get("shifts")
        if shifts is None:
            if "shifts" not in meant:
                self.problem(None, "missing shifts: [{id, days, from, to}, ...]")
            return ()
        if not isinstance(shifts, LocatedList) or not shifts:
            self.problem("shifts", "shifts must be a list of {id, days, from, to}")
            return ()
        found: list[Shift] = []
        for line, node in zip(shifts.lines, shifts, strict=True):
            if not isinstance(node, Located):
                self.report(
                    line, self.id, "each shift must be a mapping with id, days, from, to", None
                )
                self.failed = True
                continue
            shift = self._shift(node)
            if shift is None:
                continue
            for other in found:
                if other.id == shift.id:
                    self.problem(
                        "id", f"shift id '{shift.id}' is used twice in this room", node=node
                    )
                when = self._overlap(shift, other)
                if when is not None:
                    self.problem(
                        "from",
                        f"shift '{shift.id}' overlaps shift '{other.id}' (line {other.line}) "
                        f"on {when}",
                        node=node,
                        item_id=f"{self.id}/{shift.id}",
                    )
            found.append(shift)
        return tuple(found)

    def _overlap(self, shift: Shift, other: Shift) -> str | None:
        """The first day the two shifts both run and overlap, as said in a problem."""
        common = other.days & shift.days
        if not common or not shift.overlaps(other):
            return None
        if shift.when is None and other.when is None:
            return _WEEKDAY_NAMES[min(common)]
        for facts in self.days:
            if shift.runs(facts) and other.runs(facts):
                return f"{facts['date']}, a day both run (see their when)"
        return None

    def _shift(self, node: Located) -> Shift | None:
        value = node.get("id")
        shift_id = value if isinstance(value, str) and _ID.fullmatch(value) else None
        where = f"{self.id}/{shift_id}" if shift_id else self.id
        meant = self.keys(_SHIFT_KEYS, node, where)
        failed, self.failed = self.failed, False
        if shift_id is None and "id" not in meant:
            self.problem(
                "id", "missing or bad shift id (lowercase letters, digits, - _)", node=node
            )
        days = node.get("days")
        if not (
            isinstance(days, list)
            and days
            and all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days)
            and len(set(days)) == len(days)
        ):
            if "days" not in meant:
                self.problem(
                    "days",
                    "days must be a list of weekdays, 1 (Monday) to 7 (Sunday), like [1, 3, 5]",
                    node=node,
                    item_id=where,
                )
            days = []
        start = self._time(node, "from", meant, where)
        end = self._time(node, "to", meant, where)
        if start is not None and end is not None and end <= start:
            self.problem(
                "to",
                f"to ({end:%H:%M}) must be after from ({start:%H:%M}): a shift ends the day it "
                "starts",
                node=node,
                item_id=where,
            )
        when = self._shift_when(node, where) if "when" in node else None
        ok = not self.failed
        self.failed = failed or self.failed
        if not ok or shift_id is None or start is None or end is None:
            return None
        return Shift(shift_id, frozenset(days), start, end, node.line, when)

    def _shift_when(self, node: Located, where: str | None) -> Compiled | None:
        text = node["when"]
        if isinstance(text, bool):
            text = "true" if text else "false"
        if not isinstance(text, str) or not text.strip():
            self.problem(
                "when",
                f"when must be a rule in quotes: {_SHIFT_KEYS['when']}",
                node=node,
                item_id=where,
            )
            return None
        compiled, found = compile_when(text, DAY_SCHEMA, self.day_context)
        for each in found:
            self.problem("when", f"when: {each.message}", each.suggestion, node=node, item_id=where)
        return compiled

    def _time(self, node: Located, key: str, meant: set[str], where: str | None) -> time | None:
        if key not in node:
            if key not in meant:
                self.problem(None, f"missing {key}: {_SHIFT_KEYS[key]}", node=node, item_id=where)
            return None
        return self.clock(key, "18:00", node=node, item_id=where)
