"""Who may hold which role (谁可以担任什么职务), ``rules/roles.yaml``: one rule per role.

The plan names who holds each post of its chain ("二级学院党组织负责人－社区党建工作站站长－学生党员
楼管员－学生党员楼长－学生党员层长－宿舍长"): a rule says it over the facts of the person named in
roles.csv, as a rule-engine expression like those of policies.yaml. The campus import
(``assistant org import``) refuses a role whose holder its rule does not admit, with the row, the
person, their status and the rule. A role no rule names may be held by anyone; without the file,
every role may.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from assistant.domain import PersonStatus, Role
from assistant.rules.errors import RuleProblem, RulesError
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.schema import Kind, Schema, Shape, Symbol
from assistant.rules.timed import ItemReader, Report, close_to, read_list
from assistant.yamlfile import Located

FILE_NAME = "roles.yaml"
_ROLES = [role.value for role in Role]
_KEYS = {
    "role": "the role, like floor_leader (docs/org-files.md)",
    "when": "who may hold it: a rule over the person, like status == 'party_member'",
    "description": "what the rule is for",
}

HOLDER_SCHEMA = Schema(
    Kind.POLICIES,
    (
        Symbol("status", Shape.TEXT, choices=tuple(status.value for status in PersonStatus)),
        Symbol("college", Shape.TEXT, nullable=True),
    ),
)
"""What a rule of roles.yaml may ask of the person who would hold the role."""


@dataclass(frozen=True)
class RoleRule:
    """The rule of one role, as written at ``file``:``line``."""

    role: Role
    when: str
    compiled: Compiled = field(repr=False, compare=False)
    file: str
    line: int

    def admits(self, facts: Mapping[str, Any]) -> bool:
        """Whether the person of ``facts`` (status, college) may hold the role."""
        return bool(self.compiled.condition.matches(HOLDER_SCHEMA.subject(facts)))

    def __str__(self) -> str:
        return f"{self.file}:{self.line} [{self.role}] when: {self.when}"


class RoleRules:
    """The rules of roles.yaml by role; roles without one may be held by anyone."""

    def __init__(self, rules: Iterable[RoleRule] = ()) -> None:
        self.rules = {rule.role: rule for rule in rules}

    def refusing(self, role: Role, facts: Mapping[str, Any]) -> RoleRule | None:
        """The rule that does not let the person of ``facts`` hold ``role``, or None."""
        rule = self.rules.get(role)
        return rule if rule is not None and not rule.admits(facts) else None


def load_role_rules(directory: Path, timezone: tzinfo, problems: list[RuleProblem]) -> RoleRules:
    """Read ``roles.yaml`` of ``directory`` (none: no rules); problems are added to ``problems``
    with line, role and a suggestion."""
    context = HOLDER_SCHEMA.context(timezone)
    return RoleRules(
        read_list(
            directory,
            FILE_NAME,
            "roles",
            "rule must be a mapping with role and when",
            lambda item, report, file: _Reader(item, report, context).read(file),
            lambda rule: rule.role.value,
            problems,
            id_key="role",
        )
    )


def read_role_rules(directory: Path, timezone: tzinfo) -> RoleRules:
    """The rules of ``roles.yaml`` of ``directory`` alone, for the campus import; raises
    :class:`RulesError` with every problem of the file."""
    problems: list[RuleProblem] = []
    rules = load_role_rules(directory, timezone, problems)
    if problems:
        raise RulesError(problems)
    return rules


class _Reader(ItemReader):
    """Checks one rule."""

    def __init__(self, item: Located, report: Report, context: Any) -> None:
        super().__init__(item, report)
        self.context = context

    def read(self, file: str) -> RoleRule | None:
        value = self.item.get("role")
        if value in _ROLES:
            # Every problem of the rule, its misspelt keys too, names the role.
            self.id = str(value)
        meant = self.keys(_KEYS)
        role = self._role(value, meant)
        text = self.item.get("when")
        if isinstance(text, bool):
            text = "true" if text else "false"
        compiled = None
        if not isinstance(text, str) or not text.strip():
            if "when" not in meant:
                self.problem("when", f"when must be a rule in quotes: {_KEYS['when']}")
        else:
            compiled, found = compile_when(text, HOLDER_SCHEMA, self.context)
            for each in found:
                self.problem("when", f"when: {each.message}", each.suggestion)
        description = self.item.get("description", "")
        if not isinstance(description, str):
            self.problem("description", "description must be text")
        if self.failed or role is None or compiled is None or not isinstance(text, str):
            return None
        return RoleRule(role, text, compiled, file, self.item.line)

    def _role(self, value: object, meant: set[str]) -> Role | None:
        if value in _ROLES:
            return Role(value)
        if value is None:
            if "role" not in meant:
                self.problem(None, f"missing role: {_KEYS['role']}")
        else:
            self.problem("role", f"unknown role {value!r}", close_to(value, _ROLES))
        return None
