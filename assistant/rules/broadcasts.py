"""Scheduled broadcasts (定时群发), ``rules/broadcasts.yaml``: when, to which place, what.

A scheduled broadcast's ``at`` is written exactly as a reminder's and read by the same reader
(:mod:`assistant.rules.timed`), so both files speak one language of time. Its audience is a place
of the campus (a floor, building, community, college, grid, or the whole school), optionally
narrowed to holders of some roles (``coordination_group`` stands for its offices) or people of
some statuses, reached privately and/or in the group chats bound there. Scope codes are checked
for their form here; whether the place exists is known only to the database, so a broadcast to a
place that is gone is skipped (and logged) when it comes due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.domain import PersonStatus, Role, ScopeKind
from assistant.rules.calendar import Calendar
from assistant.rules.errors import RuleProblem
from assistant.rules.timed import AT_FORMS, ItemReader, Timed, close_to, read_list
from assistant.yamlfile import Located

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

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_FLOOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}-\d{1,3}")
_KEYS = {
    "id": "a short id like national-day-safety",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "at": f"when, as in reminders.yaml: {AT_FORMS}",
    "audience": "where: {scope_kind, scope, roles?, status?, channels}",
    "template": "the message template, e.g. broadcast/national_day_safety",
    "missed": "late_once (send once when back) or skip, if due while the bot was down",
}
_AUDIENCE_KEYS = {
    "scope_kind": "one of " + ", ".join(SCOPE_KINDS),
    "scope": "the place's code: B1-3 (floor), B1, C1, BUS, B1-G1 (grid); none for the school",
    "roles": "only people holding one of these roles (or coordination_group: its offices)",
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
class ScheduledBroadcast(Timed):
    """One broadcast of the file."""

    audience: Audience


def load_broadcasts(
    directory: Path, problems: list[RuleProblem], calendar: Calendar | None = None
) -> tuple[ScheduledBroadcast, ...]:
    """Read ``broadcasts.yaml`` of ``directory`` (none: no scheduled broadcasts); problems are
    added to ``problems`` with line, broadcast id and a suggestion. ``calendar`` names the
    periods an ``at`` may name."""
    periods = frozenset(p.id for p in (calendar or Calendar()).periods)
    return read_list(
        directory,
        FILE_NAME,
        "broadcasts",
        "broadcast must be a mapping with id, at, audience, ...",
        lambda item, report, file: _Reader(item, report).read(file, periods),
        lambda broadcast: broadcast.id,
        problems,
    )


class _Reader(ItemReader):
    """Checks one broadcast."""

    def read(self, file: str, periods: frozenset[str]) -> ScheduledBroadcast | None:
        timed = self.timed(_KEYS, "broadcast/national_day_safety", periods)
        audience = self._audience()
        if self.failed or timed is None or audience is None:
            return None
        return ScheduledBroadcast(**timed, file=file, line=self.item.line, audience=audience)

    def _audience(self) -> Audience | None:
        audience = self.item.get("audience")
        if not isinstance(audience, Located):
            self.problem("audience", "audience must be {scope_kind, scope, channels, ...}")
            return None
        failed, self.failed = self.failed, False
        self.keys(_AUDIENCE_KEYS, node=audience)
        kind = self._scope_kind(audience)
        scope = self._scope(audience, kind)
        roles = self.roles("roles", audience)
        statuses = self._members(audience, "status", PersonStatus)
        channels = self._channels(audience)
        ok = not self.failed
        self.failed |= failed
        if not ok or kind is None or scope is None or channels is None:
            return None
        return Audience(kind, scope, roles, tuple(statuses), channels)

    def _scope_kind(self, audience: Located) -> ScopeKind | None:
        text = audience.get("scope_kind")
        if text in SCOPE_KINDS:
            return ScopeKind(text)
        self.problem(
            "scope_kind" if "scope_kind" in audience else None,
            f"scope_kind is {text!r} (one of {', '.join(SCOPE_KINDS)})",
            close_to(text, list(SCOPE_KINDS)) if text else None,
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

    def _members(self, audience: Located, key: str, kind: type[PersonStatus]) -> list[Any]:
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
                self.problem(key, f"unknown {key} '{name}'", close_to(name, known), node=audience)
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
                    close_to(name, list(CHANNELS)),
                    node=audience,
                )
        return tuple(c for c in CHANNELS if c in names)
