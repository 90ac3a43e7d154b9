"""China's public holidays and make-up workdays, from the maintained chinese-calendar package."""

from __future__ import annotations

import logging
from datetime import date

import chinese_calendar

log = logging.getLogger(__name__)

# Years already reported as missing, so the log says it once rather than on every decision.
_missing_years: set[int] = set()


def is_holiday(day: date) -> bool:
    """Whether ``day`` (a campus date) is a day off: a public holiday or a weekend.

    Make-up workdays count as workdays. For a year the package has no data for yet, only
    weekends count, and the gap is logged so that the IT team updates the package.
    """
    try:
        return bool(chinese_calendar.is_holiday(day))
    except NotImplementedError:
        if day.year not in _missing_years:
            _missing_years.add(day.year)
            log.warning("no holiday data for %s; update chinese-calendar", day.year)
        return day.isoweekday() >= 6
