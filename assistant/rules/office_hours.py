"""Counsellors' office hours (社区辅导员坐班), ``rules/office_hours.yaml``: where each community's
counsellors can be found, on which weekdays and at what hours.

The plan makes the community counsellors the backbone of daily work, with an office of their own
(§三); /onduty shows a student the hours of their community's office beside the activity rooms'
duty rosters, so that they know where to go. Who the counsellors are comes from the campus's
roles, not from this file. Community codes are those of the campus directory; the file is read
before the directory, so a code it does not know is simply never shown, as for duty.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, tzinfo
from pathlib import Path
from typing import Any

from assistant.rules.duty import DAY_SCHEMA
from assistant.rules.errors import RuleProblem
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.timed import ItemReader, Report, read_list
from assistant.yamlfile import Located, LocatedList

FILE_NAME = "office_hours.yaml"
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_KEYS = {
    "id": "a short id like c1-counsellors",
    "community": "the community's code in the campus file, like C1",
    "place": "where the office is, in both languages: {zh: ..., en: ...}",
    "skip": "the days without office hours: a rule over the day, like is_holiday",
    "hours": "the weekly hours: [{days, from, to}, ...]",
}
_HOURS_KEYS = {
    "days": "weekdays, 1 (Monday) to 7 (Sunday), like [1, 2, 3, 4, 5]",
    "from": 'when they start, in quotes, like "14:00"',
    "to": 'when they end, in quotes, like "17:00"',
}


@dataclass(frozen=True)
class Hours:
    """One weekly stretch of office hours: its weekdays and its times (campus time)."""

    days: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class OfficeHours:
    """One office's hours as declared; ``line`` is where the entry starts in ``file``."""

    id: str
    community: str
    place: dict[str, str]
    skip: Compiled | None
    hours: tuple[Hours, ...]
    file: str
    line: int

    def skips(self, day_facts: dict[str, Any]) -> bool:
        """Whether the office is closed on the day of ``day_facts`` (``people.day_facts``)."""
        if self.skip is None:
            return False
        return bool(self.skip.condition.matches(DAY_SCHEMA.subject(day_facts)))

    def open_at(self, day_facts: dict[str, Any], clock: time) -> bool:
        """Whether the office is open at ``clock`` on the day of ``day_facts``."""
        if self.skips(day_facts):
            return False
        weekday = day_facts["weekday"]
        return any(weekday in h.days and h.start <= clock < h.end for h in self.hours)


def load_office_hours(
    directory: Path, timezone: tzinfo, problems: list[RuleProblem]
) -> tuple[OfficeHours, ...]:
    """Read ``office_hours.yaml`` of ``directory`` (none: no office hours are shown); problems
    are added to ``problems`` with line, entry id and a suggestion."""
    context = DAY_SCHEMA.context(timezone)
    return read_list(
        directory,
        FILE_NAME,
        "office_hours",
        "entry must be a mapping with id, community, place, hours",
        lambda item, report, file: _Reader(item, report, context).read(file),
        lambda entry: entry.id,
        problems,
    )


class _Reader(ItemReader):
    """Checks one office's entry and its hours."""

    def __init__(self, item: Located, report: Report, context: Any) -> None:
        super().__init__(item, report)
        self.context = context

    def read(self, file: str) -> OfficeHours | None:
        entry_id = self.identifier()
        meant = self.keys(_KEYS)
        community = self.item.get("community")
        if not (isinstance(community, str) and _CODE.fullmatch(community)):
            if "community" not in meant:
                self.problem("community", "community must be a community's code, like C1")
            community = None
        place = None if "place" in meant else self.names("place")
        skip = self._skip() if "skip" in self.item else None
        hours = () if "hours" in meant else self._hours()
        if self.failed or entry_id is None or community is None or place is None:
            return None
        return OfficeHours(entry_id, community, place, skip, hours, file, self.item.line)

    def _skip(self) -> Compiled | None:
        text = self.item["skip"]
        if isinstance(text, bool):
            text = "true" if text else "false"
        if not isinstance(text, str) or not text.strip():
            self.problem("skip", f"skip must be a rule in quotes: {_KEYS['skip']}")
            return None
        compiled, found = compile_when(text, DAY_SCHEMA, self.context)
        for each in found:
            self.problem("skip", f"skip: {each.message}", each.suggestion)
        return compiled

    def _hours(self) -> tuple[Hours, ...]:
        raw = self.item.get("hours")
        if not isinstance(raw, LocatedList) or not raw:
            self.problem("hours", "hours must be a list of {days, from, to}")
            return ()
        found: list[tuple[Hours, int]] = []
        for line, node in zip(raw.lines, raw, strict=True):
            if not isinstance(node, Located):
                self.report(
                    line, self.id, "each hours entry must be a mapping with days, from, to", None
                )
                self.failed = True
                continue
            hours = self._one(node)
            if hours is None:
                continue
            for other, other_line in found:
                common = other.days & hours.days
                if common and hours.start < other.end and other.start < hours.end:
                    self.problem(
                        "from",
                        f"these hours overlap those of line {other_line} on weekday {min(common)}",
                        node=node,
                    )
            found.append((hours, node.line))
        return tuple(hours for hours, _ in found)

    def _one(self, node: Located) -> Hours | None:
        meant = self.keys(_HOURS_KEYS, node, self.id)
        failed, self.failed = self.failed, False
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
                )
            days = []
        clocks = []
        for key in ("from", "to"):
            if key in node:
                clocks.append(self.clock(key, "14:00", node=node))
            else:
                if key not in meant:
                    self.problem(None, f"missing {key}: {_HOURS_KEYS[key]}", node=node)
                clocks.append(None)
        start, end = clocks
        if start is not None and end is not None and end <= start:
            self.problem("to", f"to ({end:%H:%M}) must be after from ({start:%H:%M})", node=node)
        ok = not self.failed
        self.failed = failed or self.failed
        if not ok or start is None or end is None:
            return None
        return Hours(frozenset(days), start, end)
