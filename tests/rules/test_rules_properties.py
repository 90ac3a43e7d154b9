"""Properties: no text makes the loader crash, no subject of the right types makes a decision
crash, and the quick guards decide exactly as rule-engine does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.rules import (
    SCHEMAS,
    Kind,
    RuleEvaluationError,
    Rules,
    RulesError,
    SubjectError,
    Symbol,
    load_rules,
)
from assistant.rules.schema import Shape
from tests.rules.helpers import SHIPPED, report, write_rules

ROUTING_FILE = "rules/routing.yaml"
SHIPPED_RULES = load_rules(SHIPPED)
# Words rule-engine expressions are made of, to build texts that often compile.
TOKENS = [
    *SCHEMAS[Kind.ROUTING].symbols,
    "'safety'",
    "'high'",
    "'floor_leader'",
    "'B1'",
    "3",
    "23",
    "0.5",
    "true",
    "false",
    "null",
    "['safety', 'repair']",
    "==",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "in",
    "=~",
    "+",
    "-",
    "/",
    "%",
    "??",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".length",
    "&.length",
    "$abs",
    "$now",
    "$nope",
    "?",
    ":",
    "#",
]
# No surrogates: the file is written as UTF-8.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rules(tmp_path_factory.mktemp("properties"))


def symbol_values(symbol: Symbol) -> st.SearchStrategy[Any]:
    """Every value a subject may give ``symbol``."""
    if symbol.shape is Shape.FLAG:
        values: st.SearchStrategy[Any] = st.booleans()
    elif symbol.shape is Shape.NUMBER:
        values = st.integers(
            min_value=symbol.low if symbol.low is not None else -(2**40),
            max_value=symbol.high if symbol.high is not None else 2**40,
        )
    elif symbol.choices is not None:
        values = st.sampled_from(symbol.choices)
        if symbol.shape is Shape.TEXTS:
            values = st.lists(values, max_size=4)
    elif symbol.shape is Shape.TEXTS:
        values = st.lists(TEXT, max_size=4)
    else:
        values = st.one_of(st.sampled_from(["B1", "C1", "BUS", "ART", ""]), TEXT)
    return st.none() | values if symbol.nullable else values


def subjects(kind: Kind) -> st.SearchStrategy[dict[str, Any]]:
    """Subjects of ``kind`` with values of the right types, optional symbols sometimes left out."""
    schema = SCHEMAS[kind]
    symbols = [s for s in schema.symbols.values() if s.name not in schema.given]
    required = {s.name: symbol_values(s) for s in symbols if not s.optional}
    optional = {s.name: symbol_values(s) for s in symbols if s.optional}
    return st.fixed_dictionaries(required, optional=optional)


def routing_file(when: str) -> str:
    rules = [
        {"id": "x", "when": when, "assign": "counsellor"},
        {"id": "default", "when": True, "assign": "grid_party_member"},
    ]
    return yaml.safe_dump({"rules": rules}, allow_unicode=True, sort_keys=False)


def load_or_problems(folder: Path, text: str) -> Rules | None:
    """The rules of a routing file ``text``, or None after checking the problems it has."""
    (folder / "routing.yaml").write_text(text, encoding="utf-8")
    try:
        return load_rules(folder)
    except RulesError as error:
        # YAML also breaks lines at NEL, LS and PS, and counts its lines that way.
        lines = len(re.split("\r\n|[\n\r\x85\u2028\u2029]", text))
        assert error.problems
        for problem in error.problems:
            assert problem.file == ROUTING_FILE
            assert 1 <= problem.line <= lines, str(problem)
            assert problem.message
        return None


@settings(max_examples=200)
@given(when=TEXT)
def test_any_text_as_when_loads_or_is_reported(folder: Path, when: str) -> None:
    rules = load_or_problems(folder, routing_file(when))
    if rules is None:
        return
    assert [rule.id for rule in rules.routing] == ["x", "default"]


@settings(max_examples=200)
@given(when=TEXT)
def test_any_text_written_into_the_yaml_loads_or_is_reported(folder: Path, when: str) -> None:
    text = f"rules:\n  - id: x\n    when: {when}\n    assign: counsellor\n"
    load_or_problems(folder, text + "  - id: default\n    when: true\n    assign: dorm_head\n")


@settings(max_examples=300)
@given(
    words=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=9),
    subject=subjects(Kind.ROUTING),
)
def test_expressions_that_load_decide_or_name_the_failing_rule(
    folder: Path, words: list[str], subject: dict[str, Any]
) -> None:
    rules = load_or_problems(folder, routing_file(" ".join(words)))
    if rules is None:
        return
    try:
        decision = rules.route(subject)
    except RuleEvaluationError as error:
        assert (error.rule_id, error.file, error.line) == ("x", ROUTING_FILE, 2)
        return
    assert decision.rule_id in ("x", "default")


@given(subject=subjects(Kind.ROUTING))
def test_shipped_routing_decides_every_report(subject: dict[str, Any]) -> None:
    decision = SHIPPED_RULES.route(subject)
    assert decision.rule_id is not None
    assert decision.trace[-1] == (decision.rule_id, True)
    assert decision.explain("zh-CN") and decision.explain("en")


@given(
    action=st.sampled_from(
        ["project.apply", "star.nominate", "approval.decide", "broadcast.send", "group.bind"]
    )
    | st.from_regex(r"[a-z][a-z0-9_]{0,7}(\.[a-z][a-z0-9_]{0,7}){0,2}", fullmatch=True),
    subject=subjects(Kind.ACCESS),
)
def test_shipped_access_answers_every_request(action: str, subject: dict[str, Any]) -> None:
    decision = SHIPPED_RULES.allowed(action, subject)
    assert decision.outcome.allowed == (decision.outcome.reason is None)


@given(
    name=st.sampled_from(sorted({rule.outcome.policy for rule in SHIPPED_RULES.policies})),
    subject=subjects(Kind.POLICIES),
)
def test_shipped_policies_have_a_value_for_everyone(name: str, subject: dict[str, Any]) -> None:
    value = SHIPPED_RULES.policy(name, subject).outcome.value
    kinds = {type(r.outcome.value) for r in SHIPPED_RULES.policies if r.outcome.policy == name}
    assert kinds == {type(value)}


@given(
    symbol=st.sampled_from(list(SCHEMAS[Kind.ROUTING].symbols)),
    value=st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), TEXT, st.lists(TEXT, max_size=3)
    ),
)
def test_a_subject_of_wrong_values_is_refused_by_name(symbol: str, value: object) -> None:
    try:
        SHIPPED_RULES.route(report(**{symbol: value}))
    except SubjectError as error:
        assert error.symbol == symbol


GUARDED = """
rules:
  - id: text-equal
    when: category == 'safety' and urgency == 'high' and floor > 2
    assign: floor_leader
  - id: text-mirrored
    when: "'repair' == category and building != 'B1'"
    assign: building_leader
  - id: text-in-list
    when: category in ['hygiene', 'other'] and not anonymous and college == 'BUS'
    assign: floor_leader
  - id: member
    when: "'floor_leader' in reporter_roles and (hour < 6 or hour >= 22)"
    assign: building_manager
  - id: numbers
    when: 3 < floor and floor <= 5 and weekday != 7 and hour == 12
    assign: dorm_head
  - id: flags
    when: is_holiday and private and (college ?? 'none') != 'ART'
    assign: counsellor
  - id: nullable-text
    when: college != 'MEE' and community == 'C1' and building =~ 'B[12]'
    assign: grid_party_member
  - id: default
    when: true
    assign: dorm_head
"""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Rules:
    return load_rules(write_rules(tmp_path_factory.mktemp("guarded"), routing=GUARDED))


def test_the_usual_shapes_are_guarded(guarded: Rules) -> None:
    assert [rule.guard is not None for rule in guarded.routing] == [True] * 7 + [False]


@settings(max_examples=500)
@given(subject=subjects(Kind.ROUTING))
def test_guards_decide_as_rule_engine_does(guarded: Rules, subject: dict[str, Any]) -> None:
    values = SCHEMAS[Kind.ROUTING].subject(subject)
    expected = next(rule for rule in guarded.routing if rule.condition.matches(values))
    assert guarded.route(subject).rule_id == expected.id
    for rule in guarded.routing:
        if rule.guard is not None and not rule.guard(values):
            assert not rule.condition.matches(values), rule.id
