"""China's public holidays and make-up workdays: from the maintained chinese-calendar package,
and from the academic calendar file for the years the package does not know yet."""

from __future__ import annotations

import logging
from datetime import date
from functools import cache

import chinese_calendar

log = logging.getLogger(__name__)

# Years already reported as missing, so the log says it once rather than on every decision.
_missing_years: set[int] = set()


@cache
def package_years() -> frozenset[int]:
    """The years chinese-calendar has the State Council's holiday arrangements for."""
    return frozenset(day.year for day in (*chinese_calendar.holidays, *chinese_calendar.workdays))


def is_holiday(
    day: date, days_off: frozenset[date] = frozenset(), workdays: frozenset[date] = frozenset()
) -> bool:
    """Whether ``day`` (a campus date) is a day off: a public holiday or a weekend.

    Make-up workdays count as workdays. ``days_off`` and ``workdays`` are those the calendar
    file lists; they come before the package. For a year neither knows, only weekends count,
    and the gap is logged so that the IT team lists that year's holidays or updates the package.
    """
    if day in days_off:
        return True
    if day in workdays:
        return False
    try:
        return bool(chinese_calendar.is_holiday(day))
    except NotImplementedError:
        if day.year not in _missing_years and not any(
            d.year == day.year for d in (*days_off, *workdays)
        ):
            _missing_years.add(day.year)
            log.warning(
                "no holiday data for %s: list it in rules/calendar.yaml or update chinese-calendar",
                day.year,
            )
        return day.isoweekday() >= 6
