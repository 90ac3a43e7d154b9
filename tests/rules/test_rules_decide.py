"""Deciding: first match, ``continue``, wildcard actions, the secure default, traces, explanations
and the checks of the subject."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import pytest

from assistant.domain import PersonStatus, Role
from assistant.rules import (
    DEFAULT_DENIAL,
    NoRuleMatched,
    RuleEvaluationError,
    Rules,
    SubjectError,
    load_rules,
)
from assistant.rules.escalation import PLAN_CHAIN
from tests.rules.helpers import person, report, write_rules

ROUTING = """
rules:
  - id: in-need
    when: category == 'student_in_need'
    assign: counsellor

  - id: night
    when: hour >= 23 or hour < 6
    notify: [building_manager]
    continue: true

  - id: holiday
    when: is_holiday
    notify: [counsellor, building_manager]
    continue: true

  - id: safety-urgent
    when: category == 'safety' and urgency == 'high'
    assign: floor_leader
    notify: [counsellor]

  - id: default
    when: true
    assign: grid_party_member
"""

ACCESS = """
rules:
  - id: approvals-by-counsellors
    action: approval.*
    when: "'counsellor' in roles"
    allow: true

  - id: no-self-approval
    action: approval.decide
    when: "'counsellor' in (target_roles ?? [])"
    deny: {zh: 不能审批辅导员的申请。, en: Requests of counsellors are not approved here.}

  - id: approval-decide-by-heads
    action: approval.decide
    when: "'workstation_head' in roles"
    allow: true

  - id: everything-for-admins
    action: "*"
    when: "'admin' in roles"
    allow: true

  - id: booking
    action: booking.create
    when: status != 'staff'
    allow: true
"""

POLICIES = """
rules:
  - id: teachers
    policy: booking.max_per_week
    when: status in ['teacher', 'staff']
    value: 10

  - id: students-of-art
    policy: booking.max_per_week
    when: college == 'ART'
    value: 5

  - id: students
    policy: booking.max_per_week
    when: status == 'student'
    value: 3

  - id: ratio
    policy: usage.target_ratio
    when: true
    value: 0.6

  - id: self-service
    policy: booking.self_service
    when: true
    value: true

  - id: room
    policy: booking.default_room
    when: true
    value: 阅览室
