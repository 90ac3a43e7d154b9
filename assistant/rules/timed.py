"""The rule files that list things, and the ``at`` of the things that happen at set times.

``reminders.yaml``, ``broadcasts.yaml`` and ``duty.yaml`` (and every such file to come) are one
key holding a list of items. :func:`read_list` reads the file and hands each item to a reader
built on :class:`ItemReader`, which checks the words every such file shares: misspelt keys (with
the key that was meant), names in both languages, template names, a choice among fixed words,
times of day in quotes, and ``at``. Every problem carries its line and the item's id; a file with
any problem gives nothing, so a half-read file never runs.

An ``at`` (:class:`At`) is written in calendar terms ("weeks 2 and 16 of every semester, Monday
10:00"; "a week before the call for projects closes", from a yearly period of calendar.yaml;
"the first day of the graduation period", from a special period), as days of the month, as one
date, or as a crontab line; :meth:`At.times` turns it into the moments of a stretch of time, and
:meth:`Timed.occasions` into the moments an item is due (a reminder may come days before),
which services plan as firings.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.triggers.cron import CronTrigger

from assistant.domain import MissedPolicy, Role, RoleGroup, roles_named
from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.yamlfile import Located, LocatedList, YamlError, line_of
from assistant.yamlfile import load as load_yaml

Report = Callable[[int, str | None, str, str | None], None]
"""Adds a problem: line, item id, message, suggestion."""

ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}")
_TEMPLATE = re.compile(r"[a-z0-9_/]{1,80}")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
AT_FORMS = (
    "{weeks, weekday, time}, {days, time}, {date, time}, {opens or closes, days_before, time}, "
    "{period, time} or {cron}"
)
_AT_KEYS = (
    frozenset({"weeks", "weekday", "time"}),
    frozenset({"days", "time"}),
    frozenset({"date", "time"}),
    frozenset({"opens", "time"}),
    frozenset({"opens", "days_before", "time"}),
    frozenset({"closes", "time"}),
    frozenset({"closes", "days_before", "time"}),
    frozenset({"period", "time"}),
    frozenset({"cron"}),
)
# Inside ``at``, days_before counts from a yearly period's edge; a reminder's own days_before,
# beside ``at``, is a list counting back from any ``at``: the two are easily mixed up.
_DAYS_BEFORE_INSIDE = " (days_before inside at goes only with opens or closes)"
_DAYS_BEFORE_BESIDE = (
    " (days_before inside at goes only with opens or closes; to be reminded days before any "
    "other at, write days_before: [7, 1] beside at, not inside it)"
)
_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ROLE_WORDS = (*(role.value for role in Role), *(group.value for group in RoleGroup))

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)


def crontab(line: str, zone: tzinfo) -> CronTrigger:
    """APScheduler's trigger for a standard crontab line.

    APScheduler numbers weekdays from Monday = 0; crontab from Sunday = 0 (and 7). Weekday
    numbers are written as names first, so that "1" means Monday as everyone expects.
    """
    fields = line.split()
    if len(fields) == 5:
        fields[4] = re.sub(
            r"\d+", lambda m: _CRON_WEEKDAYS[int(m[0])] if int(m[0]) < 8 else m[0], fields[4]
        )
    return CronTrigger.from_crontab(" ".join(fields), timezone=zone)


class Edge(enum.StrEnum):
    """Which end of a yearly period an ``at`` counts from."""

    OPENS = "opens"
    CLOSES = "closes"


@dataclass(frozen=True)
class At:
    """When something happens: weeks of every semester, days of the month, one date, some days
    before a yearly period of the calendar opens or closes (every year), the first day of a
    special period of the calendar (``period``), or cron."""

    weeks: tuple[int, ...] = ()
    weekday: int = 1
    days: tuple[int, ...] = ()
    on: date | None = None
    # A special period of calendar.yaml (its id): due on the first day of each one written.
    period: str | None = None
    clock: time = time(9, 0)
    cron: str | None = None
    # A yearly period of calendar.yaml (its id), the end counted from, and how many days before
    # it (one number, unlike a reminder's own list of days_before, which counts from this).
    yearly: str | None = None
    edge: Edge = Edge.CLOSES
    days_before: int = 0

    def edge_day(self, calendar: Calendar, year: int) -> date | None:
        """The day of ``year``'s period this counts from (its first or last); None without one."""
        period = calendar.yearly_period(self.yearly) if self.yearly else None
        if period is None:
            return None
        first, last = period.in_year(year)
        return first if self.edge is Edge.OPENS else last

    def times(
        self, calendar: Calendar, start: datetime, end: datetime, zone: tzinfo
    ) -> list[datetime]:
        """The moments (UTC-aware) in [start, end) this is due, in campus time ``zone``."""
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
        elif self.yearly is not None:
            # The period's end may fall in the year after the reminder's day.
            for year in range(first.year, last.year + 2):
                edge = self.edge_day(calendar, year)
                days += [edge - timedelta(days=self.days_before)] if edge else []
        elif self.period is not None:
            # Each year's period is written in calendar.yaml under the same id.
            days = [p.first for p in calendar.periods if p.id == self.period]
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


