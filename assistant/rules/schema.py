"""What each kind of rule file may speak of: its symbols, their types and their allowed values.

The schema serves twice: at load it types the rule-engine context, so that a misspelt symbol or a
comparison of a number with text stops the load; at decision time it checks the subject a service
passes in, so that a missing or mistyped value is reported by name before any rule runs.
"""

from __future__ import annotations

import difflib
import enum
import reprlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import rule_engine

from assistant.domain import (
    FunctionalRoomKind,
    PersonStatus,
    RequestKind,
    Role,
    ScopeKind,
    StarScope,
)
from assistant.rules.errors import SubjectError

ISSUE_CATEGORIES = (
    "safety",
    "hygiene",
    "repair",
    "prohibited_items",
    "late_return",
    "fraud_risk",
    "student_in_need",
    "other",
)
"""The categories of a grid issue report."""

URGENCIES = ("low", "normal", "high")
"""How urgent a grid issue report is."""


class Kind(enum.StrEnum):
    """The kinds of rule file of ``rules:`` lists, each named ``<kind>.yaml`` in the rules
    folder."""

    ROUTING = "routing"
    ACCESS = "access"
    POLICIES = "policies"
    # Which chain an unresolved grid issue report climbs: decided on the routing file's facts.
    ESCALATION = "escalation"

    @property
    def file_name(self) -> str:
        """The file of this kind in the rules folder."""
        return f"{self.value}.yaml"


class Shape(enum.Enum):
    """The kinds of value a symbol holds, with the words used for them in messages."""

    TEXT = "text"
    NUMBER = "a whole number"
    FLAG = "true or false"
    TEXTS = "a list of texts"


_DATA_TYPES = {
    Shape.TEXT: rule_engine.DataType.STRING,
    Shape.NUMBER: rule_engine.DataType.FLOAT,
    Shape.FLAG: rule_engine.DataType.BOOLEAN,
    Shape.TEXTS: rule_engine.DataType.ARRAY(rule_engine.DataType.STRING),
}


@dataclass(frozen=True)
class Symbol:
    """One name a ``when`` expression may use, and what a subject must give for it.

    ``choices`` limits a text (or each text of a list) to known values; ``low`` and ``high``
    bound a number. A ``nullable`` symbol may be null; an ``optional`` one may also be left out
    of the subject, and is then null.
    """

    name: str
    shape: Shape
    nullable: bool = False
    optional: bool = False
    choices: tuple[str, ...] | None = None
    low: int | None = None
    high: int | None = None

    @property
    def data_type(self) -> Any:
        """The rule-engine type the expressions are checked against."""
        data_type = _DATA_TYPES[self.shape]
        return rule_engine.DataType.NULLABLE(data_type) if self.nullable else data_type

    def describe(self) -> str:
        """What a value of this symbol must be, for messages."""
        what = self.shape.value
        if self.choices is not None:
            what += f" from: {', '.join(self.choices)}"
        if self.low is not None and self.high is not None:
            what += f" from {self.low} to {self.high}"
        return f"{what}, or null" if self.nullable else what


