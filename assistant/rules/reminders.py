"""Reminders (提醒), ``rules/reminders.yaml``: when, to whom, and what each says.

A reminder's ``at`` is written in calendar terms ("weeks 2 and 16 of every semester, Monday
10:00"), as days of the month, as one date, or as a crontab line; its audience is a list of roles
and/or a rule over people; its text is a template. :meth:`Reminder.times` turns ``at`` into the
moments of a stretch of time, which the scheduler stores as firings.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.schema import SCHEMAS, Kind
from assistant.storage.models import MissedPolicy, Role
from assistant.yamlfile import Located, LocatedList, YamlError, line_of
from assistant.yamlfile import load as load_yaml

FILE_NAME = "reminders.yaml"
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_TEMPLATE = re.compile(r"[a-z0-9_/]{1,80}")
_KEYS = {
    "id": "a short id like semester-meeting",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "at": "when: {weeks, weekday, time}, {days, time}, {date, time} or {cron}",
    "audience": "who: {roles: [...]} and/or {when: <rule over people>}",
    "template": "the message template, e.g. reminder_semester_meeting",
    "missed": "late_once (fire once when back) or skip, if due while the bot was down",
}
_AT_FORMS = (
    frozenset({"weeks", "weekday", "time"}),
    frozenset({"days", "time"}),
    frozenset({"date", "time"}),
    frozenset({"cron"}),
)


@dataclass(frozen=True)
class Reminder:
    """One reminder as declared; ``line`` is where it starts in the file."""

    id: str
    name: dict[str, str]
    template: str
    missed: MissedPolicy
    roles: tuple[Role, ...]
    # A rule over people's facts (status, roles, college, ...), as in policies.yaml.
    when: Compiled | None
    file: str
    line: int
    weeks: tuple[int, ...] = ()
    weekday: int = 1
    days: tuple[int, ...] = ()
    on: date | None = None
    clock: time = time(9, 0)
    cron: str | None = None

    def times(
        self, calendar: Calendar, start: datetime, end: datetime, zone: tzinfo
    ) -> list[datetime]:
        """The moments (UTC-aware) in [start, end) this reminder is due, in campus time ``zone``."""
        if self.cron is not None:
            trigger = crontab(self.cron, zone)
            found: list[datetime] = []
            moment = trigger.get_next_fire_time(None, start)
            while moment is not None and moment < end:
                found.append(moment)
                moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
            return found
        first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        days: list[date] = []
        if self.on is not None:
            days = [self.on]
        elif self.weeks:
            for semester in calendar.semesters:
                days += [
                    semester.first_day + timedelta(weeks=week - 1, days=self.weekday - 1)
                    for week in self.weeks
                ]
        else:
            day = first
            while day <= last:
                if day.day in self.days:
                    days.append(day)
                day += timedelta(days=1)
        moments = (datetime.combine(day, self.clock, zone) for day in days)
        return sorted(m for m in moments if start <= m < end)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab(line: str, zone: tzinfo) -> CronTrigger:
    """APScheduler's trigger for a standard crontab line.

    APScheduler numbers weekdays from Monday = 0; crontab from Sunday = 0 (and 7). Weekday
    numbers are written as names first, so that "1" means Monday as everyone expects.
    """
    fields = line.split()
    if len(fields) == 5:
        fields[4] = re.sub(
            r"\d+", lambda m: _WEEKDAYS[int(m[0])] if int(m[0]) < 8 else m[0], fields[4]
        )
    return CronTrigger.from_crontab(" ".join(fields), timezone=zone)


def load_reminders(
    directory: Path, timezone: tzinfo, problems: list[RuleProblem]
) -> tuple[Reminder, ...]:
    """Read ``reminders.yaml`` of ``directory`` (none: no reminders); problems are added to
    ``problems`` with line, reminder id and a suggestion."""
    path = directory / FILE_NAME
    if not path.exists():
        return ()
    file = f"{directory.name}/{FILE_NAME}"
    before = len(problems)

    def problem(line: int, item: str | None, message: str, suggestion: str | None = None) -> None:
        problems.append(RuleProblem(file, line, item, message, suggestion))

    try:
        data = load_yaml(path)
    except YamlError as exc:
        problem(exc.line, None, str(exc))
        return ()
    if not isinstance(data, Located) or set(data) != {"reminders"}:
        problem(line_of(data), None, "expected one key, reminders: a list of reminders")
        return ()
    items = data["reminders"]
    if not isinstance(items, LocatedList):
        problem(data.lines["reminders"], None, "reminders must be a list")
        return ()
    found: list[Reminder] = []
    seen: set[str] = set()
    context = SCHEMAS[Kind.POLICIES].context(timezone)
    for line, item in zip(items.lines, items, strict=True):
        if not isinstance(item, Located):
            problem(line, None, "each reminder must be a mapping with id, at, audience, ...")
            continue
        reminder = _Reader(item, problem, context).read(file)
        if reminder is not None:
            if reminder.id in seen:
                problem(item.lines["id"], reminder.id, f"id '{reminder.id}' is used twice")
            seen.add(reminder.id)
            found.append(reminder)
    return tuple(found) if len(problems) == before else ()


class _Reader:
    """Checks one reminder, reporting each problem with its line."""

    def __init__(self, item: Located, problem: Any, context: Any) -> None:
        self.item = item
        self.report = problem
        self.context = context
        self.id: str | None = None
        self.failed = False
        # Keys written misspelt: reported once, as a typo, not again as missing.
        self.misspelt: set[str] = set()

    def problem(
        self,
        key: str | None,
        message: str,
        suggestion: str | None = None,
        node: Located | None = None,
    ) -> None:
        where = node if node is not None else self.item
        line = where.lines.get(key, where.line) if key else where.line
        self.report(line, self.id, message, suggestion)
        self.failed = True

    def read(self, file: str) -> Reminder | None:
        item = self.item
        value = item.get("id")
        if isinstance(value, str) and _ID.fullmatch(value):
            self.id = value
        else:
            self.problem("id", "missing or bad id (lowercase letters, digits, - and _)")
        for key in item:
            if key not in _KEYS:
                close = difflib.get_close_matches(key, list(_KEYS), n=1)
                self.misspelt.update(close)
                self.problem(
                    key,
                    f"unknown key '{key}' (known: {', '.join(_KEYS)})",
                    close[0] if close else None,
                )
        name = item.get("name")
        if not (
            isinstance(name, Located)
            and set(name) == {"zh", "en"}
            and all(isinstance(v, str) and v for v in name.values())
        ):
            self.problem("name", "name must be {zh: ..., en: ...}")
        template = item.get("template")
        if "template" in self.misspelt:
            pass
        elif not (isinstance(template, str) and _TEMPLATE.fullmatch(template)):
            self.problem(
                "template", "template must be a template name like reminder_semester_meeting"
            )
        missed_text = item.get("missed", "late_once")
        try:
            missed = MissedPolicy(missed_text)
        except ValueError:
            close = difflib.get_close_matches(
                str(missed_text), [m.value for m in MissedPolicy], n=1
            )
            self.problem(
                "missed",
                f"missed is {missed_text!r} (late_once or skip)",
                close[0] if close else None,
            )
            missed = MissedPolicy.LATE_ONCE
        at = self._at()
        roles, when = self._audience()
        if self.failed or at is None:
            return None
        assert self.id and isinstance(name, Located) and isinstance(template, str)
        return Reminder(
            id=self.id,
            name={"zh-CN": name["zh"], "en": name["en"]},
            template=template,
            missed=missed,
            roles=roles,
            when=when,
            file=file,
            line=item.line,
            **at,
        )

    def _at(self) -> dict[str, Any] | None:
        at = self.item.get("at")
        if not isinstance(at, Located):
            self.problem(
                "at",
                "at must be a mapping: "
                "{weeks, weekday, time}, {days, time}, {date, time} or {cron}",
            )
            return None
        form = frozenset(at)
        if form not in _AT_FORMS:
            self.problem(
                "at",
                f"at has {', '.join(sorted(at)) or 'nothing'}; write one of "
                "{weeks, weekday, time}, {days, time}, {date, time} or {cron}",
            )
            return None
        fields: dict[str, Any] = {}
        if "time" in at:
            match = _TIME.fullmatch(str(at["time"]))
            if match is None:
                self.problem(
                    "time", f'time is {at["time"]!r}, not a time in quotes like "10:00"', node=at
                )
            else:
                fields["clock"] = time(int(match[1]), int(match[2]))
        if "weeks" in at:
            weeks = at["weeks"]
            if not (
                isinstance(weeks, list)
                and weeks
                and all(
                    isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= 30 for w in weeks
                )
            ):
                self.problem(
                    "weeks",
                    "weeks must be a list of week numbers of the semester, like [2, 16]",
                    node=at,
                )
            else:
                fields["weeks"] = tuple(weeks)
            weekday = at["weekday"]
            if not (
                isinstance(weekday, int) and not isinstance(weekday, bool) and 1 <= weekday <= 7
            ):
                self.problem("weekday", "weekday must be 1 (Monday) to 7 (Sunday)", node=at)
            else:
                fields["weekday"] = weekday
        if "days" in at:
            days = at["days"]
            if not (
                isinstance(days, list)
                and days
                and all(
                    isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 31 for d in days
                )
            ):
                self.problem(
                    "days", "days must be a list of days of the month, like [1, 20]", node=at
                )
            else:
                fields["days"] = tuple(days)
        if "date" in at:
            if not isinstance(at["date"], date):
                self.problem("date", f"date is {at['date']!r}, not a date like 2026-12-01", node=at)
            else:
                fields["on"] = at["date"]
        if "cron" in at:
            try:
                crontab(str(at["cron"]), UTC)
            except ValueError as exc:
                self.problem("cron", f"cron is {at['cron']!r}: {exc}", "0 9 * * 1", node=at)
            else:
                fields["cron"] = str(at["cron"])
        return None if self.failed else fields

    def _audience(self) -> tuple[tuple[Role, ...], Compiled | None]:
        audience = self.item.get("audience")
        if (
            not isinstance(audience, Located)
            or not set(audience)
            or set(audience) - {"roles", "when"}
        ):
            self.problem(
                "audience", "audience must be {roles: [...]} and/or {when: <rule over people>}"
            )
            return (), None
        roles: list[Role] = []
        names = audience.get("roles", [])
        if not isinstance(names, list):
            self.problem("roles", "roles must be a list of roles", node=audience)
            names = []
        for name in names:
            try:
                roles.append(Role(name))
            except ValueError:
                close = difflib.get_close_matches(str(name), [r.value for r in Role], n=1)
                self.problem(
                    "roles", f"unknown role '{name}'", close[0] if close else None, node=audience
                )
        when = None
        if "when" in audience:
            text = audience["when"]
            if not isinstance(text, str) or not text.strip():
                self.problem("when", "when must be a rule over people, in quotes", node=audience)
                return tuple(roles), None
            compiled, problems = compile_when(text, SCHEMAS[Kind.POLICIES], self.context)
            for found in problems:
                self.problem("when", found.message, found.suggestion, node=audience)
            when = compiled
        return tuple(roles), when
