"""Dates as people type them, in Chinese or English: 今天, 明天, 后天, 周五, 12月10日, 12-10,
2026-12-10, today, tomorrow, fri, Dec 10.

A day named without a year is the next one to come (on 5 December, "1月3日" is next January's);
a weekday is the next one from today on (today's own if it is that day); 下周五 is the Friday of
next week. Anything else is None, never an exception: the step re-prompts.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

_RELATIVE = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "明天": 1,
    "明日": 1,
    "tomorrow": 1,
    "后天": 2,
    "後天": 2,
    "dayaftertomorrow": 2,
    "thedayaftertomorrow": 2,
}
_CHINESE_DAYS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7}
_ENGLISH_DAYS = {
    "mon": 1,
    "monday": 1,
    "tue": 2,
    "tues": 2,
    "tuesday": 2,
    "wed": 3,
    "wednesday": 3,
    "thu": 4,
    "thur": 4,
    "thurs": 4,
    "thursday": 4,
    "fri": 5,
    "friday": 5,
    "sat": 6,
    "saturday": 6,
    "sun": 7,
    "sunday": 7,
}
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAY = re.compile(r"(下)?(?:周|星期|礼拜)([一二三四五六日天])")
_FULL = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})[日号]?")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_MONTH_DAY = re.compile(r"(\d{1,2})[-/.月](\d{1,2})[日号]?")
_ORDINAL = r"(\d{1,2})(?:st|nd|rd|th)?"
_NAMED_FIRST = re.compile(rf"([a-z]+)\.?{_ORDINAL},?(\d{{4}})?")
_DAY_FIRST = re.compile(rf"{_ORDINAL}([a-z]+)\.?,?(\d{{4}})?")


def parse_day(text: str, today: date) -> date | None:
    """The day ``text`` names, seen from ``today``; None when it names none."""
    # Full-width digits and punctuation (１２月１０日, ２０２６／１２／１０) are the ASCII ones.
    folded = unicodedata.normalize("NFKC", text).casefold()
    cleaned = "".join(folded.split())
    if cleaned in _RELATIVE:
        return today + timedelta(days=_RELATIVE[cleaned])
    if match := _WEEKDAY.fullmatch(cleaned):
        return _weekday(today, _CHINESE_DAYS[match.group(2)], next_week=bool(match.group(1)))
    if cleaned.rstrip(".") in _ENGLISH_DAYS:
        return _weekday(today, _ENGLISH_DAYS[cleaned.rstrip(".")], next_week=False)
    if match := _FULL.fullmatch(cleaned) or _COMPACT.fullmatch(cleaned):
        return _day(*(int(part) for part in match.groups()))
    if match := _MONTH_DAY.fullmatch(cleaned):
        return _coming(today, int(match.group(1)), int(match.group(2)))
    if match := _NAMED_FIRST.fullmatch(cleaned):
        month, day, year = match.groups()
        return _named(today, month, day, year)
    if match := _DAY_FIRST.fullmatch(cleaned):
        day, month, year = match.groups()
        return _named(today, month, day, year)
    return None


def _weekday(today: date, weekday: int, *, next_week: bool) -> date:
    if next_week:
        monday = today - timedelta(days=today.isoweekday() - 1)
        return monday + timedelta(days=7 + weekday - 1)
    return today + timedelta(days=(weekday - today.isoweekday()) % 7)


def _day(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _coming(today: date, month: int, day: int) -> date | None:
    """``month``/``day`` this year, or next year once this year's has passed."""
    this_year = _day(today.year, month, day)
    if this_year is not None and this_year >= today:
        return this_year
    # 29 February: the next year that has one may be years away; none is close enough to book.
    return _day(today.year + 1, month, day)


def _named(today: date, month: str, day: str, year: str | None) -> date | None:
    number = _MONTHS.get(month)
    if number is None:
        return None
    if year is not None:
        return _day(int(year), number, int(day))
    return _coming(today, number, int(day))
