"""Who may hold which role (rules/roles.yaml): the shipped rules follow the plan; broken files are
refused with file, line, role and a suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import REPO_ROOT
from assistant.domain import PersonStatus, Role
from assistant.rules import CAMPUS_TIMEZONE, RulesError, load_rules
from assistant.rules.roles import RoleRules, read_role_rules
from tests.rules.helpers import write_rules

SHIPPED = load_rules(REPO_ROOT / "rules").holders

GOOD = """
    roles:
      - role: floor_leader
        description: 学生党员层长
        when: status == 'party_member'
      - role: dorm_head
        when: status in ['student', 'activist', 'party_member']
"""

PARTY_MEMBERS = {PersonStatus.PARTY_MEMBER}
STUDENTS = {PersonStatus.STUDENT, PersonStatus.ACTIVIST, PersonStatus.PARTY_MEMBER}
STAFF = {PersonStatus.TEACHER, PersonStatus.STAFF}
# The plan's words: 学生党员楼管员、楼长、层长, 网格党员 and their party group's leader are student
# party members; a branch secretary is a party member (a teacher's membership is not in the
# directory: teachers and staff may); below the workstation, sub-stations and building centres
# are headed by student party members or the college's teachers; 宿舍长 any student; the
# college's and the community's posts and the school's offices are teachers' and staff's.
PLAN = {
    Role.BUILDING_MANAGER: PARTY_MEMBERS,
    Role.BUILDING_LEADER: PARTY_MEMBERS,
    Role.FLOOR_LEADER: PARTY_MEMBERS,
    Role.GRID_PARTY_MEMBER: PARTY_MEMBERS,
    Role.GRID_GROUP_LEADER: PARTY_MEMBERS,
    Role.BRANCH_SECRETARY: PARTY_MEMBERS | STAFF,
    Role.SUBSTATION_HEAD: PARTY_MEMBERS | STAFF,
    Role.CENTRE_HEAD: PARTY_MEMBERS | STAFF,
    Role.DORM_HEAD: STUDENTS,
    Role.SERVICE_VOLUNTEER: STUDENTS,
    Role.SERVICE_TEAM_LEADER: PARTY_MEMBERS | STAFF,
    Role.COLLEGE_PARTY_LEADER: STAFF,
    Role.COMMITTEE_SECRETARY: STAFF,
    Role.WORKSTATION_HEAD: STAFF,
    Role.COUNSELLOR: STAFF,
    Role.ORG_DEPARTMENT: STAFF,
    Role.LOGISTICS_SECURITY: STAFF,
    Role.STUDENT_AFFAIRS: STAFF,
    Role.PUBLICITY: STAFF,
    Role.YOUTH_LEAGUE: STAFF,
    Role.SPORTS: STAFF,
    Role.SERVICE_CENTRE: STAFF,
    Role.EXPERT: STAFF,
    Role.ADMIN: STAFF,
}


def load(tmp_path: Path, text: str) -> RoleRules:
    return read_role_rules(write_rules(tmp_path, roles=text), CAMPUS_TIMEZONE)


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_the_shipped_rules_let_the_statuses_the_plan_names_hold_each_role(role: Role) -> None:
    admitted = {
        status
        for status in PersonStatus
        if SHIPPED.refusing(role, {"status": status, "college": "BUS"}) is None
    }
    assert admitted == PLAN[role]


def test_a_role_without_a_rule_may_be_held_by_anyone(tmp_path: Path) -> None:
    rules = load(tmp_path, GOOD)
    student = {"status": "student", "college": "BUS"}
    assert str(rules.refusing(Role.FLOOR_LEADER, student)) == (
        "rules/roles.yaml:2 [floor_leader] when: status == 'party_member'"
    )
    assert rules.refusing(Role.DORM_HEAD, student) is None
    assert rules.refusing(Role.BUILDING_LEADER, student) is None
    assert RoleRules().refusing(Role.FLOOR_LEADER, student) is None


def test_a_rule_may_ask_for_the_college(tmp_path: Path) -> None:
    rules = load(tmp_path, GOOD.replace("status == 'party_member'", "college == 'BUS'"))
    assert rules.refusing(Role.FLOOR_LEADER, {"status": "student", "college": "BUS"}) is None
    assert rules.refusing(Role.FLOOR_LEADER, {"status": "student", "college": None}) is not None


@pytest.mark.parametrize(
    ("change", "line", "role", "says", "suggestion"),
    [
        (
            ("role: floor_leader", "role: flor_leader"),
            2,
            None,
            "unknown role 'flor_leader'",
            "floor_leader",
        ),
        (
            ("status == 'party_member'", "stauts == 'party_member'"),
            4,
            "floor_leader",
            "when: unknown symbol 'stauts'",
            "status",
        ),
        (
            ("status == 'party_member'", "status == 'party-member'"),
            4,
            "floor_leader",
            "'party-member'",
            "party_member",
        ),
        (
            ("status == 'party_member'", "roles == []"),
            4,
            "floor_leader",
            "when: unknown symbol 'roles'",
            None,
        ),
        (
            ("    when: status ==", "    whem: status =="),
            4,
            "floor_leader",
            "unknown key 'whem'",
            "when",
        ),
        (
            ("status == 'party_member'", "''"),
            4,
            "floor_leader",
            "when must be a rule in quotes",
            None,
        ),
        (
            ("description: 学生党员层长", "description: [层长]"),
            3,
            "floor_leader",
            "description must be text",
            None,
        ),
        (
            ("role: dorm_head", "role: floor_leader"),
            5,
            "floor_leader",
            "role 'floor_leader' is used twice (first on line 2)",
            None,
        ),
        (("roles:", "role:"), 1, None, "expected one key, roles: a list of roles", None),
        (
            (
                "- role: dorm_head\n"
                "        when: status in ['student', 'activist', 'party_member']",
                "- dorm_head",
            ),
            5,
            None,
            "each rule must be a mapping with role and when",
            None,
        ),
        (("status in ['student',", "status in ['student'"), 6, "dorm_head", "syntax error", None),
    ],
)
def test_a_broken_rule_is_refused_with_line_and_hint(
    tmp_path: Path,
    change: tuple[str, str],
    line: int,
    role: str | None,
    says: str,
    suggestion: str | None,
) -> None:
    assert change[0] in GOOD
    with pytest.raises(RulesError) as caught:
        load(tmp_path, GOOD.replace(change[0], change[1], 1))
    problems = caught.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert (problem.file, problem.line, problem.rule_id) == ("rules/roles.yaml", line, role), str(
        problem
    )
    assert says in problem.message, str(problem)
    assert problem.suggestion == suggestion


def test_a_broken_roles_file_stops_the_start_like_any_rule_file(tmp_path: Path) -> None:
    folder = write_rules(tmp_path, roles=GOOD.replace("role: dorm_head", "role: dorm_haed"))
    with pytest.raises(RulesError) as caught:
        load_rules(folder)
    assert [str(p) for p in caught.value.problems] == [
        "rules/roles.yaml:5: unknown role 'dorm_haed' (did you mean 'dorm_head'?)"
    ]
