"""Scheduled broadcasts (定时群发), ``rules/broadcasts.yaml``: when, to which place, what.

A scheduled broadcast's ``at`` is written exactly as a reminder's and read by the reminders'
reader, so both files speak one language of time. Its audience is a place of the campus (a floor,
building, community, college, grid, or the whole school), optionally narrowed to holders of some
roles or people of some statuses, reached privately and/or in the group chats bound there. Scope
codes are checked for their form here; whether the place exists is known only to the database,
so a broadcast to a place that is gone is skipped (and logged) when it comes due.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from assistant.rules import reminders
from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.storage.models import MissedPolicy, PersonStatus, Role, ScopeKind
from assistant.yamlfile import Located, LocatedList, YamlError, line_of
from assistant.yamlfile import load as load_yaml

FILE_NAME = "broadcasts.yaml"
SCOPE_KINDS = (
    ScopeKind.FLOOR,
    ScopeKind.BUILDING,
    ScopeKind.COMMUNITY,
    ScopeKind.COLLEGE,
    ScopeKind.GRID,
    ScopeKind.SCHOOL,
)
"""The places a broadcast may be addressed to (a dorm room is too small to announce to)."""
CHANNELS = ("people", "groups")
"""Private messages to the people, and messages to the group chats bound to the place."""

_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}")
_TEMPLATE = re.compile(r"[a-z0-9_/]{1,80}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_FLOOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}-\d{1,3}")
_KEYS = {
    "id": "a short id like national-day-safety",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "at": "when, as in reminders.yaml: {weeks, weekday, time}, {days, time}, {date, time}, {cron}",
    "audience": "where: {scope_kind, scope, roles?, status?, channels}",
    "template": "the message template, e.g. broadcast/national_day_safety",
    "missed": "late_once (send once when back) or skip, if due while the bot was down",
}
_AUDIENCE_KEYS = {
    "scope_kind": "one of " + ", ".join(SCOPE_KINDS),
    "scope": "the place's code: B1-3 (floor), B1, C1, BUS, B1-G1 (grid); none for the school",
    "roles": "only people holding one of these roles",
    "status": "only people of these statuses (student, activist, party_member, ...)",
    "channels": "[people], [groups] or [people, groups]",
}
_SCOPE_EXAMPLE = {
    ScopeKind.FLOOR: "B1-3",
    ScopeKind.BUILDING: "B1",
    ScopeKind.COMMUNITY: "C1",
    ScopeKind.COLLEGE: "BUS",
    ScopeKind.GRID: "B1-G1",
}


@dataclass(frozen=True)
class Audience:
    """Who a broadcast is for: a place, optional filters, and the channels that reach them.

    ``scope`` is the place's code (``B1-3`` for a floor), empty for the whole school. People must
    match every filter given: hold one of ``roles`` (if any) and have one of ``statuses`` (if
    any).
    """

    scope_kind: ScopeKind
    scope: str
    roles: tuple[Role, ...] = ()
    statuses: tuple[PersonStatus, ...] = ()
    channels: tuple[str, ...] = CHANNELS

    def to_json(self) -> dict[str, Any]:
        """The audience as stored with a broadcast."""
        return {
            "scope_kind": self.scope_kind.value,
            "scope": self.scope,
            "roles": [role.value for role in self.roles],
            "status": [status.value for status in self.statuses],
            "channels": list(self.channels),
        }


@dataclass(frozen=True)
class ScheduledBroadcast:
    """One broadcast of the file; ``timing`` is its ``at`` as the reminders' reader read it."""

    id: str
    name: dict[str, str]
    template: str
    missed: MissedPolicy
    audience: Audience
    file: str
    line: int
    timing: reminders.Reminder

    def times(
        self, calendar: Calendar, start: datetime, end: datetime, zone: tzinfo
    ) -> list[datetime]:
        """The moments (UTC-aware) in [start, end) this broadcast is due, in campus time."""
        return self.timing.times(calendar, start, end, zone)


Report = Callable[[int, str | None, str, str | None], None]


def load_broadcasts(directory: Path, problems: list[RuleProblem]) -> tuple[ScheduledBroadcast, ...]:
    """Read ``broadcasts.yaml`` of ``directory`` (none: no scheduled broadcasts); problems are
    added to ``problems`` with line, broadcast id and a suggestion."""
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
    if not isinstance(data, Located) or set(data) != {"broadcasts"}:
        problem(line_of(data), None, "expected one key, broadcasts: a list of broadcasts")
        return ()
    items = data["broadcasts"]
    if not isinstance(items, LocatedList):
        problem(data.lines["broadcasts"], None, "broadcasts must be a list")
        return ()
    found: list[ScheduledBroadcast] = []
    seen: set[str] = set()
    for line, item in zip(items.lines, items, strict=True):
        if not isinstance(item, Located):
            problem(line, None, "each broadcast must be a mapping with id, at, audience, ...")
            continue
        broadcast = _Reader(item, problem).read(file)
        if broadcast is not None:
            if broadcast.id in seen:
                problem(item.lines["id"], broadcast.id, f"id '{broadcast.id}' is used twice")
            seen.add(broadcast.id)
            found.append(broadcast)
    return tuple(found) if len(problems) == before else ()


def _close(word: object, known: list[str]) -> str | None:
    close = difflib.get_close_matches(str(word), known, n=1)
    return close[0] if close else None


