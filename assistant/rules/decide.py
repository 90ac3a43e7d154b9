"""Deciding with compiled rules: routing, access, policies and escalation chains, each decision
able to say why.

Rules are tried in file order and the first that matches decides. A routing rule marked
``continue`` records its ``notify`` roles and lets the search go on. A rule whose ``when`` begins
with simple tests (``category == 'safety' and urgency == 'high' and ...``) carries them as its
``guard``, compiled to plain Python (see :mod:`assistant.rules.expressions`): a subject that
fails them is known not to match without running rule-engine, which costs microseconds a rule.
That keeps a decision over fifty rules far below a millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

import rule_engine

from assistant.domain import Language, Role
from assistant.rules.activities import ActivityKind, FixedActivity
from assistant.rules.broadcasts import ScheduledBroadcast
from assistant.rules.calendar import Calendar
from assistant.rules.duty import DutyRoom
from assistant.rules.errors import NoRuleMatched, RuleEvaluationError, SubjectError
from assistant.rules.escalation import PLAN_CHAIN, Chain
from assistant.rules.expressions import Guard
from assistant.rules.office_hours import OfficeHours
from assistant.rules.red_service import RedService
from assistant.rules.reminders import Reminder
from assistant.rules.roles import RoleRules
from assistant.rules.schema import DAY_SYMBOLS, SCHEMAS, Kind

PolicyValue = int | float | bool | str

ACTION_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
"""An action as services name it, like ``booking.create``."""

# The access cache is keyed by the action names services use; a bound keeps a caller that passes
# arbitrary names from growing it without end.
_ACTION_CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Reason:
    """Why something is refused, as shown to the person, in each language."""

    zh: str
    en: str

    def text(self, language: Language) -> str:
        """The reason in ``language``."""
        return self.zh if language == "zh-CN" else self.en


DEFAULT_DENIAL = Reason(
    zh="您没有进行此操作的权限。",
    en="You are not allowed to do this.",
)
"""The reason given when no access rule for an action matches (secure by default)."""


@dataclass(frozen=True, slots=True)
class Route:
    """A routing rule's outcome: who handles the report and who else is told.

    ``assign`` is None for a ``continue`` rule, which only adds to ``notify``.
    """

    assign: Role | None
    notify: tuple[Role, ...] = ()

    def describe(self, language: Language) -> str:
        """The outcome in words, with role names as the rule files write them."""
        zh = language == "zh-CN"
        parts = []
        if self.assign is not None:
            parts.append(f"{'指派' if zh else 'assign'} {self.assign.value}")
        if self.notify:
            roles = ("、" if zh else ", ").join(role.value for role in self.notify)
            parts.append(f"{'通知' if zh else 'notify'} {roles}")
        return ("，" if zh else ", ").join(parts)


@dataclass(frozen=True, slots=True)
class Access:
    """An access rule's outcome: allowed, or refused with a reason."""

    allowed: bool
    reason: Reason | None = None

    def describe(self, language: Language) -> str:
        """The outcome in words."""
        zh = language == "zh-CN"
        if self.allowed:
            return "允许" if zh else "allow"
        reason = (self.reason or DEFAULT_DENIAL).text(language)
        return f"拒绝：{reason}" if zh else f"deny: {reason}"


@dataclass(frozen=True, slots=True)
class Setting:
    """A policy rule's outcome: the value of its policy."""

    policy: str
    value: PolicyValue

    def describe(self, language: Language) -> str:
        """The outcome in words."""
        value = ("true" if self.value else "false") if isinstance(self.value, bool) else self.value
        return f"{self.policy} = {value}"


