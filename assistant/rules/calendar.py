"""The academic calendar (校历), ``rules/calendar.yaml``: semesters, teaching and exam weeks,
vacations, special periods, and the periods that come back every year on the same days (the
call for community party-building projects), on top of China's public holidays.

Rules ask about a day through its facts (:meth:`Calendar.facts`): ``teaching_week == 3``,
``is_exam_week``, ``'graduation' in periods``, ``is_holiday``. National holidays and make-up
workdays come from the maintained chinese-calendar package, never from this file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from assistant.rules.errors import RuleProblem
from assistant.rules.holidays import is_holiday, package_years
from assistant.yamlfile import Located, LocatedList, YamlError, line_of
from assistant.yamlfile import load as load_yaml

FILE_NAME = "calendar.yaml"
_TERM_FACTS = ("semester", "week", "teaching_week", "is_exam_week", "is_vacation", "periods")
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_MONTH_DAY = re.compile(r"(\d{1,2})-(\d{1,2})")
# A year with no 29 February: a yearly period's days must come every year.
_PLAIN_YEAR = 2001
_TOP = {
    "semesters": "a list of semesters",
    "periods": "a list of special periods",
    "yearly": "periods that come back every year: [{id, name, from: 09-01, to: 12-15}, ...]",
    "holidays": "public holidays the package does not know yet: [{id, name, from, to}, ...]",
    "workdays": "make-up workdays the package does not know yet: [2027-02-20, ...]",
}
_SEMESTER = {
    "id": "a short id like 2026-autumn",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "first_day": "the Monday teaching week 1 begins, like 2026-09-07",
    "teaching_weeks": "how many weeks of teaching",
    "exam_weeks": "the weeks of exams, counted from week 1, like [19, 20]",
    "last_day": "the semester's last day; the vacation follows",
}
_PERIOD = {
    "id": "a short id like freshmen-arrival",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "from": "the first day, like 2026-09-05",
    "to": "the last day, like 2026-09-06",
}
_YEARLY = {
    "id": "a short id like project-call",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "from": "the first day of every year's period, month and day, like 09-01",
    "to": "the last day of every year's period, month and day, like 12-15",
}


@dataclass(frozen=True)
class Semester:
    """One semester: teaching weeks from ``first_day``, then (or among them) exam weeks."""

    id: str
    name: dict[str, str]
    first_day: date
    teaching_weeks: int
    exam_weeks: frozenset[int]
    last_day: date
    line: int = 0

    def week(self, day: date) -> int | None:
        """The week of the semester ``day`` falls in (1 is the first), or None outside it."""
        if not self.first_day <= day <= self.last_day:
            return None
        return (day - self.first_day).days // 7 + 1


@dataclass(frozen=True)
class Period:
    """A special period (freshmen arrival, graduation), both days included."""

    id: str
    name: dict[str, str]
    first: date
    last: date


@dataclass(frozen=True)
class Yearly:
    """A period that comes back every year on the same days (``first`` and ``last`` are
    (month, day), both included, within one calendar year): the call for projects."""

    id: str
    name: dict[str, str]
    first: tuple[int, int]
    last: tuple[int, int]
    line: int = 0

    def in_year(self, year: int) -> tuple[date, date]:
        """The period's first and last day in ``year``."""
        return date(year, *self.first), date(year, *self.last)

    def holds(self, day: date) -> bool:
        """Whether ``day`` is in the period (of its own year)."""
        first, last = self.in_year(day.year)
        return first <= day <= last

    def current(self, day: date) -> tuple[date, date]:
        """The period ``day`` is in, else the next one to come: this year's until its last
        day has passed, then next year's."""
        first, last = self.in_year(day.year)
        return (first, last) if day <= last else self.in_year(day.year + 1)


