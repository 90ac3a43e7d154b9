"""Reading the rule files: each rule checked, each ``when`` compiled once, every problem kept.

The YAML is read as nodes rather than plain data, so that every key and value keeps the line it
was written on. Every file is read to the end before anything is refused: one run gives the IT
team the complete list to fix.
"""

from __future__ import annotations

import math
import re
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from assistant.domain import ROLE_SCOPE, Role
from assistant.rules.activities import load_activities
from assistant.rules.broadcasts import load_broadcasts
from assistant.rules.calendar import load_calendar
from assistant.rules.decide import Access, CompiledRule, PolicyValue, Reason, Route, Rules, Setting
from assistant.rules.duty import load_duty
from assistant.rules.errors import RuleProblem, RulesError
from assistant.rules.escalation import HOURS_MAX, URGENCIES, Chain, Hours, Tier, level
from assistant.rules.expressions import compile_when
from assistant.rules.office_hours import load_office_hours
from assistant.rules.red_service import load_red_service
from assistant.rules.reminders import load_reminders
from assistant.rules.roles import load_role_rules
from assistant.rules.schema import POLICY_WORDS, SCHEMAS, Kind, suggest
from assistant.rules.timed import unknown_periods
from assistant.yamlfile import NULL_TAG as _NULL_TAG
from assistant.yamlfile import STR_TAG as _STR_TAG
from assistant.yamlfile import describe_node as _describe
from assistant.yamlfile import node_line as _line
from assistant.yamlfile import syntax_error as _yaml_error

CAMPUS_TIMEZONE = ZoneInfo("Asia/Shanghai")
"""The time zone rule-engine gives date-times that carry none, unless the caller says otherwise."""

ID_MAX = 64
"""The longest rule id: a grid issue keeps the id of the rule that routed it."""

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ACTION_PATTERN = re.compile(r"\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?")
_POLICY_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"

_ROLES = [role.value for role in Role]
_TOP_KEYS = {"rules": "a list of rules"}
_COMMON_KEYS = {
    "id": "a stable id like 'safety-urgent'",
    "description": "what the rule is for",
    "when": "a rule-engine expression, or true",
}
_KIND_KEYS = {
    Kind.ROUTING: {
        "assign": "the role that handles the report",
        "notify": "a list of roles to tell",
        "continue": "true to note this match and keep looking",
    },
    Kind.ACCESS: {
        "action": "an action like booking.create, or approval.*",
        "allow": "true",
        "deny": "the reason in both languages: {zh: ..., en: ...}",
    },
    Kind.POLICIES: {
        "policy": "a policy name like booking.max_per_week",
        "value": "a number, true or false, or text",
    },
    Kind.ESCALATION: {
        "hours": "how long a report may stay at a tier: 24, or {high: 2, normal: 24, low: 72}",
        "tiers": "the roles a report climbs, bottom first: - role: grid_party_member",
        "otherwise": "the role that has a report when nobody on a tier above can be reached",
    },
}
_TIER_KEYS = {
    "role": "the role of the tier, like grid_group_leader",
    "hours": "how long a report may stay at this tier, when not the chain's hours",
    "inform": "roles told (a copy for information) when a report reaches or passes this tier",
}
_HOURS_KEYS = {urgency: f"hours for a report of {urgency} urgency" for urgency in URGENCIES}
# Policies the bot read before, and where what they said lives now.
_MOVED_POLICIES = {
    "grid.escalate_hours.": "the hours of a chain in escalation.yaml "
    "(hours: {high: 2, normal: 24, low: 72}, or a tier's own hours)",
}
_REASON_KEYS = {"zh": "the reason in Chinese", "en": "the reason in English"}
_VALUE_WORDS = {
    int: "a whole number",
    float: "a decimal number",
    bool: "true or false",
    str: "text",
}