@dataclass(frozen=True)
class Timed:
    """An item that happens at the moments of its ``at`` and says its template to someone: a
    reminder, a scheduled broadcast. ``line`` is where it starts in ``file``."""

    id: str
    name: dict[str, str]
    template: str
    missed: MissedPolicy
    at: At
    file: str
    line: int

    def occasions(
        self, calendar: Calendar, start: datetime, end: datetime, zone: tzinfo
    ) -> list[tuple[datetime, datetime]]:
        """(due, moment) for every time in [start, end) this is due: ``moment`` is what it is
        about, a moment of its ``at``; here the two are the same."""
        return [(moment, moment) for moment in self.at.times(calendar, start, end, zone)]


def unknown_periods(items: Iterable[Timed], calendar: Calendar) -> list[RuleProblem]:
    """A problem for each item whose ``at`` counts from a yearly period the calendar does not
    list (read after both files, as either may be the one to fix)."""
    known = [y.id for y in calendar.yearly]
    return [
        RuleProblem(
            item.file,
            item.line,
            item.id,
            f"at counts from '{item.at.yearly}', which is no yearly period of calendar.yaml"
            + (f" (known: {', '.join(known)})" if known else " (it lists none)"),
            close_to(item.at.yearly, known),
        )
        for item in items
        if item.at.yearly is not None and item.at.yearly not in known
    ]


def read_list(
    directory: Path,
    file_name: str,
    top: str,
    each: str,
    read: Callable[[Located, Report, str], T | None],
    identity: Callable[[T], str],
    problems: list[RuleProblem],
    *,
    id_key: str = "id",
) -> tuple[T, ...]:
    """Read the list under ``top`` in ``directory/file_name`` (no file: nothing).

    ``read`` checks one item (given the item, the report and the file's name); ``identity``
    names what may appear only once, found under ``id_key``; ``each`` ends the sentence said of
    an item that is no mapping ("each reminder must be a mapping with ..."). Problems are added
    to ``problems``; if there are any, nothing is returned.
    """
    path = directory / file_name
    if not path.exists():
        return ()
    file = f"{directory.name}/{file_name}"
    before = len(problems)

    def report(line: int, item: str | None, message: str, suggestion: str | None = None) -> None:
        problems.append(RuleProblem(file, line, item, message, suggestion))

    try:
        data = load_yaml(path)
    except YamlError as exc:
        report(exc.line, None, str(exc))
        return ()
    if not isinstance(data, Located) or set(data) != {top}:
        report(line_of(data), None, f"expected one key, {top}: a list of {top}")
        return ()
    items = data[top]
    if not isinstance(items, LocatedList):
        report(data.lines[top], None, f"{top} must be a list")
        return ()
    found: list[T] = []
    first: dict[str, int] = {}
    for line, node in zip(items.lines, items, strict=True):
        if not isinstance(node, Located):
            report(line, None, f"each {each}")
            continue
        item = read(node, report, file)
        if item is None:
            continue
        name = identity(item)
        if name in first:
            report(
                node.lines[id_key],
                name,
                f"{id_key} '{name}' is used twice (first on line {first[name]})",
            )
        first.setdefault(name, node.lines[id_key])
        found.append(item)
    return tuple(found) if len(problems) == before else ()


def close_to(word: object, known: Iterable[str]) -> str | None:
    """The known word ``word`` was most likely meant to be, if any is close."""
    close = difflib.get_close_matches(str(word), list(known), n=1)
    return close[0] if close else None


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


