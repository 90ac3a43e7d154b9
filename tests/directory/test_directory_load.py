"""Reading and checking the campus files, without a database."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.directory import OrgFileError, OrgProblem, load_org
from assistant.directory.data import FloorRef, Name, RoomRef, Scope, UnitSpec
from assistant.domain import GROUP_ROLES, FunctionalRoomKind, Role, RoleGroup, ScopeKind
from assistant.runner import DEMO_CAMPUS
from tests.directory.conftest import HOLDERS

DATA = Path(__file__).parent / "data"


def problems_of(path: Path) -> list[OrgProblem]:
    with pytest.raises(OrgFileError) as raised:
        load_org(path)
    return raised.value.problems


@contextmanager
def campus_copy() -> Iterator[Path]:
    """A throwaway copy of the test campus, for property tests (which cannot use tmp_path)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "campus"
        shutil.copytree(DATA, target)
        yield target / "campus.yaml"


def test_valid_campus_is_read_completely(campus: Path) -> None:
    data = load_org(campus)

    assert [c.code for c in data.colleges] == ["BUS", "ART", "MEE"]
    assert data.colleges[0].name == Name("商学院", "Business School")
    assert [(c.code, c.college) for c in data.communities] == [("C1", "BUS"), ("C2", None)]
    assert [(b.code, b.floors, b.rooms_per_floor) for b in data.buildings] == [
        ("B1", 6, 10),
        ("B2", 4, 8),
    ]
    assert [(g.code, g.building, g.floors) for g in data.grids] == [
        ("B1-G1", "B1", (1, 2, 3)),
        ("B1-G2", "B1", (4, 5, 6)),
        ("B2-G1", "B2", (1, 2)),
    ]
    activity = data.functional_rooms[1]
    assert (activity.kind, activity.building, activity.college, activity.capacity) == (
        FunctionalRoomKind.ACTIVITY_ROOM,
        "B1",
        "BUS",
        30,
    )
    assert len(data.people) == 9
    smith = data.people[5]
    assert (smith.number, smith.name, smith.status) == ("2021006", "Smith, John", "student")
    assert smith.room == RoomRef("B1", 6, "610")
    assert data.people[7].college is None and data.people[7].room is None
    assert data.branches == (
        UnitSpec(
            "C1-B1", "C1", Name("第一社区学生党支部", "Community 1 Student Party Branch"), ("B1",)
        ),
        UnitSpec("C2-B1", "C2", Name("第二社区学生党支部", "Community 2 Branch"), ("B2",)),
    )
    assert [(s.code, s.community, s.buildings) for s in data.substations] == [
        ("C1-S1", "C1", ("B1",))
    ]
    assert len(data.roles) == 18
    assert data.roles[12].scope == Scope(ScopeKind.SUBSTATION, "C1-S1")
    assert data.roles[13].scope == Scope(ScopeKind.BRANCH, "C1-B1")
    assert data.roles[5].scope == Scope(ScopeKind.FLOOR, FloorRef("B2", 4))
    assert data.roles[6].scope == Scope(ScopeKind.ROOM, RoomRef("B1", 1, "101"))
    assert (data.roles[8].role, data.roles[8].scope) == (Role.ADMIN, Scope(ScopeKind.SCHOOL))


def test_files_as_spreadsheets_write_them_are_accepted(campus: Path) -> None:
    expected = load_org(campus)
    folder = campus.parent
    people = (folder / "people.csv").read_text(encoding="utf-8")
    people = people.replace("number,name,status", " Number , Name ,STATUS").replace("\n", ",,\r\n")
    (folder / "people.csv").write_bytes(people.encode("utf-8-sig") + b",,,,,,\r\n\r\n")
    roles = (folder / "roles.csv").read_text(encoding="utf-8")
    (folder / "roles.csv").write_bytes(roles.replace("\n", "\r\n").encode("utf-8-sig"))
    campus.write_bytes(campus.read_text(encoding="utf-8").encode("utf-8-sig"))

    assert load_org(campus) == expected