@dataclass(frozen=True)
class Calendar:
    """The semesters and special periods of ``calendar.yaml``; empty when there is none."""

    semesters: tuple[Semester, ...] = ()
    periods: tuple[Period, ...] = ()
    yearly: tuple[Yearly, ...] = ()
    # Public holidays and make-up workdays the file lists: they come before chinese-calendar.
    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    file: str = FILE_NAME

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday or a weekend (make-up workdays are not)."""
        return is_holiday(day, self.days_off, self.workdays)

    def gaps(self) -> list[str]:
        """One warning per semester year whose public holidays nobody knows: chinese-calendar
        has no data for it and the file lists none. Only weekends count as days off there."""
        listed = {day.year for day in (*self.days_off, *self.workdays)}
        found = []
        for semester in self.semesters:
            for year in range(semester.first_day.year, semester.last_day.year + 1):
                if year not in package_years() and year not in listed:
                    found.append(
                        f"{self.file}:{semester.line} [{semester.id}]: warning: chinese-calendar "
                        f"has no public holidays for {year} and this file lists none, so only "
                        f"weekends count as days off in {year}; add that year's holidays: and "
                        "workdays: from the State Council's notice (see README, once a year)"
                    )
        return found

    def yearly_period(self, period_id: str) -> Yearly | None:
        """The yearly period ``period_id``, if the file lists it."""
        return next((y for y in self.yearly if y.id == period_id), None)

    def semester_of(self, day: date) -> Semester | None:
        """The semester ``day`` is in, if any."""
        return next((s for s in self.semesters if s.week(day) is not None), None)

    def day_facts(self, day: date) -> dict[str, Any]:
        """Everything rules may ask of ``day`` (a campus date): the date itself (ISO text,
        which compares in date order), its weekday, day of the month and year, and
        :meth:`facts`."""
        return {
            "date": day.isoformat(),
            "weekday": day.isoweekday(),
            "day_of_month": day.day,
            "year": day.year,
            **self.facts(day),
        }

    def facts(self, day: date) -> dict[str, Any]:
        """What the calendar says of ``day`` (a campus date)."""
        if not self.semesters:
            # Without a calendar nothing is known about semesters: neither term nor vacation.
            return {"is_holiday": self.is_holiday(day), **dict.fromkeys(_TERM_FACTS)}
        semester = self.semester_of(day)
        week = semester.week(day) if semester else None
        teaching = week if semester and week and week <= semester.teaching_weeks else None
        return {
            "is_holiday": self.is_holiday(day),
            "semester": semester.id if semester else None,
            "week": week,
            "teaching_week": teaching if semester and week not in semester.exam_weeks else None,
            "is_exam_week": bool(semester and week in semester.exam_weeks),
            "is_vacation": semester is None,
            "periods": [p.id for p in self.periods if p.first <= day <= p.last]
            + [y.id for y in self.yearly if y.holds(day)],
        }


def load_calendar(directory: Path, problems: list[RuleProblem]) -> Calendar:
    """Read ``calendar.yaml`` of ``directory`` (none: an empty calendar); problems are added to
    ``problems``, each with its line, id and a suggestion."""
    path = directory / FILE_NAME
    if not path.exists():
        return Calendar()
    reader = _Reader(f"{directory.name}/{FILE_NAME}", problems)
    try:
        data = load_yaml(path)
    except YamlError as exc:
        reader.problem(exc.line, None, str(exc))
        return Calendar()
    if not isinstance(data, Located):
        reader.problem(line_of(data), None, "expected a mapping with semesters and periods")
        return Calendar()
    reader.keys(data, _TOP, None)
    semesters = [s for s in map(reader.semester, reader.items(data, "semesters")) if s]
    periods = [p for p in map(reader.period, reader.items(data, "periods")) if p]
    holidays = [p for p in map(reader.period, reader.items(data, "holidays")) if p]
    yearly = [y for y in map(reader.yearly, reader.items(data, "yearly")) if y]
    workdays = reader.dates(data, "workdays")
    reader.no_overlap(semesters, data)
    days_off = {
        p.first + timedelta(days=n) for p in holidays for n in range((p.last - p.first).days + 1)
    }
    for day in sorted(days_off & workdays):
        reader.problem(
            data.lines["workdays"], None, f"{day} is listed both as a holiday and as a workday"
        )
    return Calendar(
        tuple(sorted(semesters, key=lambda s: s.first_day)),
        tuple(periods),
        tuple(yearly),
        frozenset(days_off),
        frozenset(workdays),
        reader.file,
    )


class _Reader:
    """Checks one calendar file, keeping every problem."""

    def __init__(self, file: str, problems: list[RuleProblem]) -> None:
        self.file = file
        self.problems = problems
        self.ids: set[str] = set()
        # Keys written misspelt: not reported as missing a second time.
        self.misspelt: set[tuple[int, str]] = set()

    def problem(
        self, line: int, item_id: str | None, message: str, suggestion: str | None = None
    ) -> None:
        self.problems.append(RuleProblem(self.file, line, item_id, message, suggestion))

    def keys(self, data: Located, known: dict[str, str], item_id: str | None) -> None:
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                if close:
                    self.misspelt.add((data.line, close[0]))
                self.problem(
                    data.lines[key],
                    item_id,
                    f"unknown key '{key}' (known: {', '.join(known)})",
                    close[0] if close else None,
                )

    def items(self, data: Located, key: str) -> Iterable[Located]:
        if key not in data:
            return []
        value = data[key]
        if not isinstance(value, LocatedList):
            self.problem(data.lines.get(key, data.line), None, f"'{key}' must be a list")
            return []
        found = []
        for line, item in zip(value.lines, value, strict=True):
            if isinstance(item, Located):
                found.append(item)
            else:
                self.problem(line, None, f"each of '{key}' must be a mapping with id, name, ...")
        return found

    def dates(self, data: Located, key: str) -> set[date]:
        """A list of dates under ``key`` (none: empty)."""
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(d, date) for d in value):
            self.problem(
                data.lines.get(key, data.line),
                None,
                f"'{key}' must be a list of dates, like [2027-02-20, 2027-02-28]",
            )
            return set()
        return set(value)

    def _id(self, item: Located) -> str | None:
        value = item.get("id")
        if not isinstance(value, str) or not _ID.fullmatch(value):
            self.problem(
                item.lines.get("id", item.line),
                None,
                "missing or bad id (lowercase letters, digits, - and _)",
            )
            return None
        if value in self.ids:
            self.problem(item.lines["id"], value, f"id '{value}' is used twice")
        self.ids.add(value)
        return value

    def _name(self, item: Located, item_id: str | None) -> dict[str, str] | None:
        name = item.get("name")
        if (
            not isinstance(name, Located)
            or set(name) != {"zh", "en"}
            or not all(isinstance(v, str) and v.strip() for v in name.values())
        ):
            self.problem(
                item.lines.get("name", item.line), item_id, "name must be {zh: ..., en: ...}"
            )
            return None
        return {"zh-CN": name["zh"], "en": name["en"]}

    def _date(self, item: Located, key: str, item_id: str | None) -> date | None:
        value = item.get(key)
        if isinstance(value, date):
            return value
        line = item.lines.get(key, item.line)
        if value is None:
            if (item.line, key) not in self.misspelt:
                self.problem(line, item_id, f"missing '{key}'")
        else:
            self.problem(line, item_id, f"'{key}' is {value!r}, not a date like 2026-09-07")
        return None

    def _count(self, item: Located, key: str, item_id: str | None) -> int | None:
        value = item.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 30:
            return value
        if value is None and (item.line, key) in self.misspelt:
            return None
        self.problem(
            item.lines.get(key, item.line), item_id, f"'{key}' must be a whole number from 1 to 30"
        )
        return None

    def semester(self, item: Located) -> Semester | None:
        start = len(self.problems)
        item_id = self._id(item)
        self.keys(item, _SEMESTER, item_id)
        name = self._name(item, item_id)
        first, last = self._date(item, "first_day", item_id), self._date(item, "last_day", item_id)
        teaching = self._count(item, "teaching_weeks", item_id)
        exams = item.get("exam_weeks", [])
        if not isinstance(exams, list) or not all(
            isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in exams
        ):
            self.problem(
                item.lines.get("exam_weeks", item.line),
                item_id,
                "exam_weeks must be a list of week numbers, like [19, 20]",
            )
            exams = []
        if first is not None and first.isoweekday() != 1:
            monday = first - timedelta(days=first.isoweekday() - 1)
            self.problem(
                item.lines["first_day"],
                item_id,
                f"first_day {first} is not a Monday: week 1 begins on a Monday",
                monday.isoformat(),
            )
        if first is not None and last is not None:
            if last <= first:
                self.problem(item.lines["last_day"], item_id, "last_day must come after first_day")
            else:
                weeks = (last - first).days // 7 + 1
                for week in exams:
                    if week > weeks:
                        self.problem(
                            item.lines["exam_weeks"],
                            item_id,
                            f"exam week {week} is after last_day (the semester has {weeks} weeks)",
                        )
        if None in (item_id, name, first, last, teaching) or len(self.problems) > start:
            return None
        assert item_id and name and first and last and teaching
        return Semester(item_id, name, first, teaching, frozenset(exams), last, item.line)

    def period(self, item: Located) -> Period | None:
        item_id = self._id(item)
        self.keys(item, _PERIOD, item_id)
        name = self._name(item, item_id)
        first, last = self._date(item, "from", item_id), self._date(item, "to", item_id)
        if first is not None and last is not None and last < first:
            self.problem(item.lines["to"], item_id, "'to' must not come before 'from'")
            return None
        if item_id is None or name is None or first is None or last is None:
            return None
        return Period(item_id, name, first, last)

    def _month_day(self, item: Located, key: str, item_id: str | None) -> tuple[int, int] | None:
        value = item.get(key)
        line = item.lines.get(key, item.line)
        if value is None:
            if (item.line, key) not in self.misspelt:
                self.problem(line, item_id, f"missing '{key}'")
            return None
        if isinstance(value, date):
            # A whole date would hold for one year only; the period comes back every year.
            self.problem(
                line,
                item_id,
                f"'{key}' is {value}: write the month and day only, the same every year",
                f"{value.month:02}-{value.day:02}",
            )
            return None
        match = _MONTH_DAY.fullmatch(str(value))
        if match is not None:
            month, day = int(match[1]), int(match[2])
            try:
                date(_PLAIN_YEAR, month, day)
            except ValueError:
                pass
            else:
                return month, day
        self.problem(
            line,
            item_id,
            f"'{key}' is {value!r}, not a day of every year (month-day, like 09-01)",
            "02-28" if str(value).strip() in ("02-29", "2-29") else None,
        )
        return None

    def yearly(self, item: Located) -> Yearly | None:
        item_id = self._id(item)
        self.keys(item, _YEARLY, item_id)
        name = self._name(item, item_id)
        first = self._month_day(item, "from", item_id)
        last = self._month_day(item, "to", item_id)
        if first is not None and last is not None and last < first:
            self.problem(
                item.lines["to"],
                item_id,
                f"'to' ({last[0]:02}-{last[1]:02}) comes before 'from' "
                f"({first[0]:02}-{first[1]:02}): a yearly period runs within one calendar year",
            )
            return None
        if item_id is None or name is None or first is None or last is None:
            return None
        return Yearly(item_id, name, first, last, item.line)

    def no_overlap(self, semesters: list[Semester], data: Located) -> None:
        ordered = sorted(semesters, key=lambda s: s.first_day)
        for earlier, later in pairwise(ordered):
            if later.first_day <= earlier.last_day:
                self.problem(
                    data.lines.get("semesters", 1),
                    later.id,
                    f"semester '{later.id}' begins before '{earlier.id}' ends",
                )