class ItemReader:
    """Checks one item of a list file, reporting each problem with its line and the item's id.

    ``failed`` says whether any problem was found; ``misspelt`` holds the known keys that an
    unknown key was taken for, so that they are not reported missing a second time.
    """

    def __init__(self, item: Located, report: Report) -> None:
        self.item = item
        self.report = report
        self.id: str | None = None
        self.failed = False
        self.misspelt: set[str] = set()

    def problem(
        self,
        key: str | None,
        message: str,
        suggestion: str | None = None,
        *,
        node: Located | None = None,
        item_id: str | None = None,
    ) -> None:
        """Report a problem at ``key`` of ``node`` (the item by default), or at the node."""
        where = node if node is not None else self.item
        line = where.lines.get(key, where.line) if key else where.line
        self.report(line, item_id or self.id, message, suggestion)
        self.failed = True

    def keys(
        self, known: Mapping[str, str], node: Located | None = None, item_id: str | None = None
    ) -> set[str]:
        """Report every key not in ``known``; returns the known keys they were likely meant
        to be (also kept in ``misspelt`` when ``node`` is the item itself)."""
        where = node if node is not None else self.item
        meant: set[str] = set()
        for key in where:
            if key not in known:
                close = close_to(key, known)
                meant.update([close] if close else [])
                self.problem(
                    key,
                    f"unknown key '{key}' (known: {', '.join(known)})",
                    close,
                    node=where,
                    item_id=item_id,
                )
        if node is None:
            self.misspelt |= meant
        return meant

    def identifier(self, key: str = "id", pattern: re.Pattern[str] = ID) -> str | None:
        """The item's id, reported when missing or badly formed."""
        value = self.item.get(key)
        if isinstance(value, str) and pattern.fullmatch(value):
            self.id = value
            return value
        self.problem(key, "missing or bad id (lowercase letters, digits, - and _)")
        return None

    def names(self, key: str = "name") -> dict[str, str] | None:
        """The item's name in both languages, keyed by language."""
        name = self.item.get(key)
        if (
            isinstance(name, Located)
            and set(name) == {"zh", "en"}
            and all(isinstance(v, str) and v for v in name.values())
        ):
            return {"zh-CN": name["zh"], "en": name["en"]}
        self.problem(key, f"{key} must be {{zh: ..., en: ...}}")
        return None

    def template(self, example: str) -> str | None:
        """The name of the item's message template (``example`` shows one)."""
        value = self.item.get("template")
        if isinstance(value, str) and _TEMPLATE.fullmatch(value):
            return value
        if "template" not in self.misspelt:
            self.problem("template", f"template must be a template name like {example}")
        return None

    def roles(self, key: str, node: Located) -> tuple[Role, ...]:
        """The roles listed under ``key`` of ``node`` (none when left out): each a role, or a
        group of roles such as ``coordination_group``, which stands for all of its roles."""
        names = node.get(key, [])
        if not isinstance(names, list):
            self.problem(key, f"{key} must be a list of roles", node=node)
            return ()
        found: dict[Role, None] = {}
        for name in names:
            meant = roles_named(str(name))
            if meant is None:
                close = close_to(name, _ROLE_WORDS)
                self.problem(key, f"unknown role '{name}'", close, node=node)
            else:
                found.update(dict.fromkeys(meant))
        return tuple(found)

    def choice(self, key: str, kind: type[E], default: E) -> E:
        """One of the words of ``kind`` under ``key`` (``default`` when left out)."""
        text = self.item.get(key, default.value)
        words = [member.value for member in kind]
        if text in words:
            return kind(text)
        self.problem(key, f"{key} is {text!r} ({' or '.join(words)})", close_to(text, words))
        return default

    def clock(
        self, key: str, example: str, node: Located | None = None, item_id: str | None = None
    ) -> time | None:
        """A time of day written in quotes (``example``, like "18:00") under ``key``."""
        where = node if node is not None else self.item
        value = where[key]
        match = _TIME.fullmatch(str(value))
        if match is not None:
            return time(int(match[1]), int(match[2]))
        # Unquoted, 18:00 is read by YAML as the number 1080 (sexagesimal).
        meant = f'"{value // 60:02}:{value % 60:02}"' if _whole(value, 0, 1439) else None
        self.problem(
            key,
            f'{key} is {value!r}, not a time in quotes like "{example}"',
            meant,
            node=where,
            item_id=item_id,
        )
        return None

    def timed(
        self, known: Mapping[str, str], example: str, periods: Collection[str] = ()
    ) -> dict[str, Any] | None:
        """The fields of a :class:`Timed` item (id, name, template, missed, at), or None;
        ``known`` are the keys an item of the file may have, ``example`` a template name,
        ``periods`` the ids of the calendar's special periods an ``at`` may name."""
        item_id = self.identifier()
        self.keys(known)
        name = self.names()
        template = self.template(example)
        missed = self.choice("missed", MissedPolicy, MissedPolicy.LATE_ONCE)
        at = None if "at" in self.misspelt else self.at(periods, beside="days_before" in known)
        if self.failed or None in (item_id, name, template, at):
            return None
        return {"id": item_id, "name": name, "template": template, "missed": missed, "at": at}

    def at(self, periods: Collection[str] = (), *, beside: bool = False) -> At | None:
        """The item's ``at``: when it happens (``periods``: the calendar's period ids;
        ``beside``: the item may have its own ``days_before`` list beside ``at``, as a reminder
        may, which the problems then point to)."""
        at = self.item.get("at")
        if not isinstance(at, Located):
            self.problem("at", f"at must be a mapping: {AT_FORMS}")
            return None
        if frozenset(at) not in _AT_KEYS:
            hint = ""
            if "days_before" in at and not set(at) & set(Edge):
                hint = _DAYS_BEFORE_BESIDE if beside else _DAYS_BEFORE_INSIDE
            self.problem(
                "at", f"at has {', '.join(sorted(at)) or 'nothing'}; write one of {AT_FORMS}{hint}"
            )
            return None
        failed, self.failed = self.failed, False
        fields: dict[str, Any] = {}
        if "time" in at:
            fields["clock"] = self.clock("time", "10:00", node=at)
        if "weeks" in at:
            weeks = at["weeks"]
            if isinstance(weeks, list) and weeks and all(_whole(w, 1, 30) for w in weeks):
                fields["weeks"] = tuple(weeks)
            else:
                self.problem(
                    "weeks",
                    "weeks must be a list of week numbers of the semester, like [2, 16]",
                    node=at,
                )
            if _whole(at["weekday"], 1, 7):
                fields["weekday"] = at["weekday"]
            else:
                self.problem("weekday", "weekday must be 1 (Monday) to 7 (Sunday)", node=at)
        if "days" in at:
            days = at["days"]
            if isinstance(days, list) and days and all(_whole(d, 1, 31) for d in days):
                fields["days"] = tuple(days)
            else:
                self.problem(
                    "days", "days must be a list of days of the month, like [1, 20]", node=at
                )
        if "date" in at:
            if isinstance(at["date"], date):
                fields["on"] = at["date"]
            else:
                self.problem("date", f"date is {at['date']!r}, not a date like 2026-12-01", node=at)
        for edge in Edge:
            if edge in at:
                if isinstance(at[edge], str) and ID.fullmatch(at[edge]):
                    fields["yearly"], fields["edge"] = at[edge], edge
                else:
                    self.problem(
                        edge,
                        f"{edge} is {at[edge]!r}, not the id of a yearly period of calendar.yaml",
                        node=at,
                    )
        if "days_before" in at:
            if _whole(at["days_before"], 0, 366):
                fields["days_before"] = at["days_before"]
            else:
                self.problem(
                    "days_before",
                    f"days_before inside at is {at['days_before']!r}: one whole number of days "
                    "before the yearly period opens or closes, like 7"
                    + (", and a list like [7, 1] goes beside at, not inside it" if beside else ""),
                    node=at,
                )
        if "period" in at:
            if isinstance(at["period"], str) and at["period"] in periods:
                fields["period"] = at["period"]
            else:
                known = ", ".join(sorted(periods)) or "none: calendar.yaml lists no periods"
                self.problem(
                    "period",
                    f"period {at['period']!r} is not a period of calendar.yaml (known: {known})",
                    close_to(at["period"], periods),
                    node=at,
                )
        if "cron" in at:
            try:
                crontab(str(at["cron"]), UTC)
            except ValueError as exc:
                self.problem("cron", f"cron is {at['cron']!r}: {exc}", "0 9 * * 1", node=at)
            else:
                fields["cron"] = str(at["cron"])
        ok = not self.failed
        self.failed = failed or self.failed
        return At(**fields) if ok else None
