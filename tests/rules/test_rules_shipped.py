"""The rule files that ship with the product load cleanly and decide as the plan says."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from assistant.domain import Role
from assistant.rules import ISSUE_CATEGORIES, URGENCIES, Rules, load_rules
from assistant.rules.escalation import PLAN_CHAIN as GRID_CHAIN
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
        "booking.approver",
        "project.weight.relevance",
        "project.weight.feasibility",
        "project.weight.impact",
        "booking.open_hour",
        "booking.close_hour",
        "booking.slot_hours",
        "approval.nudge_hours",
        "approval.fallback_hours",
        "approval.fallback",
        "star.scope",
        "welcome.new_resident",
        "talk.window_days",
        "talk.max_upcoming",
        "talk.remind_minutes",
        "talk.counsellor_sees",
        "activity.window_days",
        "activity.offer_hours",
        "activity.checkin_open_minutes",
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
        # Who may apply (§四(二): teachers and students of the college); when is the calendar's.
        (
            "project.apply",
            {"status": "teacher", "roles": ["workstation_head"]},
            True,
            "project-apply",
        ),
        (
            "project.apply",
            {"status": "staff", "college": None, "roles": ["counsellor"]},
            True,
            "project-apply",
        ),
        ("project.apply", {"status": "party_member"}, True, "project-apply"),
        ("project.apply", {"status": "activist"}, True, "project-apply"),
        ("project.apply", {"status": "teacher"}, True, "project-apply"),
        ("project.apply", {"status": "student"}, False, "project-apply-others"),
        ("project.apply", {"status": "teacher", "college": None}, False, "project-apply-others"),
        ("project.apply", {"status": "staff", "college": None}, False, "project-apply-others"),
        ("project.results", {"status": "party_member"}, True, "project-results"),
        ("project.results", {"status": "student"}, False, "project-results-others"),
        ("project.score", {"status": "teacher", "roles": ["expert"]}, True, "project-score"),
        ("project.score", {"roles": ["counsellor"]}, False, "default-deny"),
        ("star.nominate", {"status": "student", "day_of_month": 25}, True, "star-nominate"),
        (
            "star.nominate",
            {"status": "student", "day_of_month": 26},
            False,
            "star-nominations-closed",
        ),
        ("star.nominate", {"status": "activist"}, True, "star-nominate"),
        ("star.nominate", {"status": "party_member"}, True, "star-nominate"),
        ("star.nominate", {"status": "teacher"}, False, "star-nominate-others"),
        (
            "star.eligible",
            {"status": "party_member", "same_community": True, "recent_winner": False},
            True,
            "star-eligible",
        ),
        (
            "star.eligible",
            {"status": "party_member", "same_community": True, "recent_winner": True},
            False,
            "star-not-eligible",
        ),
        (
            "star.eligible",
            {"status": "student", "same_community": True},
            False,
            "star-not-eligible",
        ),
        (
            "star.eligible",
            {"status": "party_member", "same_community": False},
            False,
            "star-not-eligible",
        ),
        ("star.select", {"status": "staff", "roles": ["service_centre"]}, True, "star-select"),
        ("star.select", {"roles": ["counsellor"]}, False, "default-deny"),
        (
            "approval.booking",
            {"status": "teacher", "roles": ["counsellor"]},
            True,
            "approval-booking",
        ),
        ("approval.booking", {"roles": ["workstation_head"]}, True, "approval-booking"),
        ("approval.booking", {"roles": ["floor_leader"]}, False, "approvals-others"),
        ("approval.project", {"roles": ["college_party_leader"]}, True, "approval-project"),
        ("approval.project", {"roles": ["org_department"]}, True, "approval-project"),
        ("approval.project", {"roles": ["counsellor"]}, False, "approvals-others"),
        ("broadcast.send", {"status": "teacher", "roles": ["workstation_head"]}, True, "broadcast"),
        ("broadcast.send", {"status": "staff", "roles": ["org_department"]}, True, "broadcast"),
        ("broadcast.send", {"roles": ["floor_leader"]}, False, "broadcast-others"),
        ("group.bind", {"status": "party_member", "roles": ["floor_leader"]}, True, "group-bind"),
        ("group.bind", {"status": "teacher", "roles": ["counsellor"]}, True, "group-bind"),
        ("group.bind", {"roles": ["dorm_head"]}, False, "group-bind-others"),
        ("booking.create", {}, True, "booking"),
        (
            "booking.create",
            {"room_kind": "activity_room", "is_holiday": True},
            False,
            "booking-holiday",
        ),
        ("booking.create", {"room_kind": "reading_room", "is_holiday": True}, True, "booking"),
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


def test_whoever_may_apply_for_a_project_may_submit_its_results(shipped: Rules) -> None:
    # Two rules of access.yaml say who: the results go with the application, so they must agree.
    whens = {rule.id: rule.when for rule in shipped.access}
    assert whens["project-results"] == whens["project-apply"]


def test_shipped_denial_reasons_in_both_languages(shipped: Rules) -> None:
    decision = shipped.allowed("approval.booking", person())
    reason = decision.outcome.reason
    assert reason is not None
    assert reason.text("zh-CN") == "您不是这类申请的审批人。"
    assert reason.text("en") == "You do not approve this kind of request."


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
        ("booking.approver", "student", "none"),
        ("project.weight.relevance", "teacher", 0.4),
    ],
)
def test_shipped_policies(shipped: Rules, name: str, status: str, value: int | float | str) -> None:
    decision = shipped.policy(name, person(status=status))
    assert decision.outcome.value == value
    assert type(decision.outcome.value) is type(value)


def test_the_star_of_the_month_is_one_for_the_whole_school_as_the_plan_says(
    shipped: Rules,
) -> None:
    # §七(四): the Community Service Centre picks one Star a month, for the whole school.
    centre = person(status="staff", roles=["service_centre"], community=None, building=None)
    decision = shipped.policy("star.scope", centre | {"college": None, "floor": None})
    assert (decision.outcome.value, decision.rule_id) == ("school", "star-scope")


# The plan's chain of responsibility (§三), bottom to top, with the Organisation Department,
# which leads party building in the communities, above the colleges.
PLAN_CHAIN = (
    "dorm_head",
    "floor_leader",
    "building_leader",
    "building_manager",
    "counsellor",
    "workstation_head",
    "college_party_leader",
    "org_department",
)


def test_the_approval_fallback_follows_the_plans_chain(shipped: Rules) -> None:
    for lower, upper in itertools.pairwise(PLAN_CHAIN):
        decision = shipped.policy("approval.fallback", person(approver_role=lower))
        assert decision.outcome.value == upper, lower
    top = shipped.policy("approval.fallback", person(approver_role="org_department"))
    assert top.outcome.value == "none" and top.rule_id == "approval-fallback"
    grid = shipped.policy("approval.fallback", person(approver_role="grid_party_member"))
    assert grid.outcome.value == "floor_leader"
    for name in ("approval.nudge_hours", "approval.fallback_hours"):
        assert isinstance(shipped.policy(name, person()).outcome.value, int)


def test_whoever_a_booking_goes_up_to_may_decide_it(shipped: Rules) -> None:
    approvers = {
        str(rule.outcome.value)
        for rule in shipped.policies
        if rule.outcome.policy == "booking.approver" and rule.outcome.value != "none"
    }
    for approver in approvers:
        role = approver
        while True:
            allowed = shipped.allowed("approval.booking", person(roles=[role])).outcome.allowed
            if role == "college_party_leader" or not allowed:
                break
            up = shipped.policy("approval.fallback", person(approver_role=role)).outcome.value
            role = str(up)
        # Up to the college party organisation leader, everyone on the way may decide.
        assert allowed and role == "college_party_leader", approver


def test_every_report_climbs_the_plans_grid_chain(shipped: Rules) -> None:
    for category in ISSUE_CATEGORIES:
        for urgency in URGENCIES:
            decision = shipped.chain(report(category=category, urgency=urgency))
            assert decision.rule_id == "grid-chain"
            # The file says what a rules folder without it falls back to.
            assert decision.outcome == GRID_CHAIN


def test_reading_rooms_open_longer_in_exam_weeks(shipped: Rules) -> None:
    def hours(day: date, room_kind: str) -> tuple[object, object]:
        subject = person(room_kind=room_kind) | shipped.calendar.day_facts(day)
        return (
            shipped.policy("booking.open_hour", subject).outcome.value,
            shipped.policy("booking.close_hour", subject).outcome.value,
        )

    teaching, exams = date(2027, 1, 6), date(2027, 1, 13)  # weeks 18 and 19 of the autumn
    assert shipped.calendar.facts(exams)["is_exam_week"]
    assert hours(teaching, "reading_room") == (8, 22)
    assert hours(exams, "reading_room") == (7, 23)
    assert hours(exams, "activity_room") == (8, 22)


def test_who_is_welcomed_as_a_new_resident(shipped: Rules) -> None:
    def welcomed(day: date, **changes: object) -> object:
        subject = person(**changes) | shipped.calendar.day_facts(day)
        return shipped.policy("welcome.new_resident", subject).outcome.value

    arrival = date(2026, 9, 3)
    assert welcomed(arrival) is True
    # Someone who lives in no dorm has no floor to be welcomed to.
    assert welcomed(arrival, building=None, community=None, floor=None) is False
    assert welcomed(date(2026, 9, 8)) is False


@pytest.mark.parametrize(
    ("roles", "call", "read"),
    [
        (["org_department"], True, True),
        (["youth_league"], False, True),
        (["workstation_head"], True, False),
        (["substation_head"], True, False),
        (["centre_head"], True, False),
        (["counsellor"], False, False),
        ([], False, False),
    ],
)
def test_who_calls_meetings_and_who_reads_their_minutes(
    shipped: Rules, roles: list[str], call: bool, read: bool
) -> None:
    subject = person(status="teacher", roles=roles)
    assert shipped.allowed("meeting.call", subject).outcome.allowed is call
    assert shipped.allowed("meeting.record", subject).outcome.allowed is call
    assert shipped.allowed("meeting.read", subject).outcome.allowed is read
