"""Broken campus files: each is reported at its file and exact line, and nothing is written.

Every case edits one file of the valid test campus (tests/directory/data) after that campus has
been imported, and the line numbers asserted are those of the edited files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant.config import REPO_ROOT
from assistant.directory import ImportReport, OrgFileError
from assistant.rules import CAMPUS_TIMEZONE
from assistant.rules.roles import read_role_rules
from assistant.storage.db import Database

Change = Callable[[str], str | bytes]
Snapshot = dict[str, list[tuple[Any, ...]]]


def replace(old: str, new: str) -> Change:
    def change(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} is not unique in the test file"
        return text.replace(old, new)

    return change


def whole(new: str) -> Change:
    return lambda _text: new


def gbk(text: str) -> bytes:
    return text.encode("gbk")


def with_graduation(text: str, row: str, year: str) -> str:
    """people.csv with the optional graduation column: ``year`` for the row starting with
    ``row``, empty for the others."""
    lines = text.splitlines()
    lines = [f"{line},graduation" if i == 0 else f"{line}," for i, line in enumerate(lines)]
    return (
        "\n".join(f"{line}{year}" if row and line.startswith(row) else line for line in lines)
        + "\n"
    )


def section_as_text(text: str) -> str:
    start, end = text.index("functional_rooms:"), text.index("people:")
    return f"{text[:start]}functional_rooms: PSY\n{text[end:]}"


@dataclass(frozen=True)
class Broken:
    id: str
    file: str
    change: Change
    line: int
    says: str
    suggestion: str | None = None


CASES = [
    # --- campus.yaml ---------------------------------------------------------------------------
    Broken("yaml-empty", "campus.yaml", whole(""), 1, "empty file"),
    Broken("yaml-gbk", "campus.yaml", gbk, 4, "save the file as UTF-8"),
    Broken(
        "yaml-syntax",
        "campus.yaml",
        replace("  - code: C2\n", "  - code: C2: two\n"),
        13,
        "YAML syntax error",
    ),
    Broken(
        "yaml-control-character",
        "campus.yaml",
        replace("en: Community 2}", "en: Community\x07 2}"),
        14,
        "YAML syntax error: character U+0007 is not allowed",
    ),
    Broken(
        "yaml-top-level-list",
        "campus.yaml",
        whole("- colleges\n- buildings\n"),
        1,
        "the top level must be a mapping",
    ),
    Broken(
        "yaml-unknown-top-level-key",
        "campus.yaml",
        replace("functional_rooms:\n", "functional_room:\n"),
        36,
        "unknown key 'functional_room' in the campus file",
        "functional_rooms",
    ),
    Broken(
        "yaml-missing-top-level-key",
        "campus.yaml",
        replace("roles: roles.csv\n", ""),
        2,
        "missing 'roles' in the campus file",
    ),
    Broken(
        "yaml-section-not-a-list",
        "campus.yaml",
        section_as_text,
        36,
        "functional_rooms must be a list of items starting with '-' (got text 'PSY')",
    ),
    Broken(
        "yaml-capacity-text",
        "campus.yaml",
        replace("    capacity: 8\n", '    capacity: "8"\n'),
        51,
        "capacity is text '8' (expected a whole number from 1 to 1000)",
    ),
    Broken(
        "yaml-capacity-out-of-range",
        "campus.yaml",
        replace("    capacity: 40\n", "    capacity: 1001\n"),
        41,
        "capacity 1001 is out of range",
    ),
    Broken(
        "yaml-floors-zero",
        "campus.yaml",
        replace("    floors: 4\n", "    floors: 0\n"),
        24,
        "floors 0 is out of range (expected a whole number from 1 to 100)",
    ),
    Broken(
        "yaml-floors-not-a-number",
        "campus.yaml",
        replace("    floors: 6\n", "    floors: six\n"),
        19,
        "floors is text 'six'",
    ),
    Broken(
        "yaml-floors-fraction",
        "campus.yaml",
        replace("    floors: 6\n", "    floors: 5.5\n"),
        19,
        "floors is '5.5'",
    ),
    Broken(
        "yaml-rooms-per-floor-too-many",
        "campus.yaml",
        replace("    rooms_per_floor: 8\n", "    rooms_per_floor: 100\n"),
        25,
        "rooms_per_floor 100 is out of range (expected a whole number from 1 to 99)",
    ),
    Broken(
        "yaml-code-characters",
        "campus.yaml",
        replace("  - code: PSY\n", "  - code: P S/Y\n"),
        48,
        "bad code 'P S/Y'",
    ),
    Broken(
        "yaml-code-too-long",
        "campus.yaml",
        replace("  - code: PSY\n", f"  - code: {'P' * 33}\n"),
        48,
        "bad code",
    ),
    Broken(
        "yaml-duplicate-grid",
        "campus.yaml",
        replace("  - code: B2-G1\n", "  - code: B1-G2\n"),
        33,
        "duplicate grid code 'B1-G2' (first on line 30)",
    ),
    Broken(
        "yaml-duplicate-functional-room",
        "campus.yaml",
        replace("  - code: PSY\n", "  - code: B1-READ\n"),
        48,
        "duplicate functional room code 'B1-READ' (first on line 37)",
    ),
    Broken(
        "yaml-duplicate-college",
        "campus.yaml",
        replace("  - code: MEE\n", "  - code: MEE\n    name: {zh: 机电, en: ME}\n  - code: MEE\n"),
        9,
        "duplicate college code 'MEE' (first on line 7)",
    ),
    Broken(
        "yaml-community-unknown-college",
        "campus.yaml",
        replace("    college: BUS\n  - code: C2", "    college: BUSS\n  - code: C2"),
        12,
        "unknown college 'BUSS'",
        "BUS",
    ),
    Broken(
        "yaml-building-unknown-community",
        "campus.yaml",
        replace("    community: C2\n", "    community: C3\n"),
        22,
        "unknown community 'C3' (expected one of: C1, C2)",
    ),
    Broken(
        "yaml-grid-unknown-building",
        "campus.yaml",
        replace("    building: B2\n", "    building: B3\n"),
        34,
        "unknown building 'B3'",
    ),
    Broken(
        "yaml-grid-floor-out-of-range",
        "campus.yaml",
        replace("    floors: [1, 2]\n", "    floors: [1, 5]\n"),
        35,
        "floor 5 is not in building B2 (expected 1 to 4)",
    ),
    Broken(
        "yaml-floor-in-two-grids",
        "campus.yaml",
        replace("    floors: [4, 5, 6]\n", "    floors: [3, 4, 5, 6]\n"),
        32,
        "floor B1-3 is already in grid B1-G1 (line 29)",
    ),
    Broken(
        "yaml-grid-floor-twice",
        "campus.yaml",
        replace("    floors: [4, 5, 6]\n", "    floors:\n      - 4\n      - 5\n      - 4\n"),
        35,
        "floor 4 is listed twice",
    ),
    Broken(
        "yaml-bad-room-kind",
        "campus.yaml",
        replace("    kind: psych_studio\n", "    kind: psych_room\n"),
        49,
        "unknown kind 'psych_room'",
        "psych_studio",
    ),
    Broken(
        "yaml-reading-room-without-building",
        "campus.yaml",
        replace("    building: B1\n    capacity: 40\n", "    capacity: 40\n"),
        37,
        "a reading_room needs a building",
    ),
    Broken(
        "yaml-activity-room-without-college",
        "campus.yaml",
        replace("    college: BUS\n    capacity: 30\n", "    capacity: 30\n"),
        42,
        "an activity_room needs a college",
    ),
    Broken(
        "yaml-name-without-english",
        "campus.yaml",
        replace(", en: Psychological Health Studio}", "}"),
        50,
        "missing 'en' in name (expected the English name)",
    ),
    Broken(
        "yaml-missing-item-key",
        "campus.yaml",
        replace("    rooms_per_floor: 8\n", ""),
        21,
        "missing 'rooms_per_floor' in a building (expected the number of dorm rooms",
    ),
    Broken(
        "yaml-duplicate-key",
        "campus.yaml",
        replace("    floors: 4\n", "    floors: 4\n    floors: 5\n"),
        25,
        "duplicate key 'floors' (first on line 24)",
    ),
    Broken(
        "yaml-unknown-item-key",
        "campus.yaml",
        replace("    capacity: 8\n", "    capacity: 8\n    colour: red\n"),
        52,
        "unknown key 'colour' in a functional room",
    ),
    Broken(
        "yaml-people-file-missing",
        "campus.yaml",
        replace("people: people.csv\n", "people: persons.csv\n"),
        52,
        "people file 'persons.csv' not found",
    ),
    Broken(
        "yaml-roles-file-missing",
        "campus.yaml",
        replace("roles: roles.csv\n", "roles: role.csv\n"),
        53,
        "roles file 'role.csv' not found",
    ),
    # --- campus.yaml: the party organisation's units ----------------------------------------
    Broken(
        "yaml-branch-unknown-community",
        "campus.yaml",
        replace(
            "    community: C1\n    name: {zh: 第一社区学生党支部",
            "    community: C7\n    name: {zh: 第一社区学生党支部",
        ),
        56,
        "unknown community 'C7'",
    ),
    Broken(
        "yaml-branch-unknown-building",
        "campus.yaml",
        replace("Party Branch}\n    buildings: [B1]", "Party Branch}\n    buildings: [B9]"),
        58,
        "unknown building 'B9' (expected one of: B1, B2)",
    ),
    Broken(
        "yaml-branch-building-of-another-community",
        "campus.yaml",
        replace("Party Branch}\n    buildings: [B1]", "Party Branch}\n    buildings: [B1, B2]"),
        58,
        "building B2 is in community C2, not C1",
    ),
    Broken(
        "yaml-branch-buildings-not-a-list",
        "campus.yaml",
        replace("Party Branch}\n    buildings: [B1]", "Party Branch}\n    buildings: B1"),
        58,
        "buildings must be a list like [B1, B2] (got text 'B1')",
    ),
    Broken(
        "yaml-building-in-two-substations",
        "campus.yaml",
        replace(
            "Sub-station}\n    buildings: [B1]\n",
            "Sub-station}\n    buildings: [B1]\n"
            "  - {code: C1-S2, community: C1, name: {zh: 二分站, en: S2}, buildings: [B1]}\n",
        ),
        65,
        "building B1 is already in substation C1-S1 (line 64)",
    ),
    Broken(
        "yaml-duplicate-substation-code",
        "campus.yaml",
        replace(
            "Sub-station}\n    buildings: [B1]\n",
            "Sub-station}\n    buildings: [B1]\n"
            "  - {code: C1-S1, community: C2, name: {zh: 二分站, en: S2}, buildings: [B2]}\n",
        ),
        65,
        "duplicate substation code 'C1-S1' (first on line 61)",
    ),
    # --- people.csv ----------------------------------------------------------------------------
    Broken("people-empty", "people.csv", whole(""), 1, "empty file"),
    Broken("people-gbk", "people.csv", gbk, 2, "save the file as CSV UTF-8"),
    Broken(
        "people-semicolons",
        "people.csv",
        whole("number;name;status;college;room\n2021001;张伟;student;BUS;B1-101\n"),
        1,
        "columns must be separated by commas",
    ),
    Broken(
        "people-missing-column",
        "people.csv",
        replace("number,name,status,college,room\n", "number,name,status,college\n"),
        1,
        "missing column 'room'",
    ),
    Broken(
        "people-unknown-column",
        "people.csv",
        replace("number,name,status,college,room\n", "number,name,status,college,rooms\n"),
        1,
        "unknown column 'rooms'",
        "room",
    ),
    Broken(
        "people-too-many-fields",
        "people.csv",
        replace("2021005,陈静,student,ART,B2-208\n", "2021005,陈静,student,ART,B2-208,x\n"),
        6,
        "expected 5 fields (number,name,status,college,room), found 6",
    ),
    Broken(
        "people-too-few-fields",
        "people.csv",
        replace("T002,孙老师,teacher,,\n", "T002,孙老师,teacher\n"),
        9,
        "found 3",
    ),
    Broken(
        "people-duplicate-number",
        "people.csv",
        replace('2021006,"Smith', '2021005,"Smith'),
        7,
        "duplicate number '2021005' (first on line 6)",
    ),
    Broken(
        "people-bad-graduation",
        "people.csv",
        lambda text: with_graduation(text, "2021001,", "27"),
        2,
        "bad graduation '27' (expected a year like 2027, or empty)",
    ),
    Broken(
        "people-graduation-for-a-teacher",
        "people.csv",
        lambda text: with_graduation(text, "T002,", "2027"),
        9,
        "graduation given for status 'teacher' (only students graduate; leave it empty)",
    ),
    Broken(
        "people-misspelt-graduation-column",
        "people.csv",
        lambda text: with_graduation(text, "", "").replace(",graduation\n", ",graduaton\n", 1),
        1,
        "unknown column 'graduaton'",
        "graduation",
    ),
    Broken(
        "people-bad-number",
        "people.csv",
        replace("2021005,陈静", "2021-005,陈静"),
        6,
        "bad number '2021-005'",
    ),
    Broken(
        "people-empty-name",
        "people.csv",
        replace("T002,孙老师,teacher", "T002,  ,teacher"),
        9,
        "empty name",
    ),
    Broken(
        "people-unknown-status",
        "people.csv",
        replace("2021005,陈静,student", "2021005,陈静,studnet"),
        6,
        "unknown status 'studnet'",
        "student",
    ),
    Broken(
        "people-unknown-college",
        "people.csv",
        replace("2021003,王芳,activist,ART", "2021003,王芳,activist,ARTS"),
        4,
        "unknown college 'ARTS'",
        "ART",
    ),
    Broken(
        "people-student-without-college",
        "people.csv",
        replace("2021005,陈静,student,ART,", "2021005,陈静,student,,"),
        6,
        "empty college (expected a college code for status 'student')",
    ),
    Broken(
        "people-bad-room-address",
        "people.csv",
        replace("B2-208", "B2/208"),
        6,
        "bad room 'B2/208' (expected building-room, e.g. B1-301)",
    ),
    Broken(
        "people-room-unknown-building",
        "people.csv",
        replace("B2-405", "B9-405"),
        5,
        "unknown building 'B9'",
    ),
    Broken(
        "people-room-above-top-floor",
        "people.csv",
        replace("B2-208", "B2-508"),
        6,
        "room B2-508 is on floor 5, but building B2 has floors 1 to 4",
    ),
    Broken(
        "people-room-beyond-rooms-per-floor",
        "people.csv",
        replace("B2-208", "B2-209"),
        6,
        "room B2-209 does not exist (floor 2 has rooms 201 to 208)",
    ),
    Broken(
        "people-name-over-two-lines",
        "people.csv",
        replace('"Smith, John",student,BUS', '"Smith,\nJohn",student,BUS'),
        7,
        "name contains a line break",
    ),
    # --- roles.csv -----------------------------------------------------------------------------
    Broken("roles-empty", "roles.csv", whole(""), 1, "empty file"),
    Broken(
        "roles-missing-column",
        "roles.csv",
        replace("number,role,scope\n", "number,role\n"),
        1,
        "missing column 'scope'",
    ),
    Broken(
        "roles-unknown-person",
        "roles.csv",
        replace("S001,admin,school", "S002,admin,school"),
        10,
        "unknown person number 'S002' (not in people.csv)",
    ),
    Broken(
        "roles-unknown-role",
        "roles.csv",
        replace("T001,expert,school", "T001,experts,school"),
        12,
        "unknown role 'experts'",
        "expert",
    ),
    Broken(
        "roles-scope-of-wrong-kind",
        "roles.csv",
        replace("floor_leader,floor:B2-4", "floor_leader,building:B2"),
        7,
        "floor_leader needs a floor scope like floor:B1-3 (got 'building:B2')",
    ),
    Broken(
        "roles-school-role-with-a-place",
        "roles.csv",
        replace("S001,admin,school", "S001,admin,college:BUS"),
        10,
        "admin needs the scope school (got 'college:BUS')",
    ),
    Broken(
        "roles-unknown-grid",
        "roles.csv",
        replace("grid:B1-G1", "grid:B1G1"),
        9,
        "unknown grid 'B1G1'",
        "B1-G1",
    ),
    Broken(
        "roles-unknown-community",
        "roles.csv",
        replace("counsellor,community:C1", "counsellor,community:C7"),
        3,
        "unknown community 'C7'",
    ),
    Broken(
        "roles-floor-above-top",
        "roles.csv",
        replace("floor:B2-4", "floor:B2-7"),
        7,
        "floor B2-7 does not exist (building B2 has floors 1 to 4)",
    ),
    Broken(
        "roles-room-does-not-exist",
        "roles.csv",
        replace("room:B1-101", "room:B1-111"),
        8,
        "room B1-111 does not exist",
    ),
    Broken(
        "roles-malformed-scope",
        "roles.csv",
        replace("building_manager,building:B1", "building_manager,B1"),
        5,
        "malformed scope 'B1' (expected school or kind:code",
    ),
    Broken(
        "roles-school-with-code",
        "roles.csv",
        replace("S001,admin,school", "S001,admin,school:all"),
        10,
        "malformed scope 'school:all' (the school scope has no code)",
    ),
    Broken(
        "roles-unknown-scope-kind",
        "roles.csv",
        replace("counsellor,community:C1", "counsellor,comunity:C1"),
        3,
        "unknown scope kind 'comunity'",
        "community",
    ),
    Broken(
        "roles-unknown-branch",
        "roles.csv",
        replace("branch:C1-B1", "branch:C1-B9"),
        15,
        "unknown branch 'C1-B9'",
        "C1-B1",
    ),
    Broken(
        "roles-unknown-substation",
        "roles.csv",
        replace("substation:C1-S1", "substation:C1-S2"),
        14,
        "unknown substation 'C1-S2'",
        "C1-S1",
    ),
    Broken(
        "roles-branch-secretary-of-a-community",
        "roles.csv",
        replace("2021002,branch_secretary,branch:C1-B1", "2021002,branch_secretary,community:C1"),
        15,
        "branch_secretary needs a branch scope like branch:C1-B1 (got 'community:C1')",
    ),
    # --- roles.csv: who may hold which role (rules/roles.yaml) -------------------------------
    Broken(
        "roles-floor-leader-not-a-party-member",
        "roles.csv",
        replace("2021001,dorm_head,room:B1-101", "2021001,floor_leader,floor:B1-1"),
        8,
        "2021001 张伟 (student) may not be floor_leader: rules/roles.yaml:",
    ),
    Broken(
        "roles-activist-branch-secretary",
        "roles.csv",
        replace("2021002,branch_secretary,branch:C1-B1", "2021003,branch_secretary,branch:C1-B1"),
        15,
        "2021003 王芳 (activist) may not be branch_secretary",
    ),
    Broken(
        "roles-student-grid-group-leader",
        "roles.csv",
        replace("2021002,grid_group_leader", "2021006,grid_group_leader"),
        18,
        "2021006 Smith, John (student) may not be grid_group_leader",
    ),
    Broken(
        "roles-student-counsellor",
        "roles.csv",
        replace("T002,counsellor,community:C1", "2021005,counsellor,community:C1"),
        3,
        "2021005 陈静 (student) may not be counsellor",
    ),
    Broken(
        "roles-teacher-dorm-head",
        "roles.csv",
        replace("2021001,dorm_head,room:B1-101", "T001,dorm_head,room:B1-101"),
        8,
        "T001 赵老师 (teacher) may not be dorm_head",
    ),
    Broken(
        "roles-student-in-an-office",
        "roles.csv",
        replace("S001,youth_league,school", "2021002,youth_league,school"),
        19,
        "2021002 李娜 (party_member) may not be youth_league",
    ),
    Broken(
        "roles-duplicate-row",
        "roles.csv",
        replace("T001,expert,school\n", "T001,expert,school\nT001,expert, school\n"),
        13,
        "duplicate role: same number, role and scope as line 12",
    ),
]


def break_file(path: Path, change: Change) -> None:
    changed = change(path.read_text(encoding="utf-8"))
    if isinstance(changed, bytes):
        path.write_bytes(changed)
    else:
        path.write_text(changed, encoding="utf-8", newline="")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_broken_input_is_reported_at_its_line_and_writes_nothing(
    case: Broken,
    campus: Path,
    run_import: Callable[[Path], Awaitable[ImportReport]],
    snapshot: Callable[[], Awaitable[Snapshot]],
) -> None:
    await run_import(campus)
    before = await snapshot()
    break_file(campus.parent / case.file, case.change)

    with pytest.raises(OrgFileError) as raised:
        await run_import(campus)

    problems = raised.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    problem = problems[0]
    assert (problem.file, problem.line) == (case.file, case.line), str(problem)
    assert case.says in problem.message
    assert problem.suggestion == case.suggestion
    assert await snapshot() == before


def test_there_are_at_least_twenty_distinct_cases() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 20


def rule_line(role: str) -> int:
    """The line of the shipped rules/roles.yaml where the rule of ``role`` starts."""
    lines = (REPO_ROOT / "rules" / "roles.yaml").read_text(encoding="utf-8").splitlines()
    return lines.index(f"  - role: {role}") + 1


async def test_a_refused_role_names_its_row_the_person_their_status_and_the_rule(
    campus: Path, run_import: Callable[[Path], Awaitable[ImportReport]]
) -> None:
    break_file(
        campus.parent / "roles.csv",
        replace("2021001,dorm_head,room:B1-101", "2021001,floor_leader,floor:B1-1"),
    )

    with pytest.raises(OrgFileError) as raised:
        await run_import(campus)

    assert [str(problem) for problem in raised.value.problems] == [
        "roles.csv:8: 2021001 张伟 (student) may not be floor_leader:"
        f" rules/roles.yaml:{rule_line('floor_leader')} [floor_leader]"
        " when: status == 'party_member'"
    ]


async def test_a_holder_who_is_no_longer_a_party_member_loses_nothing_until_the_files_agree(
    db: Database,
    campus: Path,
    run_import: Callable[[Path], Awaitable[ImportReport]],
    snapshot: Callable[[], Awaitable[Snapshot]],
) -> None:
    await run_import(campus)
    before = await snapshot()
    # The floor leader of B2-4 is listed as a student: people.csv is right, roles.csv is refused.
    break_file(
        campus.parent / "people.csv",
        replace("2021004,刘洋,party_member,MEE", "2021004,刘洋,student,MEE"),
    )

    with pytest.raises(OrgFileError) as raised:
        await run_import(campus)

    assert [(p.file, p.line) for p in raised.value.problems] == [("roles.csv", 7)]
    assert "2021004 刘洋 (student) may not be floor_leader" in raised.value.problems[0].message
    assert await snapshot() == before


async def test_the_rules_of_who_may_hold_a_role_come_from_the_rules_folder(
    campus: Path, run_import: Callable[[Path], Awaitable[ImportReport]], tmp_path: Path
) -> None:
    break_file(
        campus.parent / "roles.csv",
        replace("2021001,dorm_head,room:B1-101", "2021001,floor_leader,floor:B1-1"),
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "roles.yaml").write_text(
        "roles:\n  - role: floor_leader\n    when: status in ['student', 'party_member']\n",
        encoding="utf-8",
    )

    report = await run_import(campus, read_role_rules(rules, CAMPUS_TIMEZONE))

    assert report.roles_added == 18
    (rules / "roles.yaml").write_text(
        "roles:\n  - role: floor_leader\n    when: college != 'BUS'\n", encoding="utf-8"
    )
    with pytest.raises(OrgFileError, match=r"roles.csv:8: 2021001 张伟 \(student\)"):
        await run_import(campus, read_role_rules(rules, CAMPUS_TIMEZONE))