OutcomeT = TypeVar("OutcomeT", Route, Access, Setting, Chain)


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule(Generic[OutcomeT]):
    """One rule, checked and compiled, with where it was written.

    ``selector`` is the action pattern of an access rule or the policy of a policy rule (None
    for routing). ``condition`` is the compiled rule-engine rule; ``guard`` a quick test the
    subject must pass for the rule to have a chance to match; ``symbols`` the names its
    ``when`` reads.
    """

    id: str
    file: str
    line: int
    when: str
    condition: Any = field(repr=False)
    outcome: OutcomeT
    selector: str | None = None
    guard: Guard | None = field(default=None, repr=False)
    continues: bool = False
    unconditional: bool = False
    symbols: frozenset[str] = field(default=frozenset(), repr=False)

    def selects(self, name: str) -> bool:
        """Whether this rule applies to the action or policy ``name``.

        ``approval.*`` covers every name that starts with ``approval.`` (another pattern
        included), ``*`` every name, any other selector only itself; a routing rule, which has
        no selector, applies to every report.
        """
        pattern = self.selector
        if pattern is None or pattern == "*":
            return True
        if pattern.endswith(".*"):
            return name.startswith(pattern[:-1])
        return name == pattern


class TraceStep(NamedTuple):
    """One rule tried for a decision, and whether it matched."""

    rule_id: str
    matched: bool


@dataclass(frozen=True, slots=True)
class Decision(Generic[OutcomeT]):
    """What a set of rules decided, and which rule decided it.

    ``rule`` is the deciding rule, None for the secure default of access. ``considered`` holds
    the rules that applied, in order; those up to the deciding one were tried, and ``continued``
    holds the positions of the ``continue`` rules among them that matched.
    """

    kind: Kind
    outcome: OutcomeT
    rule: CompiledRule[OutcomeT] | None
    considered: tuple[CompiledRule[OutcomeT], ...] = field(repr=False)
    continued: tuple[int, ...] = field(default=(), repr=False)

    @property
    def rule_id(self) -> str | None:
        """The id of the rule that decided; None for the secure default."""
        return self.rule.id if self.rule is not None else None

    @property
    def file(self) -> str | None:
        """The file of the rule that decided."""
        return self.rule.file if self.rule is not None else None

    @property
    def line(self) -> int | None:
        """The line of the rule that decided."""
        return self.rule.line if self.rule is not None else None

    def _tried(self) -> tuple[CompiledRule[OutcomeT], ...]:
        if self.rule is None:
            return self.considered
        # Found by identity: two rules never share an object, even with equal fields.
        stop = next(i for i, rule in enumerate(self.considered) if rule is self.rule)
        return self.considered[: stop + 1]

    @property
    def trace(self) -> tuple[TraceStep, ...]:
        """Every rule tried, in order, and whether it matched."""
        continued = set(self.continued)
        return tuple(
            TraceStep(rule.id, rule is self.rule or position in continued)
            for position, rule in enumerate(self._tried())
        )

    def explain(self, language: Language = "zh-CN") -> str:
        """The decision and every rule tried, one line each, in ``language``."""
        zh = language == "zh-CN"
        outcome = self.outcome.describe(language)
        if self.rule is None and self.kind is Kind.ESCALATION:
            head = (
                f"{outcome} —— 没有 escalation.yaml：按实施方案的链条"
                if zh
                else f"{outcome} (no escalation.yaml: the plan's chain)"
            )
        elif self.rule is None:
            head = (
                f"{outcome} —— 没有匹配的规则（默认拒绝）"
                if zh
                else f"{outcome} (no rule matched: default)"
            )
        else:
            where = _where(self.rule)
            head = (
                f"{outcome} —— 由规则 '{self.rule.id}'（{where}）决定"
                if zh
                else f"{outcome} (rule '{self.rule.id}', {where})"
            )
        lines = [head]
        continued = set(self.continued)
        for position, rule in enumerate(self._tried()):
            own = rule.outcome.describe(language)
            if rule is self.rule:
                result = f"匹配 → {own}" if zh else f"matched → {own}"
            elif position in continued:
                result = f"匹配，继续 → {own}" if zh else f"matched, continue → {own}"
            else:
                result = "不匹配" if zh else "did not match"
            label = (
                f"  规则 '{rule.id}'（{_where(rule)}）："
                if zh
                else f"  rule '{rule.id}' ({_where(rule)}): "
            )
            lines.append(label + result)
        return "\n".join(lines)