class _Reader:
    """Checks one broadcast, reporting each problem with its line."""

    def __init__(self, item: Located, report: Report) -> None:
        self.item = item
        self.report = report
        self.id: str | None = None
        self.failed = False
        self.count = 0

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
        self.count += 1

    def read(self, file: str) -> ScheduledBroadcast | None:
        item = self.item
        value = item.get("id")
        if isinstance(value, str) and _ID.fullmatch(value):
            self.id = value
        else:
            self.problem("id", "missing or bad id (lowercase letters, digits, - and _)")
        misspelt: set[str] = set()
        for key in item:
            if key not in _KEYS:
                close = _close(key, list(_KEYS))
                misspelt.update([close] if close else [])
                self.problem(key, f"unknown key '{key}' (known: {', '.join(_KEYS)})", close)
        name = item.get("name")
        if not (
            isinstance(name, Located)
            and set(name) == {"zh", "en"}
            and all(isinstance(v, str) and v for v in name.values())
        ):
            self.problem("name", "name must be {zh: ..., en: ...}")
        template = item.get("template")
        if "template" not in misspelt and not (
            isinstance(template, str) and _TEMPLATE.fullmatch(template)
        ):
            self.problem(
                "template", "template must be a template name like broadcast/national_day_safety"
            )
        missed_text = item.get("missed", "late_once")
        try:
            missed = MissedPolicy(missed_text)
        except ValueError:
            self.problem(
                "missed",
                f"missed is {missed_text!r} (late_once or skip)",
                _close(missed_text, [m.value for m in MissedPolicy]),
            )
            missed = MissedPolicy.LATE_ONCE
        # The reminders' reader checks `at` and reports through this reader's problem list.
        timing = reminders._Reader(item, self.report, None)
        timing.id = self.id
        at = timing._at() if "at" not in misspelt else None
        self.failed |= timing.failed or at is None
        audience = self._audience()
        if self.failed or at is None or audience is None:
            return None
        assert self.id and isinstance(name, Located) and isinstance(template, str)
        names = {"zh-CN": name["zh"], "en": name["en"]}
        return ScheduledBroadcast(
            id=self.id,
            name=names,
            template=template,
            missed=missed,
            audience=audience,
            file=file,
            line=item.line,
            timing=reminders.Reminder(
                id=self.id,
                name=names,
                template=template,
                missed=missed,
                roles=(),
                when=None,
                file=file,
                line=item.line,
                **at,
            ),
        )

    def _audience(self) -> Audience | None:
        audience = self.item.get("audience")
        if not isinstance(audience, Located):
            self.problem("audience", "audience must be {scope_kind, scope, channels, ...}")
            return None
        before = self.count
        for key in audience:
            if key not in _AUDIENCE_KEYS:
                self.problem(
                    key,
                    f"unknown key '{key}' in audience (known: {', '.join(_AUDIENCE_KEYS)})",
                    _close(key, list(_AUDIENCE_KEYS)),
                    node=audience,
                )
        kind = self._scope_kind(audience)
        scope = self._scope(audience, kind)
        roles = self._members(audience, "roles", Role)
        statuses = self._members(audience, "status", PersonStatus)
        channels = self._channels(audience)
        if self.count > before or kind is None or scope is None or channels is None:
            return None
        return Audience(kind, scope, tuple(roles), tuple(statuses), channels)

    def _scope_kind(self, audience: Located) -> ScopeKind | None:
        text = audience.get("scope_kind")
        if text in SCOPE_KINDS:
            return ScopeKind(text)
        self.problem(
            "scope_kind" if "scope_kind" in audience else None,
            f"scope_kind is {text!r} (one of {', '.join(SCOPE_KINDS)})",
            _close(text, list(SCOPE_KINDS)) if text else None,
            node=audience,
        )
        return None

    def _scope(self, audience: Located, kind: ScopeKind | None) -> str | None:
        scope = audience.get("scope")
        if kind is None:
            return None
        if kind is ScopeKind.SCHOOL:
            if scope is not None:
                self.problem("scope", "the whole school has no scope: leave it out", node=audience)
                return None
            return ""
        form = _FLOOR if kind is ScopeKind.FLOOR else _CODE
        if isinstance(scope, str) and form.fullmatch(scope):
            return scope
        example = _SCOPE_EXAMPLE[kind]
        self.problem(
            "scope" if "scope" in audience else None,
            f"scope is {scope!r}; a {kind} is named by its code, like {example}",
            node=audience,
        )
        return None

    def _members(
        self, audience: Located, key: str, kind: type[Role] | type[PersonStatus]
    ) -> list[Any]:
        names = audience.get(key, [])
        if not isinstance(names, list):
            self.problem(key, f"{key} must be a list", node=audience)
            return []
        known = [member.value for member in kind]
        found = []
        for name in names:
            if name in known:
                found.append(kind(name))
            else:
                self.problem(key, f"unknown {key} '{name}'", _close(name, known), node=audience)
        return found

    def _channels(self, audience: Located) -> tuple[str, ...] | None:
        names = audience.get("channels")
        if not isinstance(names, list) or not names:
            self.problem(
                "channels" if "channels" in audience else None,
                "channels must be [people], [groups] or [people, groups]",
                node=audience,
            )
            return None
        for name in names:
            if name not in CHANNELS:
                self.problem(
                    "channels",
                    f"unknown channel '{name}' (people or groups)",
                    _close(name, list(CHANNELS)),
                    node=audience,
                )
        return tuple(c for c in CHANNELS if c in names)