def load_rules(directory: Path, *, timezone: tzinfo = CAMPUS_TIMEZONE) -> Rules:
    """Read, check and compile ``routing.yaml``, ``access.yaml``, ``policies.yaml`` and
    ``escalation.yaml`` in ``directory``, and read its academic calendar (``calendar.yaml``),
    reminders (``reminders.yaml``), duty rotation (``duty.yaml``), scheduled broadcasts
    (``broadcasts.yaml``), the year's activities (``activities.yaml``), who may hold which role
    (``roles.yaml``), the Red Service Team (``red_service.yaml``) and the counsellors' office
    hours (``office_hours.yaml``); a file that does not exist holds no rules.

    Raises :class:`RulesError` listing every problem of every file, each with its file, line,
    rule id and, where a name is close, a suggestion. ``timezone`` is the campus time zone.
    """
    if not directory.is_dir():
        raise RulesError([RuleProblem(str(directory), 0, None, "no such folder")])
    problems: list[RuleProblem] = []
    routing = _FileLoader(directory, Kind.ROUTING, timezone, problems).load()
    access = _FileLoader(directory, Kind.ACCESS, timezone, problems).load()
    policies = _FileLoader(directory, Kind.POLICIES, timezone, problems).load()
    escalation = _FileLoader(directory, Kind.ESCALATION, timezone, problems).load()
    before = len(problems)
    calendar = load_calendar(directory, problems)
    calendar_ok = len(problems) == before
    reminders = load_reminders(directory, timezone, problems, calendar)
    duty = load_duty(directory, timezone, problems, calendar)
    broadcasts = load_broadcasts(directory, problems, calendar)
    fixed, kinds = load_activities(directory, calendar, problems)
    holders = load_role_rules(directory, timezone, problems)
    red_service = load_red_service(directory, timezone, problems)
    office_hours = load_office_hours(directory, timezone, problems)
    if calendar_ok:
        # A period the broken calendar failed to give is its mistake, not the reminders'.
        problems += unknown_periods([*reminders, *broadcasts], calendar)
    if problems:
        raise RulesError(problems)
    return Rules(
        routing=routing,
        access=access,
        policies=policies,
        calendar=calendar,
        reminders=reminders,
        duty=duty,
        broadcasts=broadcasts,
        holders=holders,
        escalation=escalation,
        red_service=red_service,
        office_hours=office_hours,
        activities=fixed,
        activity_kinds=kinds,
    )


class _Item:
    """One rule as written: its line, id and fields, and whether it is sound so far."""

    def __init__(self, node: MappingNode, rule_id: str | None) -> None:
        self.line = _line(node)
        self.rule_id = rule_id
        self.fields: dict[str, tuple[Node, Node]] = {}
        # Keys suggested for misspelt ones: they are not reported missing as well.
        self.misspelt: set[str] = set()
        self.ok = True

    def missing(self, *keys: str) -> bool:
        """Whether none of ``keys`` is given, nor suggested for a misspelt key."""
        return all(key not in self.fields and key not in self.misspelt for key in keys)

    def value(self, key: str) -> Node | None:
        entry = self.fields.get(key)
        return entry[1] if entry is not None else None

    def key_line(self, key: str) -> int:
        entry = self.fields.get(key)
        return _line(entry[0]) if entry is not None else self.line


