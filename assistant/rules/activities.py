"""Activities (活动), ``rules/activities.yaml``: the year's fixed activities and the kinds of
optional ones (§五 of the plan and its work-plan table).

A fixed activity (固定活动) has an owner (an office such as the Youth League, every counsellor,
or a college's party organisation), a window (months of the year, or a special period of
``calendar.yaml``) and the result the plan expects of it. Its owners are reminded to schedule
it ``remind_days`` before its window opens: that reminder is a :class:`Timed` item, planned as
firings like any reminder. An optional kind (自选活动: party, science, culture, ...) only names a
kind organisers may choose. Organisers create activities of either in /activity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path

from assistant.domain import MissedPolicy, Role
from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.rules.timed import At, ItemReader, Report, Timed, close_to, read_list
from assistant.yamlfile import Located

FILE_NAME = "activities.yaml"
TEMPLATE = "activity/plan_reminder"
"""What an owner is told before a fixed activity's window opens."""
REMIND_AT = time(9, 0)
REMIND_DAYS = 14
"""How many days before its window a fixed activity's owners are reminded, unless it says."""
KINDS = ("fixed", "optional")

_COLLEGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_KEYS = {
    "id": "a short id like dorm-cup",
    "kind": "fixed (固定活动) or optional (自选活动)",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "owner": "who schedules it: {roles: [youth_league]} and/or {college: BUS}",
    "window": "when in the year: {months: [10, 11]} or {period: freshmen-arrival}",
    "result": "the expected result in both languages: {zh: ..., en: ...}",
    "part_of": "the id of the fixed activity this one belongs to",
    "remind_days": f"days before the window its owners are reminded (default {REMIND_DAYS})",
}
_FIXED_ONLY = ("owner", "window", "result", "part_of", "remind_days")
_OWNER_KEYS = {
    "roles": "the roles that schedule it (or coordination_group, or one of its offices)",
    "college": "a college's code: its party organisation (or the roles held over it)",
}
_WINDOW_KEYS = {
    "months": "months of the year, like [10, 11]",
    "period": "the id of a special period of calendar.yaml, like freshmen-arrival",
}


@dataclass(frozen=True)
class Owner:
    """Who schedules a fixed activity: holders of ``roles``, over ``college`` when one is named
    (a college alone means its party organisation's leaders)."""

    roles: tuple[Role, ...]
    college: str | None = None


@dataclass(frozen=True)
class Window:
    """When in the year a fixed activity belongs: some months, or a special period."""

    months: tuple[int, ...] = ()
    period: str | None = None

    def opens(self, calendar: Calendar) -> date | None:
        """The first day of the period (None for months: they come back every year)."""
        found = next((p for p in calendar.periods if p.id == self.period), None)
        return found.first if found is not None else None


@dataclass(frozen=True)
class ActivityKind:
    """A kind an organiser may choose in /activity: a fixed activity or an optional kind."""

    id: str
    name: dict[str, str]
    fixed: bool
    file: str
    line: int


@dataclass(frozen=True)
class FixedActivity(Timed):
    """A fixed activity of the year; as a :class:`Timed` item its ``at`` is the reminder to its
    owners, ``remind_days`` before its window opens, at 09:00 campus time."""

    owner: Owner
    window: Window
    result: dict[str, str]
    part_of: str | None
    remind_days: int

    @property
    def kind(self) -> ActivityKind:
        """The kind organisers choose to hold it."""
        return ActivityKind(self.id, self.name, True, self.file, self.line)


def load_activities(
    directory: Path, calendar: Calendar, problems: list[RuleProblem]
) -> tuple[tuple[FixedActivity, ...], tuple[ActivityKind, ...]]:
    """Read ``activities.yaml`` of ``directory`` (none: no activities): its fixed activities,
    and every kind organisers may choose (fixed ones first, in file order). Problems are added
    to ``problems`` with line, id and a suggestion; ``calendar`` names the periods a window may
    be."""
    before = len(problems)

    def read(item: Located, report: Report, file: str) -> FixedActivity | ActivityKind | None:
        return _Reader(item, report, calendar).read(file)

    def identity(found: FixedActivity | ActivityKind) -> str:
        return found.id

    items: tuple[FixedActivity | ActivityKind, ...] = read_list(
        directory,
        FILE_NAME,
        "activities",
        "activity must be a mapping with id, kind, name, ...",
        read,
        identity,
        problems,
    )
    fixed = tuple(item for item in items if isinstance(item, FixedActivity))
    ids = {item.id for item in fixed}
    for item in fixed:
        if item.part_of is not None and item.part_of not in ids:
            problems.append(
                RuleProblem(
                    item.file,
                    item.line,
                    item.id,
                    f"part_of names '{item.part_of}', which is no fixed activity of this file",
                    close_to(item.part_of, ids),
                )
            )
    if len(problems) > before:
        return (), ()
    kinds = tuple(item.kind if isinstance(item, FixedActivity) else item for item in items)
    return fixed, tuple(sorted(kinds, key=lambda kind: not kind.fixed))


