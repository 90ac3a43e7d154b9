"""Declarative rules: who handles a grid issue, who may do what, the numbers policies use, and
the chain an unresolved grid issue climbs.

Four YAML files in the rules folder, ``routing.yaml``, ``access.yaml``, ``policies.yaml`` and
``escalation.yaml``, each hold a list of rules: an ``id``, a ``when`` (a rule-engine expression
over the symbols of :data:`SCHEMAS`) and an outcome. :func:`load_rules` checks every rule,
compiles its ``when`` once with a typed rule-engine context, and raises :class:`RulesError` with
every problem if anything is wrong. The :class:`Rules` it returns decides, first match wins,
and every :class:`Decision` names the rule that made it and can explain itself.
"""

from assistant.rules.decide import (
    DEFAULT_DENIAL,
    Access,
    AccessDecision,
    ChainDecision,
    CompiledRule,
    Decision,
    PolicyDecision,
    PolicyValue,
    Reason,
    Route,
    RouteDecision,
    Rules,
    Setting,
    TraceStep,
)
from assistant.rules.errors import (
    NoRuleMatched,
    RuleEvaluationError,
    RuleFailure,
    RuleProblem,
    RulesError,
    SubjectError,
)
from assistant.rules.loader import CAMPUS_TIMEZONE, load_rules
from assistant.rules.schema import (
    DAY_SYMBOLS,
    ISSUE_CATEGORIES,
    SCHEMAS,
    URGENCIES,
    Kind,
    Schema,
    Symbol,
)

__all__ = [
    "CAMPUS_TIMEZONE",
    "DAY_SYMBOLS",
    "DEFAULT_DENIAL",
    "ISSUE_CATEGORIES",
    "SCHEMAS",
    "URGENCIES",
    "Access",
    "AccessDecision",
    "ChainDecision",
    "CompiledRule",
    "Decision",
    "Kind",
    "NoRuleMatched",
    "PolicyDecision",
    "PolicyValue",
    "Reason",
    "Route",
    "RouteDecision",
    "RuleEvaluationError",
    "RuleFailure",
    "RuleProblem",
    "Rules",
    "RulesError",
    "Schema",
    "Setting",
    "SubjectError",
    "Symbol",
    "TraceStep",
    "load_rules",
]