"""


@pytest.fixture
def rules(tmp_path: Path) -> Rules:
    return load_rules(write_rules(tmp_path, routing=ROUTING, access=ACCESS, policies=POLICIES))


def test_first_match_decides_and_the_trace_says_which(rules: Rules) -> None:
    decision = rules.route(report(category="safety", urgency="high"))
    assert decision.rule_id == "safety-urgent"
    assert (decision.file, decision.line) == ("rules/routing.yaml", 16)
    assert decision.outcome.assign is Role.FLOOR_LEADER
    assert decision.outcome.notify == (Role.COUNSELLOR,)
    assert decision.trace == (
        ("in-need", False),
        ("night", False),
        ("holiday", False),
        ("safety-urgent", True),
    )


def test_continue_collects_notify_up_to_the_deciding_rule(rules: Rules) -> None:
    decision = rules.route(report(category="safety", urgency="high", hour=23, is_holiday=True))
    assert decision.rule_id == "safety-urgent"
    assert decision.outcome.assign is Role.FLOOR_LEADER
    # In file order, each role once: night, then holiday, then the deciding rule.
    assert decision.outcome.notify == (Role.BUILDING_MANAGER, Role.COUNSELLOR)
    assert decision.trace == (
        ("in-need", False),
        ("night", True),
        ("holiday", True),
        ("safety-urgent", True),
    )
    assert decision.continued == (1, 2)


def test_continue_matches_after_the_deciding_rule_are_not_collected(rules: Rules) -> None:
    decision = rules.route(report(category="student_in_need", hour=2))
    assert decision.rule_id == "in-need"
    assert decision.outcome.notify == ()
    assert decision.trace == (("in-need", True),)


def test_the_default_rule_ends_every_search(rules: Rules) -> None:
    decision = rules.route(report(category="repair", hour=5))
    assert decision.rule_id == "default"
    assert decision.outcome.assign is Role.GRID_PARTY_MEMBER
    assert decision.outcome.notify == (Role.BUILDING_MANAGER,)
    assert [step.matched for step in decision.trace] == [False, True, False, False, True]


def test_explain_in_both_languages(rules: Rules) -> None:
    decision = rules.route(report(category="safety", urgency="high", hour=23))
    assert decision.explain("en").splitlines() == [
        "assign floor_leader, notify building_manager, counsellor "
        "(rule 'safety-urgent', rules/routing.yaml:16)",
        "  rule 'in-need' (rules/routing.yaml:2): did not match",
        "  rule 'night' (rules/routing.yaml:6): matched, continue → notify building_manager",
        "  rule 'holiday' (rules/routing.yaml:11): did not match",
        "  rule 'safety-urgent' (rules/routing.yaml:16): matched → assign floor_leader, "
        "notify counsellor",
    ]
    assert decision.explain("zh-CN").splitlines() == [
        "指派 floor_leader，通知 building_manager、counsellor —— "
        "由规则 'safety-urgent'（rules/routing.yaml:16）决定",
        "  规则 'in-need'（rules/routing.yaml:2）：不匹配",
        "  规则 'night'（rules/routing.yaml:6）：匹配，继续 → 通知 building_manager",
        "  规则 'holiday'（rules/routing.yaml:11）：不匹配",
        "  规则 'safety-urgent'（rules/routing.yaml:16）："
        "匹配 → 指派 floor_leader，通知 counsellor",
    ]


def test_wildcard_action_rules_apply_in_file_order(rules: Rules) -> None:
    counsellor = person(status="teacher", roles=["counsellor"])
    decision = rules.allowed("approval.decide", counsellor)
    assert decision.outcome.allowed
    assert decision.rule_id == "approvals-by-counsellors"
    # approval.* covers approval.cancel too; approval.decide's own rules do not.
    head = person(status="teacher", roles=["workstation_head"])
    assert rules.allowed("approval.decide", head).rule_id == "approval-decide-by-heads"
    refused = rules.allowed("approval.cancel", head)
    assert not refused.outcome.allowed
    assert refused.trace == (("approvals-by-counsellors", False), ("everything-for-admins", False))


def test_optional_target_data(rules: Rules) -> None:
    head = person(status="teacher", roles=["workstation_head"])
    decision = rules.allowed("approval.decide", {**head, "target_roles": [Role.COUNSELLOR]})
    assert decision.rule_id == "no-self-approval"
    assert decision.outcome.reason is not None
    assert decision.outcome.reason.en == "Requests of counsellors are not approved here."
    assert rules.allowed("approval.decide", head).rule_id == "approval-decide-by-heads"


def test_star_action_covers_every_action(rules: Rules) -> None:
    admin = person(status="staff", roles=["admin"])
    assert rules.allowed("star.select", admin).rule_id == "everything-for-admins"
    assert rules.allowed("booking.create", admin).rule_id == "everything-for-admins"


def test_secure_default_when_no_rule_matches(rules: Rules) -> None:
    decision = rules.allowed("booking.create", person(status="staff"))
    assert not decision.outcome.allowed
    assert decision.outcome.reason == DEFAULT_DENIAL
    assert decision.rule_id is None
    assert decision.file is None
    assert decision.trace == (("everything-for-admins", False), ("booking", False))
    assert decision.explain("en").splitlines()[0] == (
        "deny: You are not allowed to do this. (no rule matched: default)"
    )


def test_secure_default_for_an_action_no_rule_names(rules: Rules) -> None:
    decision = rules.allowed("project.apply", person(roles=["college_party_leader"]))
    assert not decision.outcome.allowed
    assert decision.rule_id is None
    assert decision.trace == (("everything-for-admins", False),)


def test_no_files_means_no_rules(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path))
    assert rules.allowed("booking.create", person()).outcome.allowed is False
    with pytest.raises(NoRuleMatched, match=r"no routing rule decides this routing subject"):
        rules.route(report())


def test_policies_first_match_per_policy(rules: Rules) -> None:
    assert rules.policy("booking.max_per_week", person(status="teacher")).outcome.value == 10
    art = rules.policy("booking.max_per_week", person(college="ART"))
    assert (art.outcome.value, art.rule_id) == (5, "students-of-art")
    assert art.trace == (("teachers", False), ("students-of-art", True))
    assert rules.policy("usage.target_ratio", person()).outcome.value == 0.6
    assert rules.policy("booking.self_service", person()).outcome.value is True
    assert rules.policy("booking.default_room", person()).outcome.value == "阅览室"


def test_policy_without_a_matching_rule(rules: Rules) -> None:
    with pytest.raises(NoRuleMatched) as caught:
        rules.policy("booking.max_per_week", person(status="activist", college="MEE"))
    assert caught.value.name == "booking.max_per_week"
    assert caught.value.tried == ("teachers", "students-of-art", "students")
    assert str(caught.value) == (
        "no policies rule decides policy 'booking.max_per_week' "
        "(rules tried: 'teachers', 'students-of-art', 'students')"
    )
    with pytest.raises(NoRuleMatched, match=r"policy 'booking.no_such'.*rules tried: none"):
        rules.policy("booking.no_such", person())


def test_enum_values_compare_as_their_text(rules: Rules) -> None:
    class Category(StrEnum):
        SAFETY = "safety"

    decision = rules.route(report(category=Category.SAFETY, urgency="high"))
    assert decision.rule_id == "safety-urgent"
    staff = person(status=PersonStatus.STAFF, roles=[Role.ADMIN])
    assert rules.allowed("booking.create", staff).rule_id == "everything-for-admins"


@pytest.mark.parametrize(
    ("subject", "symbol", "says"),
    [
        ({k: v for k, v in report().items() if k != "floor"}, "floor", "is missing"),
        (report(floor="3"), "floor", "is '3' (expected a whole number)"),
        (report(floor=True), "floor", "is True (expected a whole number)"),
        (report(hour=24), "hour", "is 24, out of range (expected a whole number from 0 to 23)"),
        (report(private="no"), "private", "is 'no' (expected true or false)"),
        (report(college=3), "college", "is 3 (expected text, or null)"),
        (report(category="safty"), "category", "is 'safty' (expected text from: safety,"),
        (report(reporter_roles=["counselor"]), "reporter_roles", "is 'counselor'"),
        (report(reporter_roles="floor_leader"), "reporter_roles", "is 'floor_leader'"),
        (report(building=None), "building", "is None (expected text)"),
    ],
)
def test_bad_subjects_are_refused_by_name(
    rules: Rules, subject: dict[str, object], symbol: str, says: str
) -> None:
    with pytest.raises(SubjectError) as caught:
        rules.route(subject)
    assert caught.value.symbol == symbol
    assert caught.value.kind == "routing"
    assert says in str(caught.value)


def test_subject_suggestion(rules: Rules) -> None:
    with pytest.raises(SubjectError) as caught:
        rules.route(report(category="Safety"))
    assert caught.value.suggestion == "safety"
    assert str(caught.value).endswith("(did you mean 'safety'?)")


def test_extra_keys_are_ignored_and_action_comes_from_the_call(rules: Rules) -> None:
    decision = rules.route({**report(category="student_in_need"), "comment": object()})
    assert decision.rule_id == "in-need"
    admin = person(status="staff", roles=["admin"], action="booking.create")
    assert rules.allowed("star.select", admin).outcome.allowed


def test_bad_action_name(rules: Rules) -> None:
    with pytest.raises(SubjectError, match=r"'approval\.\*' is not an action name"):
        rules.allowed("approval.*", person())


def test_a_rule_that_fails_while_evaluated_is_named(tmp_path: Path) -> None:
    folder = write_rules(
        tmp_path,
        access="""
        rules:
          - id: first-role
            action: duty.swap
            when: roles[0] == 'floor_leader'
            allow: true
        """,
    )
    rules = load_rules(folder)
    assert rules.allowed("duty.swap", person(roles=["floor_leader"])).outcome.allowed
    with pytest.raises(RuleEvaluationError) as caught:
        rules.allowed("duty.swap", person(roles=[]))
    assert str(caught.value) == "rules/access.yaml:2 [first-role]: lookup operation failed"


ESCALATION = """
rules:
  - id: safety
    when: category == 'safety'
    hours: 1
    tiers:
      - role: grid_party_member
      - role: grid_group_leader
        hours: {high: 0.5, normal: 4, low: 8}
      - role: branch_secretary
        inform: [counsellor, workstation_head]
  - id: chain
    when: true
    hours: {high: 2, normal: 24, low: 72}
    tiers:
      - role: grid_party_member
      - role: grid_group_leader
      - role: branch_secretary
      - role: college_party_leader
    otherwise: counsellor