class _FileLoader:
    """One reading of one rule file, adding its problems to a shared list."""

    def __init__(
        self, directory: Path, kind: Kind, timezone: tzinfo, problems: list[RuleProblem]
    ) -> None:
        self.kind = kind
        self.path = directory / kind.file_name
        self.file = f"{directory.name}/{kind.file_name}"
        self.schema = SCHEMAS[kind]
        # One context per kind: every rule of the file is compiled against it, and evaluates in it.
        self.context = self.schema.context(timezone)
        self.problems = problems
        self.keys = {**_COMMON_KEYS, **_KIND_KEYS[kind]}
        self.constructor = SafeConstructor()
        self.ids: dict[str, int] = {}
        self.policy_types: dict[str, tuple[type, str, int]] = {}

    def fail(
        self, line: int, rule_id: str | None, message: str, suggestion: str | None = None
    ) -> None:
        self.problems.append(RuleProblem(self.file, line, rule_id, message, suggestion))

    def load(self) -> tuple[CompiledRule[Any], ...]:
        if not self.path.exists():
            return ()
        root = self._document()
        if root is None:
            return ()
        before = len(self.problems)
        rules = [rule for rule in map(self._rule, self._items(root)) if rule is not None]
        if len(self.problems) == before:
            self._check_order(rules)
        return tuple(rules)

    def _document(self) -> Node | None:
        try:
            data = self.path.read_bytes()
        except OSError as error:
            self.fail(0, None, f"cannot be read: {error.strerror}")
            return None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            self.fail(line, None, "not UTF-8 text: save the file as UTF-8")
            return None
        try:
            node: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as error:
            line, message = _yaml_error(error, text)
            self.fail(line, None, f"YAML syntax error: {message}")
            return None
        if node is None:
            self.fail(1, None, "the file is empty (expected 'rules:' and a list of rules)")
        return node

    def _items(self, root: Node) -> list[Node]:
        if not isinstance(root, MappingNode):
            self.fail(
                _line(root),
                None,
                f"the top level must be 'rules:' and a list (got {_describe(root)})",
            )
            return []
        fields = self._fields(root, None, _TOP_KEYS, "the file")
        if "rules" not in fields:
            # A misspelt key has been reported with the expected one; 'missing' would repeat it.
            if len(fields) == len(root.value):
                self.fail(_line(root), None, "missing 'rules' (expected a list of rules)")
            return []
        value = fields["rules"][1]
        if isinstance(value, ScalarNode) and value.tag == _NULL_TAG:
            return []
        if not isinstance(value, SequenceNode):
            self.fail(
                _line(value),
                None,
                f"rules must be a list, each rule starting with '- id:' (got {_describe(value)})",
            )
            return []
        return list(value.value)

    def _fields(
        self,
        node: MappingNode,
        rule_id: str | None,
        keys: dict[str, str],
        what: str,
        misspelt: set[str] | None = None,
    ) -> dict[str, tuple[Node, Node]]:
        """The known keys of ``node`` with their nodes; unknown and repeated keys are problems,
        and the keys suggested for unknown ones are added to ``misspelt``."""
        fields: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            line = _line(key_node)
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.fail(line, rule_id, f"a key in {what} must be a plain name")
            elif key in fields:
                first = _line(fields[key][0])
                self.fail(line, rule_id, f"duplicate key '{key}' (first on line {first})")
            elif key not in keys:
                suggestion = suggest(key, keys)
                message = f"unknown key '{key}' in {what}"
                if suggestion is None:
                    message += f" (expected one of: {', '.join(keys)})"
                elif misspelt is not None:
                    misspelt.add(suggestion)
                self.fail(line, rule_id, message, suggestion)
            else:
                fields[key] = (key_node, value_node)
        return fields

    def _rule(self, node: Node) -> CompiledRule[Any] | None:
        if not isinstance(node, MappingNode):
            self.fail(
                _line(node), None, f"a rule must be 'key: value' lines (got {_describe(node)})"
            )
            return None
        item = _Item(node, self._id(node))
        what = f"a {self.kind.value} rule"
        item.fields = self._fields(node, item.rule_id, self.keys, what, item.misspelt)
        if len(item.fields) < len(node.value):
            item.ok = False
        description = item.value("description")
        if description is not None:
            self._text(item, "description", description)
        outcome, selector, continues = self._outcome(item)
        compiled = self._when(item)
        if not item.ok or compiled is None or outcome is None or item.rule_id is None:
            return None
        when, result = compiled
        return CompiledRule(
            id=item.rule_id,
            file=self.file,
            line=item.line,
            when=when,
            condition=result.condition,
            outcome=outcome,
            selector=selector,
            guard=result.guard,
            continues=continues,
            unconditional=result.unconditional,
            symbols=result.symbols,
        )

    def _id(self, node: MappingNode) -> str | None:
        """The rule's id if it is a good one; problems with it are reported here."""
        entries = [pair for pair in node.value if getattr(pair[0], "value", None) == "id"]
        if not entries:
            self.fail(_line(node), None, "missing 'id' (every rule needs a stable id)")
            return None
        value = entries[0][1]
        line = _line(value)
        if not isinstance(value, ScalarNode) or value.tag != _STR_TAG:
            self.fail(line, None, f"id must be text like 'safety-urgent' (got {_describe(value)})")
            return None
        rule_id = str(value.value)
        if len(rule_id) > ID_MAX or not _ID.fullmatch(rule_id):
            self.fail(
                line,
                None,
                f"bad id '{rule_id}' (use letters, digits, '-', '_' and '.', at most {ID_MAX})",
            )
            return None
        if rule_id in self.ids:
            self.fail(
                line, rule_id, f"duplicate id '{rule_id}' (first on line {self.ids[rule_id]})"
            )
            return rule_id
        self.ids[rule_id] = line
        return rule_id

    def _text(self, item: _Item, what: str, node: Node) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag != _STR_TAG:
            self.fail(_line(node), item.rule_id, f"{what} must be text (got {_describe(node)})")
            item.ok = False
            return None
        text = str(node.value).strip()
        if not text:
            self.fail(_line(node), item.rule_id, f"{what} is empty")
            item.ok = False
            return None
        return text

    def _when(self, item: _Item) -> tuple[str, Any] | None:
        node = item.value("when")
        if node is None:
            if item.missing("when"):
                self.fail(
                    item.line, item.rule_id, "missing 'when' (a rule-engine expression, or true)"
                )
            return None
        if isinstance(node, ScalarNode) and node.tag == _BOOL_TAG:
            text = "true" if self.constructor.construct_yaml_bool(node) else "false"
        elif isinstance(node, ScalarNode) and node.tag == _STR_TAG:
            text = str(node.value)
            if not text.strip():
                self.fail(_line(node), item.rule_id, "when is empty (write true for every case)")
                return None
        else:
            self.fail(
                _line(node),
                item.rule_id,
                f"when must be a rule-engine expression in quotes, or true (got {_describe(node)})",
            )
            return None
        compiled, problems = compile_when(text, self.schema, self.context)
        for problem in problems:
            line = _line(node)
            # Only a literal block (when: |) keeps the expression's line breaks as written.
            if problem.offset is not None and isinstance(node, ScalarNode) and node.style == "|":
                line += 1 + text.count("\n", 0, problem.offset)
            self.fail(line, item.rule_id, problem.message, problem.suggestion)
        if compiled is None:
            return None
        return text, compiled

    def _outcome(
        self, item: _Item
    ) -> tuple[Route | Access | Setting | Chain | None, str | None, bool]:
        """The rule's outcome, its selector (action pattern or policy name) and ``continue``."""
        if self.kind is Kind.ROUTING:
            continues = self._continue(item)
            return self._route(item, continues), None, continues
        if self.kind is Kind.ESCALATION:
            return self._chain(item), None, False
        if self.kind is Kind.ACCESS:
            action = self._action(item)
            return self._access(item), action, False
        policy = self._policy(item)
        return self._setting(item, policy), policy, False

    # --- routing ---------------------------------------------------------------------------

    def _continue(self, item: _Item) -> bool:
        node = item.value("continue")
        if node is None:
            return False
        if not isinstance(node, ScalarNode) or node.tag != _BOOL_TAG:
            self.fail(_line(node), item.rule_id, "continue must be true or false")
            item.ok = False
            return False
        return bool(self.constructor.construct_yaml_bool(node))

    def _route(self, item: _Item, continues: bool) -> Route | None:
        assign_node, notify_node = item.value("assign"), item.value("notify")
        assign = self._role(item, assign_node, "assign") if assign_node is not None else None
        notify = self._roles(item, notify_node) if notify_node is not None else ()
        if continues and assign_node is not None:
            self.fail(
                item.key_line("assign"),
                item.rule_id,
                "a 'continue' rule cannot assign: it only adds roles to notify and the search "
                "goes on",
            )
            return None
        if continues and notify_node is None:
            self.fail(item.line, item.rule_id, "a 'continue' rule needs notify: [<role>, ...]")
            return None
        if not continues and assign_node is None:
            if item.missing("assign"):
                self.fail(
                    item.line, item.rule_id, "no outcome: a routing rule needs assign: <role>"
                )
            return None
        if (assign_node is not None and assign is None) or notify is None:
            return None
        return Route(assign, notify)

    def _role(self, item: _Item, node: Node, what: str) -> Role | None:
        text = self._text(item, what, node)
        if text is None:
            return None
        try:
            return Role(text)
        except ValueError:
            suggestion = suggest(text, _ROLES)
            message = f"unknown role '{text}'"
            if suggestion is None:
                message += f" (expected one of: {', '.join(_ROLES)})"
            self.fail(_line(node), item.rule_id, message, suggestion)
            item.ok = False
            return None

    def _roles(self, item: _Item, node: Node, what: str = "notify") -> tuple[Role, ...] | None:
        nodes = node.value if isinstance(node, SequenceNode) else [node]
        if not nodes:
            self.fail(_line(node), item.rule_id, f"{what} is empty (expected a list of roles)")
            return None
        roles = [self._role(item, role_node, f"a role in {what}") for role_node in nodes]
        if any(role is None for role in roles):
            return None
        return tuple(dict.fromkeys(role for role in roles if role is not None))

    # --- escalation ------------------------------------------------------------------------

    def _chain(self, item: _Item) -> Chain | None:
        hours_node, tiers_node = item.value("hours"), item.value("tiers")
        hours = self._hours(item, hours_node) if hours_node is not None else None
        if hours_node is None and item.missing("hours"):
            self.fail(
                item.line, item.rule_id, f"missing 'hours' ({_KIND_KEYS[self.kind]['hours']})"
            )
        tiers = self._tiers(item, tiers_node) if tiers_node is not None else None
        if tiers_node is None and item.missing("tiers"):
            self.fail(
                item.line, item.rule_id, f"missing 'tiers' ({_KIND_KEYS[self.kind]['tiers']})"
            )
        otherwise_node = item.value("otherwise")
        otherwise = None
        if otherwise_node is not None:
            otherwise = self._role(item, otherwise_node, "otherwise")
            if otherwise is None:
                return None
        if hours is None or tiers is None:
            return None
        return Chain(hours, tiers, otherwise)

    def _hours(self, item: _Item, node: Node) -> Hours | None:
        """Hours as one number for every urgency, or one per urgency."""
        if isinstance(node, MappingNode):
            fields = self._fields(node, item.rule_id, _HOURS_KEYS, "hours")
            if len(fields) < len(node.value):
                return None
            found: dict[str, float] = {}
            for urgency in URGENCIES:
                if urgency not in fields:
                    self.fail(
                        _line(node),
                        item.rule_id,
                        f"hours has no '{urgency}' (give all of: {', '.join(URGENCIES)})",
                    )
                    continue
                number = self._amount(item, fields[urgency][1], f"hours.{urgency}")
                if number is not None:
                    found[urgency] = number
            return Hours(**found) if len(found) == len(URGENCIES) else None
        number = self._amount(item, node, "hours")
        return Hours(number, number, number) if number is not None else None

    def _amount(self, item: _Item, node: Node, what: str) -> float | None:
        value = self._value(node)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(
                _line(node),
                item.rule_id,
                f"{what} must be a number of hours (got {_describe(node)})",
            )
            return None
        if not 0 < value <= HOURS_MAX:
            self.fail(
                _line(node),
                item.rule_id,
                f"{what} is {value:g}: give more than 0, at most {HOURS_MAX} (sixty days)",
            )
            return None
        return float(value)

    def _tiers(self, item: _Item, node: Node) -> tuple[Tier, ...] | None:
        """The tiers, bottom first: each a role not below the one before it, named once."""
        if not isinstance(node, SequenceNode):
            self.fail(
                _line(node),
                item.rule_id,
                f"tiers must be a list, each tier starting with '- role:' (got {_describe(node)})",
            )
            return None
        tiers: list[Tier] = []
        lines: dict[Role, int] = {}
        sound = True
        for tier_node in node.value:
            tier = self._tier(item, tier_node)
            if tier is None:
                sound = False
                continue
            line = _line(tier_node)
            if tier.role in lines:
                self.fail(
                    line,
                    item.rule_id,
                    f"tier '{tier.role}' is named twice (first on line {lines[tier.role]})",
                )
                sound = False
            elif tiers and level(tier.role) < level(tiers[-1].role):
                below = tiers[-1].role
                self.fail(
                    line,
                    item.rule_id,
                    f"tier '{tier.role}' (held at a {ROLE_SCOPE[tier.role]}) comes after "
                    f"'{below}' (held at a {ROLE_SCOPE[below]}): a report never climbs down; "
                    "list the tiers bottom first",
                )
                sound = False
            lines.setdefault(tier.role, line)
            tiers.append(tier)
        return tuple(tiers) if sound else None

    def _tier(self, item: _Item, node: Node) -> Tier | None:
        if not isinstance(node, MappingNode):
            self.fail(
                _line(node),
                item.rule_id,
                f"a tier must be 'role: <role>' and its keys (got {_describe(node)})",
            )
            return None
        fields = self._fields(node, item.rule_id, _TIER_KEYS, "a tier")
        if "role" not in fields:
            if len(fields) == len(node.value):
                self.fail(_line(node), item.rule_id, f"a tier needs {_TIER_KEYS['role']}")
            return None
        role = self._role(item, fields["role"][1], "role")
        hours = self._hours(item, fields["hours"][1]) if "hours" in fields else None
        inform = self._roles(item, fields["inform"][1], "inform") if "inform" in fields else ()
        failed = ("hours" in fields and hours is None) or inform is None
        if role is None or failed or len(fields) < len(node.value) or inform is None:
            return None
        return Tier(role, hours, inform)

    # --- access ----------------------------------------------------------------------------

    def _action(self, item: _Item) -> str | None:
        node = item.value("action")
        if node is None and not item.missing("action"):
            item.ok = False
            return None
        if node is None:
            self.fail(
                item.line,
                item.rule_id,
                "missing 'action' (expected an action like booking.create, or approval.*)",
            )
            item.ok = False
            return None
        action = self._text(item, "action", node)
        if action is not None and not _ACTION_PATTERN.fullmatch(action):
            self.fail(
                _line(node),
                item.rule_id,
                f"bad action '{action}' (expected a name like booking.create, a trailing .* as in "
                "approval.*, or * for every action)",
            )
            item.ok = False
            return None
        return action

    def _access(self, item: _Item) -> Access | None:
        allow, deny = item.value("allow"), item.value("deny")
        if allow is not None and deny is not None:
            later = max(item.key_line("allow"), item.key_line("deny"))
            self.fail(later, item.rule_id, "two outcomes: a rule either allows or denies, not both")
            return None
        if allow is not None:
            if (
                isinstance(allow, ScalarNode)
                and allow.tag == _BOOL_TAG
                and self.constructor.construct_yaml_bool(allow)
            ):
                return Access(True)
            self.fail(
                _line(allow),
                item.rule_id,
                f"allow must be true (got {_describe(allow)}); "
                "to refuse, write deny: {zh: ..., en: ...}",
            )
            return None
        if deny is not None:
            reason = self._reason(item, deny)
            return Access(False, reason) if reason is not None else None
        if item.missing("allow", "deny"):
            self.fail(
                item.line,
                item.rule_id,
                "no outcome (expected allow: true or deny: {zh: ..., en: ...})",
            )
        return None

    def _reason(self, item: _Item, node: Node) -> Reason | None:
        if not isinstance(node, MappingNode):
            self.fail(
                _line(node),
                item.rule_id,
                "deny needs the reason shown to the person in both languages: "
                f"deny: {{zh: ..., en: ...}} (got {_describe(node)})",
            )
            return None
        fields = self._fields(node, item.rule_id, _REASON_KEYS, "deny")
        texts: dict[str, str] = {}
        for language in _REASON_KEYS:
            if language not in fields:
                self.fail(
                    _line(node),
                    item.rule_id,
                    f"deny needs the reason in both languages: missing '{language}'",
                )
                continue
            text = self._text(item, f"the '{language}' reason", fields[language][1])
            if text is not None:
                texts[language] = text
        if len(texts) < len(_REASON_KEYS) or len(fields) < len(node.value):
            return None
        return Reason(zh=texts["zh"], en=texts["en"])

    # --- policies --------------------------------------------------------------------------

    def _policy(self, item: _Item) -> str | None:
        node = item.value("policy")
        if node is None and not item.missing("policy"):
            item.ok = False
            return None
        if node is None:
            self.fail(
                item.line,
                item.rule_id,
                "missing 'policy' (expected a policy name like booking.max_per_week)",
            )
            item.ok = False
            return None
        name = self._text(item, "policy", node)
        moved = next((v for k, v in _MOVED_POLICIES.items() if (name or "").startswith(k)), None)
        if name is not None and moved is not None:
            self.fail(_line(node), item.rule_id, f"{name} is no longer read: it is now {moved}")
            item.ok = False
            return None
        if name is not None and not _POLICY_NAME.fullmatch(name):
            self.fail(
                _line(node),
                item.rule_id,
                f"bad policy name '{name}' (expected dotted lower-case words like "
                "booking.max_per_week)",
            )
            item.ok = False
            return None
        return name

    def _setting(self, item: _Item, policy: str | None) -> Setting | None:
        node = item.value("value")
        if node is None:
            if item.missing("value"):
                self.fail(item.line, item.rule_id, "no outcome: a policy rule needs value: <value>")
            return None
        value = self._value(node)
        if value is None:
            self.fail(
                _line(node),
                item.rule_id,
                "value must be a whole or decimal number, true or false, or text "
                f"(got {_describe(node)})",
            )
            return None
        if policy is None:
            return None
        kind = type(value)
        seen = self.policy_types.setdefault(policy, (kind, item.rule_id or "", _line(node)))
        if seen[0] is not kind:
            self.fail(
                _line(node),
                item.rule_id,
                f"policy '{policy}' is {_VALUE_WORDS[seen[0]]} in rule '{seen[1]}' (line "
                f"{seen[2]}) but {_VALUE_WORDS[kind]} here",
            )
            return None
        words = POLICY_WORDS.get(policy)
        if words is not None and value not in words:
            suggestion = suggest(str(value), words)
            message = f"unknown value {value!r} for policy '{policy}'"
            if suggestion is None:
                message += f" (expected one of: {', '.join(words)})"
            self.fail(_line(node), item.rule_id, message, suggestion)
            return None
        return Setting(policy, value)

    def _value(self, node: Node) -> PolicyValue | None:
        if not isinstance(node, ScalarNode):
            return None
        if node.tag == _BOOL_TAG:
            return bool(self.constructor.construct_yaml_bool(node))
        if node.tag == _INT_TAG:
            return int(self.constructor.construct_yaml_int(node))
        if node.tag == _FLOAT_TAG:
            number = float(self.constructor.construct_yaml_float(node))
            return number if math.isfinite(number) else None
        if node.tag == _STR_TAG and str(node.value).strip():
            return str(node.value)
        return None

    # --- the file as a whole ---------------------------------------------------------------

    def _check_order(self, rules: list[CompiledRule[Any]]) -> None:
        """Refuse rules that can never decide, and a routing file without a default."""
        deciding: list[CompiledRule[Any]] = []
        for rule in rules:
            # A routing rule has no selector and selects everything, as does the '*' action.
            earlier = next((e for e in deciding if e.selects(rule.selector or "")), None)
            if earlier is not None:
                self.fail(
                    rule.line,
                    rule.id,
                    f"this rule is never reached: rule '{earlier.id}' (line {earlier.line}) "
                    "matches every case before it",
                )
            elif rule.unconditional and not rule.continues:
                deciding.append(rule)
        if self.kind is Kind.ROUTING and rules:
            last = rules[-1]
            if not last.unconditional or last.continues:
                self.fail(
                    last.line,
                    last.id,
                    "the last routing rule must be the default (when: true and assign: <role>), "
                    "so that every report reaches someone",
                )
        if self.kind is Kind.ESCALATION and rules and not rules[-1].unconditional:
            self.fail(
                rules[-1].line,
                rules[-1].id,
                "the last escalation rule must be the default (when: true and its tiers), so "
                "that every report has a chain to climb",
            )