def _where(rule: CompiledRule[Any]) -> str:
    return f"{rule.file}:{rule.line}"


RouteDecision = Decision[Route]
AccessDecision = Decision[Access]
PolicyDecision = Decision[Setting]
ChainDecision = Decision[Chain]


def _run(
    rules: tuple[CompiledRule[OutcomeT], ...], values: dict[str, Any]
) -> tuple[CompiledRule[OutcomeT] | None, tuple[int, ...]]:
    """The first non-``continue`` rule that matches ``values`` and the positions of the
    ``continue`` rules that matched before it."""
    continued: tuple[int, ...] = ()
    for position, rule in enumerate(rules):
        guard = rule.guard
        if guard is not None and not guard(values):
            continue
        try:
            matched = rule.condition.matches(values)
        except rule_engine.EngineError as error:
            raise RuleEvaluationError(rule.id, rule.file, rule.line, error.message) from error
        except ArithmeticError as error:
            # Decimal arithmetic in rule-engine can raise its own signals, such as overflow.
            message = f"arithmetic error: {type(error).__name__}"
            raise RuleEvaluationError(rule.id, rule.file, rule.line, message) from error
        if matched:
            if not rule.continues:
                return rule, continued
            continued += (position,)
    return None, continued


class Rules:
    """The compiled rules of the rule files, ready to decide; made by
    :func:`assistant.rules.load_rules`.

    Deciding never changes the rules, so one instance serves every update.
    """

    def __init__(
        self,
        routing: tuple[CompiledRule[Route], ...] = (),
        access: tuple[CompiledRule[Access], ...] = (),
        policies: tuple[CompiledRule[Setting], ...] = (),
        calendar: Calendar | None = None,
        reminders: tuple[Reminder, ...] = (),
        duty: tuple[DutyRoom, ...] = (),
        broadcasts: tuple[ScheduledBroadcast, ...] = (),
        holders: RoleRules | None = None,
        escalation: tuple[CompiledRule[Chain], ...] = (),
        red_service: RedService | None = None,
        office_hours: tuple[OfficeHours, ...] = (),
        activities: tuple[FixedActivity, ...] = (),
        activity_kinds: tuple[ActivityKind, ...] = (),
    ) -> None:
        self.routing = routing
        self.escalation = escalation
        self._escalation_schema = SCHEMAS[Kind.ESCALATION]
        self.holders = holders or RoleRules()
        # None without rules/red_service.yaml: nobody can ask the team for help.
        self.red_service = red_service
        self.calendar = calendar or Calendar()
        self.reminders = {reminder.id: reminder for reminder in reminders}
        self.duty = {room.room: room for room in duty}
        self.office_hours = {entry.id: entry for entry in office_hours}
        self.broadcasts = {broadcast.id: broadcast for broadcast in broadcasts}
        self.activities = {activity.id: activity for activity in activities}
        self.activity_kinds = {kind.id: kind for kind in activity_kinds}
        self.access = access
        self.policies = policies
        self._routing_schema = SCHEMAS[Kind.ROUTING]
        self._access_schema = SCHEMAS[Kind.ACCESS]
        self._policy_schema = SCHEMAS[Kind.POLICIES]
        self._by_policy: dict[str, tuple[CompiledRule[Setting], ...]] = {}
        for rule in policies:
            name = rule.outcome.policy
            self._by_policy[name] = (*self._by_policy.get(name, ()), rule)
        self._by_action: dict[str, tuple[CompiledRule[Access], ...]] = {}

    def route(self, subject: Mapping[str, Any]) -> RouteDecision:
        """Who handles the grid issue report described by ``subject``.

        The outcome's ``assign`` is the first matching rule's role; its ``notify`` gathers the
        roles of the ``continue`` rules that matched before it, then its own, without repeats.
        Raises :class:`SubjectError` if the subject lacks a symbol or has a wrong value, and
        :class:`NoRuleMatched` if no rule matches (only without a routing file: the loader
        insists on a default rule at its end).
        """
        values = self._routing_schema.subject(subject)
        rule, continued = _run(self.routing, values)
        if rule is None:
            raise NoRuleMatched(Kind.ROUTING.value, None, [r.id for r in self.routing])
        outcome = rule.outcome
        if continued:
            notify: dict[Role, None] = {}
            for position in continued:
                notify.update(dict.fromkeys(self.routing[position].outcome.notify))
            notify.update(dict.fromkeys(outcome.notify))
            outcome = Route(outcome.assign, tuple(notify))
        return Decision(Kind.ROUTING, outcome, rule, self.routing, continued)

    def chain(self, subject: Mapping[str, Any] | None) -> ChainDecision:
        """The chain an unresolved grid issue report described by ``subject`` (the facts it was
        routed on) climbs: the first escalation rule that matches.

        A report stored without its facts (``None``) climbs the file's default chain, its last
        rule; a rules folder without ``escalation.yaml`` climbs :data:`PLAN_CHAIN`. Raises
        :class:`SubjectError` if the subject lacks a symbol or has a wrong value.
        """
        if not self.escalation:
            return Decision(Kind.ESCALATION, PLAN_CHAIN, None, ())
        if subject is None:
            default = self.escalation[-1]
            return Decision(Kind.ESCALATION, default.outcome, default, (default,))
        values = self._escalation_schema.subject(subject)
        rule, _ = _run(self.escalation, values)
        if rule is None:
            raise NoRuleMatched(Kind.ESCALATION.value, None, [r.id for r in self.escalation])
        return Decision(Kind.ESCALATION, rule.outcome, rule, self.escalation)

    def allowed(
        self, action: str, subject: Mapping[str, Any], *, any_day: bool = False
    ) -> AccessDecision:
        """Whether the person described by ``subject`` may do ``action``.

        The first rule for the action that matches decides; when none does, the answer is no,
        with :data:`DEFAULT_DENIAL` as the reason. The ``action`` symbol of the rules is this
        argument. With ``any_day``, the question is who may do it at all (a menu, /help): rules
        that read the day (:data:`~assistant.rules.schema.DAY_SYMBOLS`) say when, not who, and
        are passed over. Raises :class:`SubjectError` for a bad subject or action name.
        """
        rules = self._by_action.get(action)
        if rules is None:
            if not ACTION_NAME.fullmatch(action):
                raise SubjectError(Kind.ACCESS.value, "action", f"{action!r} is not an action name")
            rules = tuple(rule for rule in self.access if rule.selects(action))
            if len(self._by_action) >= _ACTION_CACHE_SIZE:
                self._by_action.clear()
            self._by_action[action] = rules
        if any_day:
            rules = tuple(rule for rule in rules if not rule.symbols & DAY_SYMBOLS)
        values = self._access_schema.subject(subject)
        values["action"] = action
        rule, _ = _run(rules, values)
        if rule is None:
            return Decision(Kind.ACCESS, Access(False, DEFAULT_DENIAL), None, rules)
        return Decision(Kind.ACCESS, rule.outcome, rule, rules)

    def policy(self, name: str, subject: Mapping[str, Any]) -> PolicyDecision:
        """The value of policy ``name`` for the person described by ``subject``
        (``.outcome.value``).

        Raises :class:`NoRuleMatched` if no rule gives the policy a value for this subject
        (or there is no rule for it at all), :class:`SubjectError` for a bad subject.
        """
        rules = self._by_policy.get(name, ())
        values = self._policy_schema.subject(subject)
        rule, _ = _run(rules, values)
        if rule is None:
            raise NoRuleMatched(Kind.POLICIES.value, name, [r.id for r in rules])
        return Decision(Kind.POLICIES, rule.outcome, rule, rules)
