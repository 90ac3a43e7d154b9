"""What can go wrong with rules: at load (every problem, with file, line and rule id) and when
deciding (a subject that does not fit, or no rule that decides)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_SHOWN_IN_MESSAGE = 20


class RuleFailure(Exception):
    """The base of every error :mod:`assistant.rules` raises."""


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a rule file, at one line.

    Shown as ``rules/routing.yaml:14 [safety-urgent]: unknown symbol 'catgory' (did you mean
    'category'?)``. ``line`` is 1-based, 0 for the file or folder as a whole; ``rule_id`` is None
    when the problem is outside a rule or the rule has no usable id.
    """

    file: str
    line: int
    rule_id: str | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        rule = f" [{self.rule_id}]" if self.rule_id else ""
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"{where}{rule}: {self.message}{hint}"


class RulesError(RuleFailure):
    """The rule files cannot be used; ``problems`` holds every problem found, file by file."""

    def __init__(self, problems: Sequence[RuleProblem]) -> None:
        super().__init__(problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the rule files:"]
        lines += [str(problem) for problem in self.problems[:_SHOWN_IN_MESSAGE]]
        if count > _SHOWN_IN_MESSAGE:
            lines.append(f"... and {count - _SHOWN_IN_MESSAGE} more")
        return "\n".join(lines)


class SubjectError(RuleFailure):
    """A subject given to a decision lacks a symbol its rules need, or has a wrong value for it.

    A mistake in the calling code, never in the rule files.
    """

    def __init__(self, kind: str, symbol: str, message: str, suggestion: str | None = None) -> None:
        super().__init__(kind, symbol, message)
        self.kind = kind
        self.symbol = symbol
        self.message = message
        self.suggestion = suggestion

    def __str__(self) -> str:
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"{self.kind} subject: '{self.symbol}' {self.message}{hint}"


class NoRuleMatched(RuleFailure):
    """No rule decided: no routing rule matched a report, or no rule gave a policy a value.

    ``name`` is the policy (None for routing); ``tried`` the ids of the rules tried, in order.
    """

    def __init__(self, kind: str, name: str | None, tried: Sequence[str]) -> None:
        super().__init__(kind, name, tried)
        self.kind = kind
        self.name = name
        self.tried = tuple(tried)

    def __str__(self) -> str:
        what = f"policy '{self.name}'" if self.name else f"this {self.kind} subject"
        tried = ", ".join(f"'{rule_id}'" for rule_id in self.tried) or "none"
        return f"no {self.kind} rule decides {what} (rules tried: {tried})"


class RuleEvaluationError(RuleFailure):
    """A rule failed while it was evaluated (say, a lookup past the end of a list); the rule at
    ``file``:``line`` needs fixing."""

    def __init__(self, rule_id: str, file: str, line: int, message: str) -> None:
        super().__init__(rule_id, file, line, message)
        self.rule_id = rule_id
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.file}:{self.line} [{self.rule_id}]: {self.message}"