def _values(enum_type: type[enum.StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum_type)


_ROLES = _values(Role)
_STATUSES = _values(PersonStatus)

POLICY_WORDS: Mapping[str, tuple[str, ...]] = {"star.scope": _values(StarScope)}
"""The policies whose value is one of a few words, and those words: any other value is refused
when the file is read, not met by a service on the day it is asked."""

# The academic calendar's facts about a day (rules/calendar.yaml): null outside a semester.
_CALENDAR = (
    Symbol("semester", Shape.TEXT, nullable=True, optional=True),
    Symbol("week", Shape.NUMBER, nullable=True, optional=True, low=1, high=60),
    Symbol("teaching_week", Shape.NUMBER, nullable=True, optional=True, low=1, high=60),
    Symbol("is_exam_week", Shape.FLAG, nullable=True, optional=True),
    Symbol("is_vacation", Shape.FLAG, nullable=True, optional=True),
    Symbol("periods", Shape.TEXTS, nullable=True, optional=True),
)
_ROUTING = (
    Symbol("category", Shape.TEXT, choices=ISSUE_CATEGORIES),
    Symbol("urgency", Shape.TEXT, choices=URGENCIES),
    Symbol("private", Shape.FLAG),
    Symbol("anonymous", Shape.FLAG),
    Symbol("building", Shape.TEXT),
    Symbol("floor", Shape.NUMBER),
    Symbol("community", Shape.TEXT),
    Symbol("college", Shape.TEXT, nullable=True),
    Symbol("reporter_status", Shape.TEXT, choices=_STATUSES),
    Symbol("reporter_roles", Shape.TEXTS, choices=_ROLES),
    Symbol("hour", Shape.NUMBER, low=0, high=23),
    Symbol("weekday", Shape.NUMBER, low=1, high=7),
    Symbol("is_holiday", Shape.FLAG),
    *_CALENDAR,
)
# The acting person: their status, roles and the place they belong to.
_PERSON = (
    Symbol("status", Shape.TEXT, choices=_STATUSES),
    Symbol("roles", Shape.TEXTS, choices=_ROLES),
    Symbol("college", Shape.TEXT, nullable=True),
    Symbol("community", Shape.TEXT, nullable=True),
    Symbol("building", Shape.TEXT, nullable=True),
    Symbol("floor", Shape.NUMBER, nullable=True),
)
# What some actions are about, given only by the services that ask about them.
_ROOM_KIND = Symbol(
    "room_kind", Shape.TEXT, nullable=True, optional=True, choices=_values(FunctionalRoomKind)
)
# What a policy about a request (its nudge, who is above its approver) is judged on.
_REQUEST = (
    Symbol("request_kind", Shape.TEXT, nullable=True, optional=True, choices=_values(RequestKind)),
    Symbol("approver_role", Shape.TEXT, nullable=True, optional=True, choices=_ROLES),
)
# The day asked about (a booking's day; today for a nomination, an application or a link), in
# campus time: ISO text such as '2026-10-01', which compares in date order, and what the
# calendar says of it.
DAY = (
    Symbol("date", Shape.TEXT, nullable=True, optional=True),
    Symbol("weekday", Shape.NUMBER, nullable=True, optional=True, low=1, high=7),
    Symbol("day_of_month", Shape.NUMBER, nullable=True, optional=True, low=1, high=31),
    Symbol("year", Shape.NUMBER, nullable=True, optional=True, low=2000, high=2200),
    Symbol("is_holiday", Shape.FLAG, nullable=True, optional=True),
    *_CALENDAR,
)
"""The facts of a day that access and policy rules may ask (``people.day_facts``)."""
_ABOUT = (
    Symbol("target_roles", Shape.TEXTS, nullable=True, optional=True, choices=_ROLES),
    Symbol(
        "target_scope_kind", Shape.TEXT, nullable=True, optional=True, choices=_values(ScopeKind)
    ),
    _ROOM_KIND,
    *DAY,
    # About a person being chosen (a Star of the Month nominee) rather than the one acting.
    Symbol("same_community", Shape.FLAG, nullable=True, optional=True),
    Symbol("recent_winner", Shape.FLAG, nullable=True, optional=True),
)
DAY_SYMBOLS = frozenset(symbol.name for symbol in DAY)
"""The access symbols that describe the day asked about, not the person: rules reading them
open and close windows (the call for projects, the nomination days, days off)."""
_ACCESS = (
    # Given by Rules.allowed from its action argument, never by the subject.
    Symbol("action", Shape.TEXT),
    *_PERSON,
    *_ABOUT,
)

_Check = Callable[[Any], Any]


class Schema:
    """The symbols of one kind of rule file: the typed context for compiling its expressions,
    and the check of the subjects its decisions are made on."""

    def __init__(
        self, kind: Kind, symbols: tuple[Symbol, ...], given: Collection[str] = ()
    ) -> None:
        self.kind = kind
        self.symbols = {symbol.name: symbol for symbol in symbols}
        # Symbols the deciding method fills in itself, so the subject need not carry them.
        self.given = frozenset(given)
        self._checks = tuple(
            (symbol.name, symbol.optional, self._check(symbol))
            for symbol in symbols
            if symbol.name not in self.given
        )

    def context(self, timezone: tzinfo) -> Any:
        """A new typed rule-engine context: unknown symbols fail at compile time (there is no
        default value), attribute lookups on mappings are refused rather than warned about."""
        return rule_engine.Context(
            type_resolver=rule_engine.type_resolver_from_dict(
                {name: symbol.data_type for name, symbol in self.symbols.items()}
            ),
            default_timezone=timezone,
            mapping_attribute_lookup=False,
        )

    def subject(self, subject: Mapping[str, Any]) -> dict[str, Any]:
        """The values of ``subject`` for this schema's symbols, checked and made plain (a
        :class:`~enum.StrEnum` becomes its text, a list a tuple) so that rule-engine compares
        them as written in the rules; other keys are left out.

        Raises :class:`SubjectError` naming the first symbol that is missing or wrong.
        """
        values: dict[str, Any] = {}
        for name, optional, check in self._checks:
            try:
                value = subject[name]
            except KeyError:
                if not optional:
                    raise self._error(name, "is missing") from None
                value = None
            values[name] = check(value)
        return values

    def _error(self, name: str, problem: str, suggestion: str | None = None) -> SubjectError:
        symbol = self.symbols[name]
        return SubjectError(
            self.kind.value, name, f"{problem} (expected {symbol.describe()})", suggestion
        )

    def _check(self, symbol: Symbol) -> _Check:
        name = symbol.name
        nullable = symbol.nullable
        choices = frozenset(symbol.choices) if symbol.choices is not None else None

        def text(value: Any) -> str:
            if not isinstance(value, str):
                raise self._error(name, f"is {reprlib.repr(value)}")
            plain = str(value)
            if choices is not None and plain not in choices:
                suggestion = suggest(plain, symbol.choices or ())
                raise self._error(name, f"is {plain!r}", suggestion)
            return plain

        def texts(value: Any) -> tuple[str, ...]:
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise self._error(name, f"is {reprlib.repr(value)}")
            items = tuple(text(item) for item in value)
            # A set has no order of its own: sorted, the same roles always make the same subject.
            return tuple(sorted(items)) if isinstance(value, (set, frozenset)) else items

        def number(value: Any) -> int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise self._error(name, f"is {reprlib.repr(value)}")
            if (symbol.low is not None and value < symbol.low) or (
                symbol.high is not None and value > symbol.high
            ):
                raise self._error(name, f"is {value}, out of range")
            return int(value)

        def flag(value: Any) -> bool:
            if not isinstance(value, bool):
                raise self._error(name, f"is {reprlib.repr(value)}")
            return value

        plain: _Check = {
            Shape.TEXT: text,
            Shape.TEXTS: texts,
            Shape.NUMBER: number,
            Shape.FLAG: flag,
        }[symbol.shape]
        if not nullable:
            return plain
        return lambda value: None if value is None else plain(value)


SCHEMAS: dict[Kind, Schema] = {
    Kind.ROUTING: Schema(Kind.ROUTING, _ROUTING),
    Kind.ACCESS: Schema(Kind.ACCESS, _ACCESS, given=("action",)),
    # The day's facts are given where a policy is about a day: a room's opening hours on the
    # day booked, the welcome on the day someone links.
    Kind.POLICIES: Schema(Kind.POLICIES, (*_PERSON, _ROOM_KIND, *_REQUEST, *DAY)),
    Kind.ESCALATION: Schema(Kind.ESCALATION, _ROUTING),
}
"""The schema of each kind of rule file."""


def suggest(value: str, choices: Collection[str]) -> str | None:
    """The choice ``value`` was most likely meant to be, if one is close."""
    folded = value.casefold()
    for choice in choices:
        if choice.casefold() == folded:
            return choice
    # Stricter than difflib's default, which offers 'floor' for 'hour'.
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.75)
    return matches[0] if matches else None
