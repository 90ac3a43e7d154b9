"""The Red Service Team (红色服务队), ``rules/red_service.yaml``: what students may ask it for,
the times of day they may ask a volunteer to come, how far ahead, and where a request goes.

``kinds`` are what the team helps with (fix a phone or a computer, explain waste sorting, ...),
each with the volunteer hours one request of it counts for once done. ``windows`` are the times
of day a volunteer may be asked to come. ``routes`` decide, first match wins, which role of the
requester's community is offered a request (``to``: its holders get a card with "Take"), after
how many hours untaken it goes up (``escalate_hours``), and to whom (``escalate_to``: the first
of these roles with someone who can be reached). The last route is the default, ``when: true``,
so that every request reaches someone. Kinds and windows are checked where routes name them
(``kind == 'phnoe'`` does not load).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time, tzinfo
from pathlib import Path
from typing import Any, Protocol, TypeVar

from assistant.domain import ROLE_SCOPE, PersonStatus, Role, ScopeKind
from assistant.rules.errors import NoRuleMatched, RuleProblem
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.schema import Kind, Schema, Shape, Symbol
from assistant.rules.timed import ItemReader, Report, close_to
from assistant.yamlfile import Located, LocatedList, YamlError, line_of
from assistant.yamlfile import load as load_yaml

FILE_NAME = "red_service.yaml"
# Kinds and windows are stored with each request (32 characters) and carried by its buttons.
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_TOP_KEYS = {
    "days_ahead": "how many days ahead a student may ask for help (0: today only)",
    "kinds": "what the team helps with: [{id, name, hours}, ...]",
    "windows": "the times of day a volunteer may come: [{id, name, from, to}, ...]",
    "routes": "where a request goes: [{id, when, to, escalate_hours, escalate_to}, ...]",
}
_KIND_KEYS = {
    "id": "a short id like phone",
    "name": "{zh: ..., en: ...}",
    "hours": "the volunteer hours a request of this kind counts for, like 1 or 1.5",
}
_WINDOW_KEYS = {
    "id": "a short id like evening",
    "name": "{zh: ..., en: ...}",
    "from": 'when it starts, in quotes, like "18:30"',
    "to": 'when it ends, in quotes, like "21:30"',
}
_ROUTE_KEYS = {
    "id": "a stable id like same-day",
    "description": "what the route is for",
    "when": "a rule over the request, like kind == 'computer', or true",
    "to": "the role of the community whose holders are offered it, like service_volunteer",
    "escalate_hours": "hours untaken before it goes up, like 4",
    "escalate_to": "the roles it goes up to, the first with someone reachable: [...]",
}
# A team belongs to a community: the roles a request is offered to are held over one.
TEAM_ROLES = tuple(role.value for role, kind in ROLE_SCOPE.items() if kind is ScopeKind.COMMUNITY)
DEFAULT_DAYS_AHEAD = 7
MAX_DAYS_AHEAD = 60
MAX_ESCALATE_HOURS = 7 * 24


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


def route_schema(kinds: tuple[str, ...], windows: tuple[str, ...]) -> Schema:
    """What a route's ``when`` may ask of a request: the file's own kinds and windows."""
    return Schema(
        Kind.ROUTING,
        (
            Symbol("kind", Shape.TEXT, choices=kinds),
            Symbol("window", Shape.TEXT, choices=windows),
            # The day the student asked for: how far ahead, its weekday, a day off or not.
            Symbol("days_ahead", Shape.NUMBER, low=0, high=MAX_DAYS_AHEAD),
            Symbol("weekday", Shape.NUMBER, low=1, high=7),
            Symbol("is_holiday", Shape.FLAG),
            # When the student asked (campus time), and where and who they are.
            Symbol("hour", Shape.NUMBER, low=0, high=23),
            Symbol("community", Shape.TEXT),
            Symbol("building", Shape.TEXT),
            Symbol("floor", Shape.NUMBER),
            Symbol("college", Shape.TEXT, nullable=True),
            Symbol(
                "requester_status",
                Shape.TEXT,
                choices=tuple(status.value for status in PersonStatus),
            ),
        ),
    )


@dataclass(frozen=True)
class HelpKind:
    """One thing the team helps with; ``name`` by language."""

    id: str
    name: Mapping[str, str]
    hours: float
    line: int


@dataclass(frozen=True)
class Window:
    """A time of day a volunteer may be asked to come (campus time, one day)."""

    id: str
    name: Mapping[str, str]
    start: time
    end: time
    line: int


@dataclass(frozen=True)
class ServiceRoute:
    """Where requests matching ``when`` go, as written at ``file``:``line``."""

    id: str
    when: Compiled = field(repr=False, compare=False)
    to: Role
    escalate_hours: float
    escalate_to: tuple[Role, ...]
    file: str
    line: int


@dataclass(frozen=True)
class RedService:
    """The team's file, read: its kinds and windows in file order, and its routes."""

    kinds: Mapping[str, HelpKind]
    windows: Mapping[str, Window]
    routes: tuple[ServiceRoute, ...]
    days_ahead: int
    schema: Schema = field(repr=False, compare=False)

    def route(self, facts: Mapping[str, Any]) -> ServiceRoute:
        """The first route whose ``when`` holds for the request of ``facts`` (the symbols of
        :func:`route_schema`). Raises :class:`SubjectError` for facts that do not fit."""
        values = self.schema.subject(facts)
        for route in self.routes:
            guard = route.when.guard
            if (guard is None or guard(values)) and route.when.condition.matches(values):
                return route
        # The reader insists on a default route at the end.
        raise NoRuleMatched(Kind.ROUTING.value, None, [route.id for route in self.routes])

    def may_take(self, role: Role) -> bool:
        """Whether holders of ``role`` are ever offered a request: a route's or its escalation's."""
        return any(role is route.to or role in route.escalate_to for route in self.routes)