def test_sections_may_come_in_any_order(campus: Path) -> None:
    expected = load_org(campus)
    text = campus.read_text(encoding="utf-8")
    colleges, rest = text.split("communities:\n")
    header, colleges = colleges.split("colleges:\n")
    campus.write_text(f"{header}communities:\n{rest}colleges:\n{colleges}", encoding="utf-8")

    assert load_org(campus) == expected


def test_every_problem_is_collected_in_file_order(campus: Path) -> None:
    folder = campus.parent
    roles = (folder / "roles.csv").read_text(encoding="utf-8")
    (folder / "roles.csv").write_text(roles.replace("T001,expert", "T001,exprt"), encoding="utf-8")
    people = (folder / "people.csv").read_text(encoding="utf-8")
    people = people.replace("2021003,王芳,activist", "2021003,,activist").replace("B2-405", "B2-4")
    (folder / "people.csv").write_text(people, encoding="utf-8")
    text = campus.read_text(encoding="utf-8")
    campus.write_text(text.replace("capacity: 8", "capacity: 0"), encoding="utf-8")

    problems = problems_of(campus)

    assert [(p.file, p.line) for p in problems] == [
        ("campus.yaml", 51),
        ("people.csv", 4),
        ("people.csv", 5),
        ("roles.csv", 12),
    ]
    assert str(problems[3]) == "roles.csv:12: unknown role 'exprt' (did you mean 'expert'?)"
    with pytest.raises(OrgFileError, match=r"^4 problems in the campus files:\ncampus.yaml:51: "):
        load_org(campus)


def test_a_value_after_a_multiline_cell_is_reported_at_its_own_line(campus: Path) -> None:
    people = campus.parent / "people.csv"
    text = people.read_text(encoding="utf-8")
    text = text.replace('"Smith, John",student,BUS', '"Smith,\r\nJohn",student,BUSS')
    people.write_text(text, encoding="utf-8", newline="")

    problems = problems_of(campus)

    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (7, "name contains a line break or a control character"),
        (8, "unknown college 'BUSS'"),
    ]


def test_references_to_a_broken_definition_are_not_reported_again(campus: Path) -> None:
    text = campus.read_text(encoding="utf-8")
    campus.write_text(
        text.replace("  - code: B2\n    community", "  - community"), encoding="utf-8"
    )

    problems = problems_of(campus)

    # Grid B2-G1, the people in B2 and the floor leader of B2-4 all refer to it: one problem.
    assert [str(p) for p in problems] == [
        "campus.yaml:21: missing 'code' in a building (expected letters, digits, '-' and '_',"
        " at most 32)"
    ]


def test_problems_read_as_file_line_message() -> None:
    assert str(OrgProblem("people.csv", 14, "unknown college 'BUSS'", "BUS")) == (
        "people.csv:14: unknown college 'BUSS' (did you mean 'BUS'?)"
    )
    assert str(OrgProblem("campus.yaml", 0, "cannot read the file")) == (
        "campus.yaml: cannot read the file"
    )


def test_a_missing_campus_file_is_a_problem_of_the_whole_file(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "nowhere.yaml")

    assert [(p.file, p.line) for p in problems] == [("nowhere.yaml", 0)]


def _people_with(name: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["number", "name", "status", "college", "room"])
    writer.writerow(["2021001", name, "student", "BUS", "B1-101"])
    writer.writerow(["2021002", "李娜", "party_member", "BUS", ""])
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.text())
def test_any_name_is_either_read_back_or_reported_on_its_line(name: str) -> None:
    with campus_copy() as campus:
        (campus.parent / "people.csv").write_text(_people_with(name), encoding="utf-8")
        (campus.parent / "roles.csv").write_text("number,role,scope\n", encoding="utf-8")
        stripped = name.strip()
        acceptable = 0 < len(stripped) <= 100 and all(c >= " " and c != "\x7f" for c in stripped)
        if acceptable:
            assert load_org(campus).people[0].name == stripped
        else:
            problems = problems_of(campus)
            assert [(p.file, p.line) for p in problems] == [("people.csv", 2)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=st.text())
