"""Reminders (提醒), ``rules/reminders.yaml``: when, to whom, and what each says.

A reminder's ``at`` says when (:class:`assistant.rules.timed.At`), or, with ``days_before``, when
the thing it reminds of happens: it then comes that many days earlier, at the same time of day
(a meeting on Monday 10:00 with ``days_before: [7, 1]`` is reminded of on the Monday before and
on the Sunday, at 10:00). This list beside ``at`` is not the one number ``days_before`` inside an
``at`` that counts from a yearly period opening or closing: that one moves ``at`` itself, and a
list beside it counts back from there. Its audience is a list of roles (``coordination_group``
stands for the coordination group's offices), a rule over people, which may also ask the
person's graduation year and the facts of the day the reminder comes (:data:`AUDIENCE_SCHEMA`),
and/or an action of access.yaml (whoever may do it: those who may apply for a project); its text
is a template. The scheduler plans the moments it is due as firings; the audience is worked out
when one comes due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from assistant.domain import Role
from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.schema import DAY, SCHEMAS, Kind, Schema, Shape, Symbol
from assistant.rules.timed import AT_FORMS, ItemReader, Report, Timed, read_list
from assistant.yamlfile import Located

FILE_NAME = "reminders.yaml"
# An action as access.yaml's rules name it (no pattern: one action).
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_PEOPLE_FACTS = ("status", "roles", "college", "community", "building", "floor")
_KEYS = {
    "id": "a short id like semester-meeting",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "at": f"when: {AT_FORMS}",
    "days_before": "remind this many days before each moment of at, like [7, 1] (beside at)",
    "audience": "who: {roles: [...]} (or coordination_group), {when: <rule over people>} "
    "and/or {may: <action of access.yaml>}",
    "template": "the message template, e.g. reminder_semester_meeting",
    "missed": "late_once (fire once when back) or skip, if due while the bot was down",
}
DAYS_BEFORE_MAX = 60
"""The furthest ahead a reminder may come (it is planned 35 days ahead of when it is due)."""
AUDIENCE_SCHEMA = Schema(
    Kind.POLICIES,
    (
        *(SCHEMAS[Kind.POLICIES].symbols[name] for name in _PEOPLE_FACTS),
        # people.csv's graduation year (empty for staff, and for rosters without the column).
        Symbol("graduation_year", Shape.NUMBER, nullable=True, low=1900, high=2200),
        # The day the reminder comes: 'graduation' in (periods ?? []), graduation_year == year.
        *DAY,
    ),
)
"""What a reminder's ``when`` may ask: the person, as in policies.yaml, and the day it comes."""


@dataclass(frozen=True)
class Reminder(Timed):
    """One reminder as declared."""

    roles: tuple[Role, ...]
    # A rule over people's facts (status, roles, college, ...) and the day: AUDIENCE_SCHEMA.
    when: Compiled | None
    # An action of access.yaml: only people its rules allow (on some day) are reminded.
    may: str | None = None
    # Days before each moment of ``at`` it comes; none: at the moment itself.
    days_before: tuple[int, ...] = ()

    def occasions(
        self, calendar: Calendar, start: datetime, end: datetime, zone: tzinfo
    ) -> list[tuple[datetime, datetime]]:
        """(due, moment) in [start, end): with ``days_before``, each moment of ``at`` is
        reminded of that many days earlier, at the same time of day on campus."""
        if not self.days_before:
            return super().occasions(calendar, start, end, zone)
        ahead = timedelta(days=max(self.days_before))
        found = []
        for moment in self.at.times(calendar, start, end + ahead, zone):
            local = moment.astimezone(zone)
            for days in self.days_before:
                due = datetime.combine(local.date() - timedelta(days=days), local.timetz())
                if start <= due < end:
                    found.append((due, moment))
        return sorted(found)


def load_reminders(
    directory: Path, timezone: tzinfo, problems: list[RuleProblem], calendar: Calendar
) -> tuple[Reminder, ...]:
    """Read ``reminders.yaml`` of ``directory`` (none: no reminders); problems are added to
    ``problems`` with line, reminder id and a suggestion. ``calendar`` names the periods an
    ``at`` may name."""
    context = AUDIENCE_SCHEMA.context(timezone)
    periods = frozenset(p.id for p in calendar.periods)
    return read_list(
        directory,
        FILE_NAME,
        "reminders",
        "reminder must be a mapping with id, at, audience, ...",
        lambda item, report, file: _Reader(item, report, context).read(file, periods),
        lambda reminder: reminder.id,
        problems,
    )


class _Reader(ItemReader):
    """Checks one reminder."""

    def __init__(self, item: Located, report: Report, context: Any) -> None:
        super().__init__(item, report)
        self.context = context

    def read(self, file: str, periods: frozenset[str]) -> Reminder | None:
        timed = self.timed(_KEYS, "reminder_semester_meeting", periods)
        days_before = self._days_before()
        roles, when = self._audience()
        may = self._may()
        if self.failed or timed is None:
            return None
        return Reminder(
            **timed,
            file=file,
            line=self.item.line,
            roles=roles,
            when=when,
            may=may,
            days_before=days_before,
        )

    def _may(self) -> str | None:
        audience = self.item.get("audience")
        if not isinstance(audience, Located) or "may" not in audience:
            return None
        action = audience["may"]
        if isinstance(action, str) and _ACTION.fullmatch(action):
            return action
        self.problem("may", f"may is {action!r}, not an action like project.apply", node=audience)
        return None

    def _days_before(self) -> tuple[int, ...]:
        value = self.item.get("days_before")
        if value is None:
            return ()
        if (
            isinstance(value, list)
            and value
            and all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= DAYS_BEFORE_MAX
                for d in value
            )
            and len(set(value)) == len(value)
        ):
            return tuple(sorted(value, reverse=True))
        self.problem(
            "days_before",
            f"days_before must be a list of different whole numbers of days, 0 to "
            f"{DAYS_BEFORE_MAX}, like [7, 1] (a week and a day before), not {value!r}; only "
            "inside at, with opens or closes, is it one number",
            f"[{value}]" if isinstance(value, int) and not isinstance(value, bool) else None,
        )
        return ()

    def _audience(self) -> tuple[tuple[Role, ...], Compiled | None]:
        audience = self.item.get("audience")
        if (
            not isinstance(audience, Located)
            or not set(audience)
            or set(audience) - {"roles", "when", "may"}
        ):
            self.problem(
                "audience",
                "audience must be {roles: [...]}, {when: <rule over people>} and/or "
                "{may: <action>}",
            )
            return (), None
        roles = self.roles("roles", audience)
        when = None
        if "when" in audience:
            text = audience["when"]
            if not isinstance(text, str) or not text.strip():
                self.problem("when", "when must be a rule over people, in quotes", node=audience)
                return roles, None
            compiled, problems = compile_when(text, AUDIENCE_SCHEMA, self.context)
            for found in problems:
                self.problem("when", found.message, found.suggestion, node=audience)
            when = compiled
        return roles, when