"""


def test_a_chain_per_category_with_hours_per_tier(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, escalation=ESCALATION))
    safety = rules.chain(report(category="safety"))
    assert safety.rule_id == "safety" and safety.outcome.otherwise is None
    assert [tier.role for tier in safety.outcome.tiers][-1] is Role.BRANCH_SECRETARY
    assert safety.outcome.tiers[-1].inform == (Role.COUNSELLOR, Role.WORKSTATION_HEAD)
    # A tier's own hours, else the chain's, also for a role that is no tier of it.
    assert safety.outcome.hours_at(Role.GRID_GROUP_LEADER, "high") == 0.5
    assert safety.outcome.hours_at(Role.GRID_GROUP_LEADER, "low") == 8
    assert safety.outcome.hours_at(Role.FLOOR_LEADER, "low") == 1
    other = rules.chain(report(category="hygiene", urgency="low"))
    assert [step.rule_id for step in other.trace] == ["safety", "chain"]
    assert other.outcome.hours_at(Role.GRID_PARTY_MEMBER, "low") == 72
    assert "branch_secretary (inform counsellor, workstation_head)" in safety.explain("en")
    assert rules.chain(None).rule_id == "chain"  # a report stored without its facts


def test_a_report_joins_its_chain_at_the_first_tier_not_below_those_who_have_it(
    tmp_path: Path,
) -> None:
    chain = load_rules(write_rules(tmp_path, escalation=ESCALATION)).chain(report()).outcome

    def above(role: Role) -> list[Role]:
        return [tier.role for tier in chain.above(role)]

    grid = [Role.GRID_PARTY_MEMBER, Role.GRID_GROUP_LEADER]
    party = [Role.BRANCH_SECRETARY, Role.COLLEGE_PARTY_LEADER]
    assert above(Role.DORM_HEAD) == above(Role.FLOOR_LEADER) == [*grid, *party]
    assert above(Role.GRID_PARTY_MEMBER) == [Role.GRID_GROUP_LEADER, *party]
    # A building's leader is above any grid of it; a counsellor above the party branch.
    assert above(Role.BUILDING_LEADER) == party
    assert above(Role.COUNSELLOR) == [Role.COLLEGE_PARTY_LEADER]
    assert above(Role.COLLEGE_PARTY_LEADER) == []


def test_without_an_escalation_file_reports_climb_the_plans_chain(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, routing=ROUTING))
    decision = rules.chain(report())
    assert decision.outcome is PLAN_CHAIN and decision.rule_id is None
    assert decision.explain("en").endswith("(no escalation.yaml: the plan's chain)")
    assert [tier.role for tier in PLAN_CHAIN.tiers] == [
        Role.GRID_PARTY_MEMBER,
        Role.GRID_GROUP_LEADER,
        Role.BRANCH_SECRETARY,
        Role.COLLEGE_PARTY_LEADER,
    ]
