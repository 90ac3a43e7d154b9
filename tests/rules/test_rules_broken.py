"""Broken rule files: each problem is reported with its file, exact line, rule id and, where a
name is close, a suggestion; nothing loads while any problem remains."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.rules import RuleProblem, RulesError, load_rules
from tests.rules.helpers import write_rules

DEFAULT = "  - id: default\n    when: true\n    assign: grid_party_member\n"


def with_default(text: str) -> str:
    """``text``, a routing file, with the default rule every routing file ends with."""
    return textwrap.dedent(text).lstrip("\n") + DEFAULT


@dataclass(frozen=True)
class Broken:
    """A rule file with one problem: where it must be reported and what must be said."""

    name: str
    kind: str
    text: str
    line: int
    rule_id: str | None
    says: str
    suggestion: str | None = None


CASES = [
    Broken(
        "yaml-syntax",
        "routing",
        """
            rules:
              - id: a
                when: true
                assign: [counsellor
            """,
        5,
        None,
        "YAML syntax error: expected ',' or ']', but got '<stream end>'",
    ),
    Broken(
        "empty-file",
        "access",
        "",
        1,
        None,
        "the file is empty",
    ),
    Broken(
        "top-level-list",
        "access",
        """
            - id: a
              action: x
            """,
        1,
        None,
        "the top level must be 'rules:' and a list (got a list)",
    ),
    Broken(
        "misspelt-rules",
        "policies",
        """
            # the policies
            rule: []
            """,
        2,
        None,
        "unknown key 'rule' in the file",
        "rules",
    ),
    Broken(
        "rules-not-a-list",
        "policies",
        """
            rules:
              id: a
            """,
        2,
        None,
        "rules must be a list, each rule starting with '- id:' (got a mapping)",
    ),
    Broken(
        "rule-not-a-mapping",
        "access",
        """
            rules:
              - allow everyone
            """,
        2,
        None,
        "a rule must be 'key: value' lines (got text 'allow everyone')",
    ),
    Broken(
        "missing-id",
        "routing",
        with_default(
            """
            rules:
              - when: category == 'repair'
                assign: building_leader
            """
        ),
        2,
        None,
        "missing 'id' (every rule needs a stable id)",
    ),
    Broken(
        "duplicate-id",
        "routing",
        with_default(
            """
            rules:
              - id: repair
                when: category == 'repair'
                assign: building_leader
              - id: repair
                when: category == 'hygiene'
                assign: floor_leader
            """
        ),
        5,
        "repair",
        "duplicate id 'repair' (first on line 2)",
    ),
    Broken(
        "id-not-text",
        "policies",
        """
            rules:
              - id: 12
                policy: a.b
                when: true
                value: 1
            """,
        2,
        None,
        "id must be text like 'safety-urgent' (got '12')",
    ),
    Broken(
        "unknown-key",
        "routing",
        with_default(
            """
            rules:
              - id: repair
                when: category == 'repair'
                asign: building_leader
            """
        ),
        4,
        "repair",
        "unknown key 'asign' in a routing rule",
        "assign",
    ),
    Broken(
        "duplicate-key",
        "policies",
        """
            rules:
              - id: window
                policy: booking.window_days
                when: true
                value: 14
                value: 21
            """,
        6,
        "window",
        "duplicate key 'value' (first on line 5)",
    ),
    Broken(
        "missing-when",
        "routing",
        with_default(
            """
            rules:
              - id: repair
                assign: building_leader
            """
        ),
        2,
        "repair",
        "missing 'when' (a rule-engine expression, or true)",
    ),
    Broken(
        "when-not-text",
        "access",
        """
            rules:
              - id: a
                action: booking.create
                when: [students]
                allow: true
            """,
        4,
        "a",
        "when must be a rule-engine expression in quotes, or true (got a list)",
    ),
    Broken(
        "syntax-ends-early",
        "routing",
        with_default(
            """
            rules:
              - id: safety-urgent
                when: category == 'safety' and
                assign: floor_leader
            """
        ),
        3,
        "safety-urgent",
        "syntax error: the expression ends too early",
    ),
    Broken(
        "syntax-error-inside-a-block",
        "routing",
        with_default(
            """
            rules:
              - id: safety-urgent
                when: |
                  category == 'safety'
                  and urgency = 'high'
                assign: floor_leader
            """
        ),
        5,
        "safety-urgent",
        "syntax error at '='",
    ),
    Broken(
        "unknown-symbol",
        "routing",
        with_default(
            """
            rules:
              - id: safety-urgent
                when: catgory == 'safety'
                assign: floor_leader
            """
        ),
        3,
        "safety-urgent",
        "unknown symbol 'catgory'",
        "category",
    ),
    Broken(
        "unknown-symbol-on-a-later-line-of-a-block",
        "access",
        """
            rules:
              - id: bind
                action: group.bind
                when: |
                  'floor_leader' in roles
                  or 'counsellor' in role
                allow: true
            """,
        6,
        "bind",
        "unknown symbol 'role'",
        "roles",
    ),
    Broken(
        "symbol-of-another-kind",
        "policies",
        """
            rules:
              - id: night
                policy: booking.window_days
                when: hour > 22
                value: 1
            """,
        4,
        "night",
        "unknown symbol 'hour' (policies rules may use: status, roles, college, community, "
        "building, floor, room_kind, request_kind, approver_role, date, weekday, day_of_month, "
        "year, is_holiday, semester, week, teaching_week, is_exam_week, is_vacation, periods)",
    ),
    Broken(
        "equality-across-types",
        "routing",
        with_default(
            """
            rules:
              - id: third-floor
                when: floor == 'three'
                assign: floor_leader
            """
        ),
        3,
        "third-floor",
        "floor is a number and 'three' is text: they are never equal",
    ),
    Broken(
        "ordering-across-types",
        "routing",
        with_default(
            """
            rules:
              - id: upstairs
                when: floor > 'a'
                assign: floor_leader
            """
        ),
        3,
        "upstairs",
        "data type mismatch: compare numbers with numbers and text with text",
    ),
    Broken(
        "member-of-the-wrong-type",
        "access",
        """
            rules:
              - id: a
                action: booking.create
                when: 3 in roles
                allow: true
            """,
        4,
        "a",
        "3 is a number but roles holds text: it is never in it",
    ),
    Broken(
        "nullable-without-default",
        "access",
        """
            rules:
              - id: business
                action: booking.create
                when: college =~ 'BUS.*'
                allow: true
            """,
        4,
        "business",
        "data type mismatch (left regex operand is nullable; discharge with '??'",
    ),
    Broken(
        "when-gives-text",
        "routing",
        with_default(
            """
            rules:
              - id: any
                when: category
                assign: floor_leader
            """
        ),
        3,
        "any",
        "when gives text, not true or false",
    ),
    Broken(
        "unknown-category",
        "routing",
        with_default(
            """
            rules:
              - id: safety
                when: category in ['hygiene', 'safty']
                assign: floor_leader
            """
        ),
        3,
        "safety",
        "unknown category value 'safty'",
        "safety",
    ),
    Broken(
        "unknown-role-in-when",
        "access",
        """
            rules:
              - id: approvals
                action: approval.*
                when: "'counselor' in roles"
                allow: true
            """,
        4,
        "approvals",
        "unknown roles value 'counselor'",
        "counsellor",
    ),
    Broken(
        "clock",
        "routing",
        with_default(
            """
            rules:
              - id: night
                when: $now.hour >= 23
                assign: building_manager
            """
        ),
        3,
        "night",
        "'$now' depends on the clock",
    ),
    Broken(
        "unknown-builtin",
        "routing",
        with_default(
            """
            rules:
              - id: long
                when: $lenght(building) > 3
                assign: building_manager
            """
        ),
        3,
        "long",
        "unknown built-in '$lenght'",
    ),
    Broken(
        "bad-regex",
        "routing",
        with_default(
            """
            rules:
              - id: b
                when: building =~ 'B(['
                assign: building_manager
            """
        ),
        3,
        "b",
        "invalid regular expression: 'B(['",
    ),
    Broken(
        "routing-without-assign",
        "routing",
        with_default(
            """
            rules:
              - id: repair
                when: category == 'repair'
                notify: [building_leader]
            """
        ),
        2,
        "repair",
        "no outcome: a routing rule needs assign: <role>",
    ),
    Broken(
        "unknown-role",
        "routing",
        with_default(
            """
            rules:
              - id: in-need
                when: category == 'student_in_need'
                assign: counselor
            """
        ),
        4,
        "in-need",
        "unknown role 'counselor'",
        "counsellor",
    ),
    Broken(
        "unknown-role-in-notify",
        "routing",
        with_default(
            """
            rules:
              - id: fraud
                when: category == 'fraud_risk'
                assign: counsellor
                notify:
                  - workstation_head
                  - floor_leadr
            """
        ),
        7,
        "fraud",
        "unknown role 'floor_leadr'",
        "floor_leader",
    ),
    Broken(
        "continue-with-assign",
        "routing",
        with_default(
            """
            rules:
              - id: night
                when: hour >= 23
                continue: true
                assign: building_manager
            """
        ),
        5,
        "night",
        "a 'continue' rule cannot assign",
    ),
    Broken(
        "no-default-routing-rule",
        "routing",
        """
            rules:
              - id: in-need
                when: category == 'student_in_need'
                assign: counsellor
            """,
        2,
        "in-need",
        "the last routing rule must be the default (when: true and assign: <role>)",
    ),
    Broken(
        "rule-never-reached",
        "access",
        """
            rules:
              - id: nobody
                action: "*"
                when: true
                deny: {zh: 不行。, en: No.}
              - id: booking
                action: booking.create
                when: true
                allow: true
            """,
        6,
        "booking",
        "this rule is never reached: rule 'nobody' (line 2) matches every case before it",
    ),
    Broken(
        "access-without-outcome",
        "access",
        """
            rules:
              - id: bind
                action: group.bind
                when: "'floor_leader' in roles"
            """,
        2,
        "bind",
        "no outcome (expected allow: true or deny: {zh: ..., en: ...})",
    ),
    Broken(
        "access-with-two-outcomes",
        "access",
        """
            rules:
              - id: bind
                action: group.bind
                when: "'floor_leader' in roles"
                allow: true
                deny: {zh: 不行。, en: No.}
            """,
        6,
        "bind",
        "two outcomes: a rule either allows or denies, not both",
    ),
    Broken(
        "allow-false",
        "access",
        """
            rules:
              - id: bind
                action: group.bind
                when: "'dorm_head' in roles"
                allow: false
            """,
        5,
        "bind",
        "allow must be true (got 'false'); to refuse, write deny: {zh: ..., en: ...}",
    ),
    Broken(
        "deny-in-one-language",
        "access",
        """
            rules:
              - id: bind
                action: group.bind
                when: true
                deny: Only floor leaders can bind a group.
            """,
        5,
        "bind",
        "deny needs the reason shown to the person in both languages",
    ),
    Broken(
        "deny-without-english",
        "access",
        """
            rules:
              - id: bind
                action: group.bind
                when: true
                deny:
                  zh: 只有层长可以绑定群聊。
            """,
        6,
        "bind",
        "deny needs the reason in both languages: missing 'en'",
    ),
    Broken(
        "bad-action",
        "access",
        """
            rules:
              - id: approvals
                action: approval*
                when: true
                allow: true
            """,
        3,
        "approvals",
        "bad action 'approval*'",
    ),
    Broken(
        "value-of-unsupported-type",
        "policies",
        """
            rules:
              - id: window
                policy: booking.window_days
                when: true
                value: [7, 14]
            """,
        5,
        "window",
        "value must be a whole or decimal number, true or false, or text (got a list)",
    ),
    Broken(
        "policy-of-two-types",
        "policies",
        """
            rules:
              - id: teachers
                policy: booking.max_per_week
                when: status == 'teacher'
                value: 10
              - id: others
                policy: booking.max_per_week
                when: true
                value: three
            """,
        9,
        "others",
        "policy 'booking.max_per_week' is a whole number in rule 'teachers' (line 5) but text here",
    ),
    Broken(
        "star-scope-misspelt",
        "policies",
        """
            rules:
              - id: star-scope
                policy: star.scope
                when: true
                value: schol
            """,
        5,
        "star-scope",
        "unknown value 'schol' for policy 'star.scope'",
        "school",
    ),
    Broken(
        "star-scope-unknown",
        "policies",
        """
            rules:
              - id: star-scope
                policy: star.scope
                when: true
                value: college
            """,
        5,
        "star-scope",
        "unknown value 'college' for policy 'star.scope' (expected one of: school, community)",
    ),
    Broken(
        "policy-moved-to-escalation",
        "policies",
        """
            rules:
              - id: grid-escalate-hours-low
                policy: grid.escalate_hours.low
                when: true
                value: 72
            """,
        3,
        "grid-escalate-hours-low",
        "grid.escalate_hours.low is no longer read: it is now the hours of a chain in "
        "escalation.yaml",
    ),
    Broken(
        "escalation-misspelt-tier",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: grid_party_member
                  - role: grid_gruop_leader
            """,
        7,
        "chain",
        "unknown role 'grid_gruop_leader'",
        "grid_group_leader",
    ),
    Broken(
        "escalation-misspelt-inform",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: branch_secretary
                    inform: [counselor]
            """,
        7,
        "chain",
        "unknown role 'counselor'",
        "counsellor",
    ),
    Broken(
        "escalation-misspelt-tier-key",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - rol: branch_secretary
            """,
        6,
        "chain",
        "unknown key 'rol' in a tier",
        "role",
    ),
    Broken(
        "escalation-down-to-a-floor",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: grid_party_member
                  - role: floor_leader
            """,
        7,
        "chain",
        "tier 'floor_leader' (held at a floor) comes after 'grid_party_member' (held at a grid): "
        "a report never climbs down",
    ),
    Broken(
        "escalation-tier-twice",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: grid_party_member
                  - role: grid_party_member
            """,
        7,
        "chain",
        "tier 'grid_party_member' is named twice (first on line 6)",
    ),
    Broken(
        "escalation-hours-without-an-urgency",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: {high: 2, normal: 24}
                tiers:
                  - role: grid_party_member
            """,
        4,
        "chain",
        "hours has no 'low' (give all of: high, normal, low)",
    ),
    Broken(
        "escalation-hours-misspelt-urgency",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: grid_party_member
                    hours: {high: 2, norml: 24, low: 72}
            """,
        7,
        "chain",
        "unknown key 'norml' in hours",
        "normal",
    ),
    Broken(
        "escalation-hours-not-a-number",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: a day
                tiers:
                  - role: grid_party_member
            """,
        4,
        "chain",
        "hours must be a number of hours (got text 'a day')",
    ),
    Broken(
        "escalation-hours-zero",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: {high: 0, normal: 24, low: 72}
                tiers:
                  - role: grid_party_member
            """,
        4,
        "chain",
        "hours.high is 0: give more than 0, at most 1440 (sixty days)",
    ),
    Broken(
        "escalation-without-tiers",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
            """,
        2,
        "chain",
        "missing 'tiers'",
    ),
    Broken(
        "escalation-misspelt-otherwise",
        "escalation",
        """
            rules:
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: grid_party_member
                otherwise: counselor
            """,
        7,
        "chain",
        "unknown role 'counselor'",
        "counsellor",
    ),
    Broken(
        "escalation-without-a-default",
        "escalation",
        """
            rules:
              - id: safety
                when: category == 'safety'
                hours: 1
                tiers:
                  - role: grid_party_member
            """,
        2,
        "safety",
        "the last escalation rule must be the default (when: true and its tiers)",
    ),
    Broken(
        "escalation-unknown-symbol",
        "escalation",
        """
            rules:
              - id: safety
                when: categroy == 'safety'
                hours: 1
                tiers:
                  - role: grid_party_member
              - id: chain
                when: true
                hours: 24
                tiers:
                  - role: grid_party_member
            """,
        3,
        "safety",
        "unknown symbol 'categroy'",
        "category",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_broken_rule_file(tmp_path: Path, case: Broken) -> None:
    folder = write_rules(tmp_path, **{case.kind: case.text})
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert problem.file == f"rules/{case.kind}.yaml"
    assert (problem.line, problem.rule_id) == (case.line, case.rule_id), str(problem)
    assert case.says in problem.message
    assert problem.suggestion == case.suggestion


def test_problem_is_shown_with_file_line_rule_and_suggestion(tmp_path: Path) -> None:
    case = next(case for case in CASES if case.name == "unknown-symbol")
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, routing=case.text))
    assert str(caught.value.problems[0]) == (
        "rules/routing.yaml:3 [safety-urgent]: unknown symbol 'catgory' (did you mean 'category'?)"
    )
    assert str(caught.value).splitlines()[0] == "1 problem in the rule files:"


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    by_name = {case.name: case for case in CASES}
    folder = write_rules(
        tmp_path,
        routing=by_name["unknown-symbol"].text,
        access=by_name["allow-false"].text,
        policies=by_name["policy-of-two-types"].text,
    )
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    assert [(p.file, p.line, p.rule_id) for p in caught.value.problems] == [
        ("rules/routing.yaml", 3, "safety-urgent"),
        ("rules/access.yaml", 5, "bind"),
        ("rules/policies.yaml", 9, "others"),
    ]


def test_several_problems_in_one_rule(tmp_path: Path) -> None:
    folder = write_rules(
        tmp_path,
        routing=with_default(
            """
            rules:
              - id: bad
                when: catgory == 'safety'
                asign: floor_leader
                notify: [counselor]
            """
        ),
    )
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    file = "rules/routing.yaml"
    assert caught.value.problems == [
        RuleProblem(file, 4, "bad", "unknown key 'asign' in a routing rule", "assign"),
        RuleProblem(file, 5, "bad", "unknown role 'counselor'", "counsellor"),
        RuleProblem(file, 3, "bad", "unknown symbol 'catgory'", "category"),
    ]


def test_control_character(tmp_path: Path) -> None:
    text = "rules:\n  - id: a\n    policy: a.b\n    when: true\n    value: x\x07\n"
    (tmp_path / "policies.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path.name}/policies.yaml:5: YAML syntax error: character U+0007 is not allowed"
    ]


def test_not_utf8(tmp_path: Path) -> None:
    text = "rules:\n  - id: a\n    policy: a.b\n    when: true\n    value: 阅览室\n"
    (tmp_path / "policies.yaml").write_bytes(text.encode("gbk"))
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path.name}/policies.yaml:5: not UTF-8 text: save the file as UTF-8"
    ]


def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(RulesError) as caught:
        load_rules(missing)
    assert caught.value.problems == [RuleProblem(str(missing), 0, None, "no such folder")]