def load_red_service(
    directory: Path, timezone: tzinfo, problems: list[RuleProblem]
) -> RedService | None:
    """Read ``red_service.yaml`` of ``directory`` (none: no team takes requests); problems are
    added to ``problems`` with line, item id and a suggestion, and then nothing is returned."""
    path = directory / FILE_NAME
    if not path.exists():
        return None
    file = f"{directory.name}/{FILE_NAME}"
    before = len(problems)

    def report(line: int, item: str | None, message: str, suggestion: str | None) -> None:
        problems.append(RuleProblem(file, line, item, message, suggestion))

    try:
        data = load_yaml(path)
    except YamlError as exc:
        report(exc.line, None, str(exc), None)
        return None
    if not isinstance(data, Located):
        report(line_of(data), None, "expected days_ahead, kinds, windows and routes", None)
        return None
    for key in data:
        if key not in _TOP_KEYS:
            close = close_to(key, _TOP_KEYS)
            known = ", ".join(_TOP_KEYS)
            report(data.lines[key], None, f"unknown key '{key}' (known: {known})", close)
    days_ahead = data.get("days_ahead", DEFAULT_DAYS_AHEAD)
    if not _whole(days_ahead, 0, MAX_DAYS_AHEAD):
        report(
            data.lines.get("days_ahead", data.line),
            None,
            f"days_ahead must be a whole number from 0 to {MAX_DAYS_AHEAD}",
            None,
        )
    kinds = _list(data, "kinds", report, lambda item: _KindReader(item, report).read())
    windows = _list(data, "windows", report, lambda item: _WindowReader(item, report).read())
    # Routes are read against every id the file gives, so that a broken kind is reported once,
    # not again by each route naming it.
    schema = route_schema(_ids(data, "kinds"), _ids(data, "windows"))
    context = schema.context(timezone)
    routes = _list(
        data, "routes", report, lambda item: _RouteReader(item, report).read(file, schema, context)
    )
    _check_order(routes, report)
    if len(problems) > before:
        return None
    return RedService(
        kinds={kind.id: kind for kind in kinds},
        windows={window.id: window for window in windows},
        routes=tuple(routes),
        days_ahead=int(days_ahead),
        schema=schema,
    )


def _ids(data: Located, key: str) -> tuple[str, ...]:
    """The ids the items under ``key`` give, good or not, each once."""
    items = data.get(key)
    if not isinstance(items, list):
        return ()
    found = [item.get("id") for item in items if isinstance(item, Located)]
    return tuple(dict.fromkeys(str(name) for name in found if isinstance(name, str)))


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low < value <= high


def _list(data: Located, key: str, report: Report, read: Callable[[Located], T | None]) -> list[T]:
    """The items of the list under ``key``, each read by ``read``; an id used twice is a
    problem."""
    items = data.get(key)
    if not isinstance(items, LocatedList) or not items:
        report(
            data.lines.get(key, data.line), None, f"{key} must be a list: {_TOP_KEYS[key]}", None
        )
        return []
    found: list[T] = []
    first: dict[str, int] = {}
    for line, node in zip(items.lines, items, strict=True):
        if not isinstance(node, Located):
            report(line, None, f"each of {key} must be a mapping: {_TOP_KEYS[key]}", None)
            continue
        item = read(node)
        if item is None:
            continue
        name = item.id
        if name in first:
            first_line = first[name]
            report(
                line, name, f"id '{name}' is used twice in {key} (first on line {first_line})", None
            )
        first.setdefault(name, line)
        found.append(item)
    return found


