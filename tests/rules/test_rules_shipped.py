"""The rule files that ship with the product load cleanly and decide as the plan says."""

from __future__ import annotations

import pytest

from assistant.rules import Rules, load_rules
from assistant.storage.models import Role
from tests.rules.helpers import SHIPPED, person, report


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return load_rules(SHIPPED)


def test_shipped_files_load(shipped: Rules) -> None:
    assert len(shipped.routing) >= 10
    assert shipped.routing[-1].id == "default"
    assert shipped.routing[0].file == "rules/routing.yaml"
    assert {rule.file for rule in shipped.access} == {"rules/access.yaml"}
    assert {rule.outcome.policy for rule in shipped.policies} == {
        "booking.max_per_week",
        "booking.window_days",
        "booking.checkin_minutes",
        "grid.reopen_days",
        "star.cooldown_months",
        "project.budget_max",
    }


@pytest.mark.parametrize(
    ("changes", "rule_id", "assign", "notify"),
    [
        ({"category": "student_in_need"}, "student-in-need", Role.COUNSELLOR, ()),
        # A private report reaches the counsellor alone, even a safety hazard at night.
        (
            {"category": "safety", "private": True, "hour": 2},
            "student-in-need",
            Role.COUNSELLOR,
            (),
        ),
        ({"category": "fraud_risk"}, "fraud-risk", Role.COUNSELLOR, (Role.WORKSTATION_HEAD,)),
        (
            {"category": "safety", "urgency": "high"},
            "safety-urgent",
            Role.FLOOR_LEADER,
            (Role.COUNSELLOR,),
        ),
        (
            {"category": "safety", "urgency": "high", "hour": 23},
            "safety-urgent",
            Role.FLOOR_LEADER,
            (Role.BUILDING_MANAGER, Role.COUNSELLOR),
        ),
        ({"category": "safety", "hour": 3}, "safety", Role.FLOOR_LEADER, (Role.BUILDING_MANAGER,)),
        ({"category": "safety"}, "safety", Role.FLOOR_LEADER, ()),
        (
            {"category": "prohibited_items"},
            "prohibited-items",
            Role.BUILDING_MANAGER,
            (Role.FLOOR_LEADER,),
        ),
        ({"category": "late_return"}, "late-return", Role.DORM_HEAD, (Role.FLOOR_LEADER,)),
        (
            {"category": "late_return", "is_holiday": True},
            "late-return-holiday",
            Role.DORM_HEAD,
            (Role.FLOOR_LEADER, Role.COUNSELLOR),
        ),
        ({"category": "hygiene"}, "hygiene", Role.FLOOR_LEADER, ()),
        ({"category": "repair"}, "repair", Role.BUILDING_LEADER, ()),
        (
            {"category": "other", "urgency": "high"},
            "other-urgent",
            Role.GRID_PARTY_MEMBER,
            (Role.COUNSELLOR,),
        ),
        ({"category": "other"}, "default", Role.GRID_PARTY_MEMBER, ()),
    ],
)
def test_shipped_routing(
    shipped: Rules,
    changes: dict[str, object],
    rule_id: str,
    assign: Role,
    notify: tuple[Role, ...],
) -> None:
    decision = shipped.route(report(**changes))
    assert decision.rule_id == rule_id
    assert decision.outcome.assign is assign
    assert decision.outcome.notify == notify
    assert decision.trace[-1] == (rule_id, True)


@pytest.mark.parametrize(
    ("action", "changes", "allowed", "rule_id"),
    [
        (
            "project.apply",
            {"status": "teacher", "roles": ["college_party_leader"]},
            True,
            "project-apply",
        ),
        (
            "project.apply",
            {"status": "teacher", "roles": ["counsellor"]},
            False,
            "project-apply-others",
        ),
        ("star.nominate", {"status": "student"}, True, "star-nominate"),
        ("star.nominate", {"status": "activist"}, True, "star-nominate"),
        ("star.nominate", {"status": "party_member"}, True, "star-nominate"),
        ("star.nominate", {"status": "teacher"}, False, "star-nominate-others"),
        ("approval.decide", {"status": "teacher", "roles": ["counsellor"]}, True, "approvals"),
        ("approval.decide", {"roles": ["floor_leader"]}, False, "approvals-others"),
        ("broadcast.send", {"status": "teacher", "roles": ["workstation_head"]}, True, "broadcast"),
        ("broadcast.send", {"status": "staff", "roles": ["org_department"]}, True, "broadcast"),
        ("broadcast.send", {"roles": ["floor_leader"]}, False, "broadcast-others"),
        ("group.bind", {"status": "party_member", "roles": ["floor_leader"]}, True, "group-bind"),
        ("group.bind", {"status": "teacher", "roles": ["counsellor"]}, True, "group-bind"),
        ("group.bind", {"roles": ["dorm_head"]}, False, "group-bind-others"),
        ("booking.create", {}, True, "booking"),
        ("duty.swap", {"roles": ["admin"]}, False, "default-deny"),
    ],
)
def test_shipped_access(
    shipped: Rules, action: str, changes: dict[str, object], allowed: bool, rule_id: str
) -> None:
    decision = shipped.allowed(action, person(**changes))
    assert decision.outcome.allowed is allowed
    assert decision.rule_id == rule_id
    assert (decision.outcome.reason is None) is allowed


def test_shipped_denial_reasons_in_both_languages(shipped: Rules) -> None:
    decision = shipped.allowed("approval.decide", person())
    reason = decision.outcome.reason
    assert reason is not None
    assert reason.text("zh-CN") == "只有社区辅导员可以审批。"
    assert reason.text("en") == "Only community counsellors can approve requests."


@pytest.mark.parametrize(
    ("name", "status", "value"),
    [
        ("booking.max_per_week", "student", 3),
        ("booking.max_per_week", "party_member", 3),
        ("booking.max_per_week", "teacher", 10),
        ("booking.max_per_week", "staff", 10),
        ("booking.window_days", "student", 14),
        ("booking.checkin_minutes", "teacher", 15),
        ("grid.reopen_days", "student", 7),
        ("star.cooldown_months", "student", 6),
        ("project.budget_max", "teacher", 20000),
    ],
)
def test_shipped_policies(shipped: Rules, name: str, status: str, value: int) -> None:
    decision = shipped.policy(name, person(status=status))
    assert decision.outcome.value == value
    assert type(decision.outcome.value) is int