class _Reader(ItemReader):
    """Checks one activity."""

    def __init__(self, item: Located, report: Report, calendar: Calendar) -> None:
        super().__init__(item, report)
        self.calendar = calendar

    def read(self, file: str) -> FixedActivity | ActivityKind | None:
        item_id = self.identifier()
        self.keys(_KEYS)
        name = self.names()
        kind = self.item.get("kind")
        if kind not in KINDS:
            self.problem("kind", f"kind is {kind!r} ({' or '.join(KINDS)})", close_to(kind, KINDS))
            return None
        if kind == "optional":
            for key in _FIXED_ONLY:
                if key in self.item:
                    self.problem(key, f"an optional kind has no {key}: leave it out")
            if self.failed or item_id is None or name is None:
                return None
            return ActivityKind(item_id, name, False, file, self.item.line)
        owner = self._owner()
        window = self._window()
        result = self.names("result") if "result" not in self.misspelt else None
        part_of = self.item.get("part_of")
        if part_of is not None and not isinstance(part_of, str):
            self.problem("part_of", "part_of must be the id of a fixed activity")
        days = self.item.get("remind_days", REMIND_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 120:
            self.problem("remind_days", "remind_days must be a whole number of days from 1 to 120")
        if self.failed or None in (item_id, name, owner, window, result):
            return None
        assert item_id is not None and name is not None and result is not None
        assert owner is not None and window is not None
        return FixedActivity(
            id=item_id,
            name=name,
            template=TEMPLATE,
            missed=MissedPolicy.LATE_ONCE,
            at=self._at(window, days),
            file=file,
            line=self.item.line,
            owner=owner,
            window=window,
            result=result,
            part_of=part_of,
            remind_days=days,
        )

    def _owner(self) -> Owner | None:
        owner = self.item.get("owner")
        if not isinstance(owner, Located) or not set(owner) or set(owner) - set(_OWNER_KEYS):
            if "owner" not in self.misspelt:
                self.problem("owner", "owner must be {roles: [...]} and/or {college: CODE}")
            return None
        roles = self.roles("roles", owner)
        college = owner.get("college")
        if college is not None and not (isinstance(college, str) and _COLLEGE.fullmatch(college)):
            self.problem(
                "college", f"college is {college!r}, not a college's code like BUS", node=owner
            )
            return None
        if owner.get("roles") == []:
            self.problem("roles", "roles is empty: name who schedules it", node=owner)
            return None
        if not roles:
            roles = (Role.COLLEGE_PARTY_LEADER,)
        return Owner(roles, college)

    def _window(self) -> Window | None:
        window = self.item.get("window")
        if not isinstance(window, Located) or len(window) != 1 or set(window) - set(_WINDOW_KEYS):
            if "window" not in self.misspelt:
                self.problem(
                    "window", "window must be {months: [10, 11]} or {period: freshmen-arrival}"
                )
            return None
        if "months" in window:
            months = window["months"]
            if (
                isinstance(months, list)
                and months
                and all(
                    isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months
                )
            ):
                return Window(months=tuple(months))
            self.problem(
                "months", "months must be a list of months 1-12, like [10, 11]", node=window
            )
            return None
        period = window["period"]
        known = [p.id for p in self.calendar.periods]
        if period not in known:
            self.problem(
                "period",
                f"period {period!r} is not a special period of calendar.yaml "
                f"(known: {', '.join(known) or 'none'})",
                close_to(period, known),
                node=window,
            )
            return None
        return Window(period=str(period))

    def _at(self, window: Window, days: int) -> At:
        opens = window.opens(self.calendar)
        if opens is not None:
            return At(on=opens - timedelta(days=days), clock=REMIND_AT)
        # Months come back every year: the reminder is a yearly crontab line. A year without
        # 29 February is the one counted in, so the day exists every year.
        day = date(2001, window.months[0], 1) - timedelta(days=days)
        return At(cron=f"{REMIND_AT.minute} {REMIND_AT.hour} {day.day} {day.month} *")