class _KindReader(ItemReader):
    def read(self) -> HelpKind | None:
        item_id = self.identifier(pattern=_ID)
        self.keys(_KIND_KEYS)
        name = self.names()
        hours = self.item.get("hours", 1)
        if not _number(hours, 0, 24):
            self.problem("hours", "hours must be a number above 0 and at most 24, like 1 or 1.5")
        if self.failed or item_id is None or name is None:
            return None
        return HelpKind(item_id, name, float(hours), self.item.line)


class _WindowReader(ItemReader):
    def read(self) -> Window | None:
        item_id = self.identifier(pattern=_ID)
        meant = self.keys(_WINDOW_KEYS)
        name = self.names()
        start = end = None
        for key in ("from", "to"):
            if key not in self.item:
                if key not in meant:
                    self.problem(None, f"missing {key}: {_WINDOW_KEYS[key]}")
                continue
            clock = self.clock(key, "18:30")
            start, end = (clock, end) if key == "from" else (start, clock)
        if start is not None and end is not None and end <= start:
            self.problem(
                "to",
                f"to ({end:%H:%M}) must be after from ({start:%H:%M}): a window ends the day it "
                "starts",
            )
        if self.failed or item_id is None or name is None or start is None or end is None:
            return None
        return Window(item_id, name, start, end, self.item.line)


class _RouteReader(ItemReader):
    def read(self, file: str, schema: Schema, context: Any) -> ServiceRoute | None:
        item_id = self.identifier()
        meant = self.keys(_ROUTE_KEYS)
        when = self._when(schema, context, meant)
        to = self._role(self.item.get("to"), "to", meant)
        value: Any = self.item.get("escalate_hours")
        hours = float(value) if _number(value, 0, MAX_ESCALATE_HOURS) else 0.0
        if not hours and "escalate_hours" not in meant:
            self.problem(
                "escalate_hours",
                f"escalate_hours must be a number above 0 and at most {MAX_ESCALATE_HOURS}",
            )
        escalate_to = self._escalate_to(meant)
        if self.failed or item_id is None or when is None or to is None:
            return None
        return ServiceRoute(item_id, when, to, hours, escalate_to, file, self.item.line)

    def _when(self, schema: Schema, context: Any, meant: set[str]) -> Compiled | None:
        text = self.item.get("when")
        if text is None:
            if "when" not in meant:
                self.problem(None, f"missing when: {_ROUTE_KEYS['when']}")
            return None
        if isinstance(text, bool):
            text = "true" if text else "false"
        if not isinstance(text, str) or not text.strip():
            self.problem("when", f"when must be a rule in quotes, or true: {_ROUTE_KEYS['when']}")
            return None
        compiled, found = compile_when(text, schema, context)
        for each in found:
            self.problem("when", f"when: {each.message}", each.suggestion)
        return compiled

    def _role(self, word: Any, key: str, meant: set[str]) -> Role | None:
        if word is None:
            if key not in meant:
                self.problem(None, f"missing {key}: {_ROUTE_KEYS[key]}")
            return None
        if str(word) not in TEAM_ROLES:
            self.problem(
                key,
                f"'{word}' is not a role held over a community (one of: {', '.join(TEAM_ROLES)})",
                close_to(word, TEAM_ROLES),
            )
            return None
        return Role(str(word))

    def _escalate_to(self, meant: set[str]) -> tuple[Role, ...]:
        words = self.item.get("escalate_to")
        if words is None and "escalate_to" in meant:
            return ()
        if not isinstance(words, list) or not words:
            self.problem("escalate_to", f"escalate_to must be a list: {_ROUTE_KEYS['escalate_to']}")
            return ()
        roles = [self._role(word, "escalate_to", meant) for word in words]
        return tuple(dict.fromkeys(role for role in roles if role is not None))


def _check_order(routes: list[ServiceRoute], report: Report) -> None:
    """Refuse a route no request can reach, and a file without a default route at its end."""
    default = next((route for route in routes if route.when.unconditional), None)
    for route in routes:
        if default is not None and route.line > default.line:
            report(
                route.line,
                route.id,
                f"this route is never reached: route '{default.id}' (line {default.line}) "
                "matches every request before it",
                None,
            )
    if routes and not routes[-1].when.unconditional:
        report(
            routes[-1].line,
            routes[-1].id,
            "the last route must be the default (when: true), so that every request reaches "
            "someone",
            None,
        )