def test_any_text_spliced_into_a_row_never_breaks_the_loader(number: str) -> None:
    with campus_copy() as campus:
        people = campus.parent / "people.csv"
        text = people.read_text(encoding="utf-8").replace("2021005,", f"{number},")
        people.write_text(text, encoding="utf-8", newline="")
        try:
            load_org(campus)
        except OrgFileError as error:
            last = text.count("\n") + 1
            for problem in error.problems:
                assert problem.file in {"people.csv", "roles.csv"}
                assert 1 <= problem.line <= last, str(problem)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.integers(min_value=0, max_value=52), text=st.text())
def test_any_line_of_the_yaml_replaced_never_breaks_the_loader(line: int, text: str) -> None:
    with campus_copy() as campus:
        lines = campus.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[line] = text + "\n"
        content = "".join(lines)
        campus.write_text(content, encoding="utf-8", newline="")
        try:
            load_org(campus)
        except OrgFileError as error:
            assert all(problem.line >= 1 for problem in error.problems)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary())
def test_any_bytes_as_people_file_never_break_the_loader(content: bytes) -> None:
    with campus_copy() as campus:
        (campus.parent / "people.csv").write_bytes(content)
        with pytest.raises(OrgFileError) as raised:
            load_org(campus)
        assert all(problem.line >= 1 for problem in raised.value.problems)


def test_a_missing_section_is_reported_once(campus: Path) -> None:
    text = campus.read_text(encoding="utf-8")
    start, end = text.index("colleges:"), text.index("communities:")
    campus.write_text(text[:start] + text[end:], encoding="utf-8")

    problems = problems_of(campus)

    # Communities, activity rooms and people name colleges: none of that is reported again.
    assert [(p.file, p.line, p.message.split(" (")[0]) for p in problems] == [
        ("campus.yaml", 2, "missing 'colleges' in the campus file")
    ]


def test_yaml_anchors_and_merge_keys_are_understood(campus: Path) -> None:
    expected = load_org(campus)
    text = campus.read_text(encoding="utf-8")
    text = text.replace("  - code: B1\n", "  - &building\n    code: B1\n")
    text = text.replace("  - code: B2\n", "  - <<: *building\n    code: B2\n")
    # B2 now takes its rooms per floor from B1, and everything else from itself.
    text = text.replace("    rooms_per_floor: 8\n", "")
    campus.write_text(text, encoding="utf-8")

    data = load_org(campus)

    assert data.buildings[1] == replace(expected.buildings[1], rooms_per_floor=10)
    assert replace(data, buildings=expected.buildings) == expected


def test_the_demo_campus_passes_its_own_rules_and_carries_the_party_organisation() -> None:
    demo = load_org(DEMO_CAMPUS, HOLDERS)

    communities = {c.code for c in demo.communities}
    buildings = {b.code: b.community for b in demo.buildings}
    for units in (demo.branches, demo.substations):
        assert {unit.community for unit in units} == communities
        covered = [building for unit in units for building in unit.buildings]
        assert sorted(covered) == sorted(buildings)
    held = {(role.role, str(role.scope)) for role in demo.roles}
    wanted = {(Role.COMMITTEE_SECRETARY, f"community:{code}") for code in communities}
    wanted |= {(Role.WORKSTATION_HEAD, f"community:{code}") for code in communities}
    wanted |= {(Role.BRANCH_SECRETARY, f"branch:{unit.code}") for unit in demo.branches}
    wanted |= {(Role.SUBSTATION_HEAD, f"substation:{unit.code}") for unit in demo.substations}
    wanted |= {(Role.CENTRE_HEAD, f"building:{code}") for code in buildings}
    wanted |= {(Role.GRID_GROUP_LEADER, f"grid:{grid.code}") for grid in demo.grids}
    wanted |= {(role, "school") for role in GROUP_ROLES[RoleGroup.COORDINATION_GROUP]}
    assert wanted <= held
