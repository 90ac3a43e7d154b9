"""Reminders (提醒), ``rules/reminders.yaml``: when, to whom, and what each says.

A reminder's ``at`` says when (:class:`assistant.rules.timed.At`); its audience is a list of roles
(``coordination_group`` stands for the coordination group's offices), a rule over people, and/or
an action of access.yaml (whoever may do it: those who may apply for a project); its text is a
template. The scheduler plans the moments of ``at`` as firings; the audience is
worked out when one comes due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from assistant.domain import Role
from assistant.rules.errors import RuleProblem
from assistant.rules.expressions import Compiled, compile_when
from assistant.rules.schema import SCHEMAS, Kind
from assistant.rules.timed import AT_FORMS, ItemReader, Report, Timed, read_list
from assistant.yamlfile import Located

FILE_NAME = "reminders.yaml"
# An action as access.yaml's rules name it (no pattern: one action).
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_KEYS = {
    "id": "a short id like semester-meeting",
    "name": "the name in both languages: {zh: ..., en: ...}",
    "at": f"when: {AT_FORMS}",
    "audience": "who: {roles: [...]} (or coordination_group), {when: <rule over people>} "
    "and/or {may: <action of access.yaml>}",
    "template": "the message template, e.g. reminder_semester_meeting",
    "missed": "late_once (fire once when back) or skip, if due while the bot was down",
}


@dataclass(frozen=True)
class Reminder(Timed):
    """One reminder as declared."""

    roles: tuple[Role, ...]
    # A rule over people's facts (status, roles, college, ...), as in policies.yaml.
    when: Compiled | None
    # An action of access.yaml: only people its rules allow (on some day) are reminded.
    may: str | None = None


def load_reminders(
    directory: Path, timezone: tzinfo, problems: list[RuleProblem]
) -> tuple[Reminder, ...]:
    """Read ``reminders.yaml`` of ``directory`` (none: no reminders); problems are added to
    ``problems`` with line, reminder id and a suggestion."""
    context = SCHEMAS[Kind.POLICIES].context(timezone)
    return read_list(
        directory,
        FILE_NAME,
        "reminders",
        "reminder must be a mapping with id, at, audience, ...",
        lambda item, report, file: _Reader(item, report, context).read(file),
        lambda reminder: reminder.id,
        problems,
    )


class _Reader(ItemReader):
    """Checks one reminder."""

    def __init__(self, item: Located, report: Report, context: Any) -> None:
        super().__init__(item, report)
        self.context = context

    def read(self, file: str) -> Reminder | None:
        timed = self.timed(_KEYS, "reminder_semester_meeting")
        roles, when = self._audience()
        may = self._may()
        if self.failed or timed is None:
            return None
        return Reminder(**timed, file=file, line=self.item.line, roles=roles, when=when, may=may)

    def _may(self) -> str | None:
        audience = self.item.get("audience")
        if not isinstance(audience, Located) or "may" not in audience:
            return None
        action = audience["may"]
        if isinstance(action, str) and _ACTION.fullmatch(action):
            return action
        self.problem("may", f"may is {action!r}, not an action like project.apply", node=audience)
        return None

    def _audience(self) -> tuple[tuple[Role, ...], Compiled | None]:
        audience = self.item.get("audience")
        if (
            not isinstance(audience, Located)
            or not set(audience)
            or set(audience) - {"roles", "when", "may"}
        ):
            self.problem(
                "audience",
                "audience must be {roles: [...]}, {when: <rule over people>} and/or "
                "{may: <action>}",
            )
            return (), None
        roles = self.roles("roles", audience)
        when = None
        if "when" in audience:
            text = audience["when"]
            if not isinstance(text, str) or not text.strip():
                self.problem("when", "when must be a rule over people, in quotes", node=audience)
                return roles, None
            compiled, problems = compile_when(text, SCHEMAS[Kind.POLICIES], self.context)
            for found in problems:
                self.problem("when", found.message, found.suggestion, node=audience)
            when = compiled
        return roles, when
