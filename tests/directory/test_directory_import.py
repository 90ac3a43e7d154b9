"""Importing the campus files: what is created, and how a changed file updates in place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.directory import Counts, ImportReport
from assistant.domain import Role, ScopeKind
from assistant.storage.db import Database
from assistant.storage.models import (
    Building,
    DormRoom,
    Floor,
    FunctionalRoom,
    GridCell,
    PartyBranch,
    Person,
    RoleAssignment,
    Substation,
)

Import = Callable[[Path], Awaitable[ImportReport]]
Snapshot = dict[str, list[tuple[Any, ...]]]
TakeSnapshot = Callable[[], Awaitable[Snapshot]]


def edit(path: Path, *changes: tuple[str, str]) -> None:
    text = path.read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def cut(path: Path, start: str, end: str) -> None:
    """Remove the text from ``start`` up to (not including) ``end``."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index(start)] + text[text.index(end) :], encoding="utf-8")


async def roles_by_number(db: Database) -> set[tuple[str, Role, ScopeKind, int]]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(
                Person.number,
                RoleAssignment.role,
                RoleAssignment.scope_kind,
                RoleAssignment.scope_id,
            ).join(Person, Person.id == RoleAssignment.person_id)
        )
        return {(number, role, kind, scope_id) for number, role, kind, scope_id in rows}


async def floor_id(db: Database, building: str, number: int) -> int:
    async with db.unit_of_work() as session:
        return (
            await session.scalar(
                select(Floor.id)
                .join(Building, Building.id == Floor.building_id)
                .where(Building.code == building, Floor.number == number)
            )
            or 0
        )


async def test_a_valid_campus_is_created(db: Database, campus: Path, run_import: Import) -> None:
    report = await run_import(campus)

    assert report.colleges == Counts(created=3)
    assert report.communities == Counts(created=2)
    assert report.buildings == Counts(created=2)
    assert report.branches == Counts(created=2)
    assert report.substations == Counts(created=1)
    assert report.floors == Counts(created=10)
    assert report.dorm_rooms == Counts(created=6 * 10 + 4 * 8)
    assert report.grids == Counts(created=3)
    assert report.functional_rooms == Counts(created=3)
    assert report.people == Counts(created=9)
    assert (report.roles_added, report.roles_removed, report.people_deactivated) == (18, 0, 0)
    assert report.changed
    async with db.unit_of_work() as session:
        smith = (await session.scalars(select(Person).where(Person.number == "2021006"))).one()
        room = await session.get(DormRoom, smith.dorm_room_id)
        assert room is not None and room.number == "610"
        floor = await session.get(Floor, room.floor_id)
        assert floor is not None and floor.number == 6
        grid = await session.get(GridCell, floor.grid_id)
        assert grid is not None and grid.code == "B1-G2"
        reading = (
            await session.scalars(select(FunctionalRoom).order_by(FunctionalRoom.id))
        ).first()
        assert reading is not None and (reading.code, reading.capacity) == ("B1-READ", 40)
    roles = await roles_by_number(db)
    assert ("2021004", Role.FLOOR_LEADER, ScopeKind.FLOOR, await floor_id(db, "B2", 4)) in roles
    assert ("S001", Role.ADMIN, ScopeKind.SCHOOL, 0) in roles
    async with db.unit_of_work() as session:
        units = (
            await session.execute(
                select(Building.code, PartyBranch.code, PartyBranch.id, Substation.code)
                .outerjoin(PartyBranch, PartyBranch.id == Building.branch_id)
                .outerjoin(Substation, Substation.id == Building.substation_id)
                .order_by(Building.code)
            )
        ).all()
    assert [(b, branch, substation) for b, branch, _, substation in units] == [
        ("B1", "C1-B1", "C1-S1"),
        ("B2", "C2-B1", None),
    ]
    assert ("2021002", Role.BRANCH_SECRETARY, ScopeKind.BRANCH, units[0][2]) in roles
    assert ("T002", Role.BRANCH_SECRETARY, ScopeKind.BRANCH, units[1][2]) in roles


async def test_importing_the_same_files_again_changes_nothing(
    campus: Path, run_import: Import, snapshot: TakeSnapshot
) -> None:
    await run_import(campus)
    before = await snapshot()

    report = await run_import(campus)

    assert await snapshot() == before
    assert not report.changed
    assert report.people == Counts(unchanged=9)
    assert report.dorm_rooms == Counts(unchanged=92)
    assert report.roles_unchanged == 18
    assert report.lines()[-1] == "Nothing changed."


async def test_a_changed_campus_updates_rows_in_place(
    db: Database, campus: Path, run_import: Import, snapshot: TakeSnapshot
) -> None:
    await run_import(campus)
    before = await snapshot()
    folder = campus.parent
    edit(
        campus,
        ("{zh: 1号楼, en: Building 1}", "{zh: 一号楼, en: Building One}"),
        ("    floors: 4\n", "    floors: 5\n"),  # B2 grows a floor
        ("    floors: [4, 5, 6]\n", "    floors: [4, 5]\n"),  # B1-6 leaves its grid
        ("    capacity: 40\n", "    capacity: 45\n"),
    )
    edit(
        folder / "people.csv",
        ("2021003,王芳,activist,ART,B1-302", "2021003,王芳,party_member,ART,B2-501"),
        ("2021004,刘洋,party_member,MEE,B2-405\n", ""),
    )
    edit(
        folder / "roles.csv",
        ("T002,counsellor,community:C1", "T002,counsellor,community:C2"),
        ("2021004,floor_leader,floor:B2-4\n", "2021003,floor_leader,floor:B2-5\n"),
    )

    report = await run_import(campus)

    assert report.buildings == Counts(updated=1, unchanged=1)
    assert report.floors == Counts(created=1, updated=1, unchanged=9)
    assert report.dorm_rooms == Counts(created=8, unchanged=92)
    assert report.functional_rooms == Counts(updated=1, unchanged=2)
    assert report.people == Counts(updated=1, unchanged=7)
    assert report.people_deactivated == 1
    assert (report.roles_added, report.roles_removed, report.roles_unchanged) == (2, 2, 16)
    after = await snapshot()
    # Updated in place: the same ids, and nothing that existed is gone.
    for table in ("colleges", "communities", "buildings", "grid_cells", "people"):
        assert [row[0] for row in after[table]] == [row[0] for row in before[table]], table
    assert set(before["dorm_rooms"]) < set(after["dorm_rooms"])
    async with db.unit_of_work() as session:
        b1 = (await session.scalars(select(Building).where(Building.code == "B1"))).one()
        assert (b1.name_zh, b1.name_en) == ("一号楼", "Building One")
        people = {p.number: p for p in await session.scalars(select(Person))}
        assert people["2021004"].active is False
        assert people["2021003"].status == "party_member"
        room = await session.get(DormRoom, people["2021003"].dorm_room_id)
        assert room is not None and room.number == "501"
        top = await session.get(Floor, await floor_id(db, "B1", 6))
        assert top is not None and top.grid_id is None
    roles = await roles_by_number(db)
    assert not any(number == "2021004" for number, *_ in roles)
    assert ("2021003", Role.FLOOR_LEADER, ScopeKind.FLOOR, await floor_id(db, "B2", 5)) in roles
    assert len(roles) == 18

    again = await snapshot()
    await run_import(campus)
    assert await snapshot() == again


async def test_rows_missing_from_the_file_are_kept(
    db: Database, campus: Path, run_import: Import, snapshot: TakeSnapshot
) -> None:
    await run_import(campus)
    cut(campus, "  - code: PSY\n", "people:")
    cut(campus, "  - code: B2-G1\n", "functional_rooms:")
    edit(campus, ("    floors: 6\n", "    floors: 5\n"), ("[4, 5, 6]", "[4, 5]"))
    edit(campus.parent / "people.csv", ("B1-610", "B1-510"))
    before = await snapshot()

    report = await run_import(campus)

    after = await snapshot()
    for table in ("grid_cells", "floors", "dorm_rooms", "functional_rooms"):
        assert [row[0] for row in after[table]] == [row[0] for row in before[table]], table
    assert report.floors == Counts(updated=3, unchanged=7)
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Building.code, Floor.number)
            .join(Building, Building.id == Floor.building_id)
            .where(Floor.grid_id.is_(None))
        )
        outside_grids = {(code, number) for code, number in rows}
    # B2-G1 is not in the file, and B1-G2 no longer lists B1-6 (kept, though beyond floor 5).
    assert outside_grids == {("B1", 6), ("B2", 1), ("B2", 2), ("B2", 3), ("B2", 4)}


async def units_of_buildings(db: Database) -> dict[str, tuple[str | None, str | None]]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Building.code, PartyBranch.code, Substation.code)
            .outerjoin(PartyBranch, PartyBranch.id == Building.branch_id)
            .outerjoin(Substation, Substation.id == Building.substation_id)
        )
        return {building: (branch, substation) for building, branch, substation in rows}


async def test_branches_and_sub_stations_cover_exactly_the_buildings_they_list(
    db: Database, campus: Path, run_import: Import, snapshot: TakeSnapshot
) -> None:
    await run_import(campus)
    # B2 leaves the files (and so its grid, people and roles); its branch lists it no more.
    cut(campus, "  - code: B2\n", "grids:")
    cut(campus, "  - code: B2-G1\n", "functional_rooms:")
    edit(campus, ("buildings: [B2]}", "buildings: []}"))
    edit(
        campus.parent / "people.csv",
        ("2021004,刘洋,party_member,MEE,B2-405\n", ""),
        ("2021005,陈静,student,ART,B2-208\n", ""),
    )
    edit(campus.parent / "roles.csv", ("2021004,floor_leader,floor:B2-4\n", ""))
    # B1 moves from its sub-station to a new one.
    edit(
        campus,
        (
            "Sub-station}\n    buildings: [B1]\n",
            "Sub-station}\n    buildings: []\n"
            "  - {code: C1-S2, community: C1, name: {zh: 二分站, en: S2}, buildings: [B1]}\n",
        ),
    )
    before = await snapshot()

    report = await run_import(campus)

    assert report.substations == Counts(created=1, unchanged=1)
    assert report.branches == Counts(unchanged=2)
    # B1 changes sub-station; B2, kept for history, leaves the branch that no longer lists it.
    assert report.buildings == Counts(updated=2)
    assert await units_of_buildings(db) == {"B1": ("C1-B1", "C1-S2"), "B2": (None, None)}
    after = await snapshot()
    for table in ("buildings", "party_branches", "substations"):
        assert {row[0] for row in before[table]} <= {row[0] for row in after[table]}, table


async def test_a_person_back_on_the_roster_is_active_again(
    db: Database, campus: Path, run_import: Import
) -> None:
    await run_import(campus)
    people = campus.parent / "people.csv"
    original = people.read_text(encoding="utf-8")
    edit(people, ("2021005,陈静,student,ART,B2-208\n", ""))
    assert (await run_import(campus)).people_deactivated == 1
    people.write_text(original, encoding="utf-8")

    report = await run_import(campus)

    assert report.people == Counts(updated=1, unchanged=8)
    async with db.unit_of_work() as session:
        assert await session.scalar(select(Person.active).where(Person.number == "2021005"))


async def test_the_report_is_a_one_screen_summary(campus: Path, run_import: Import) -> None:
    report = await run_import(campus)

    lines = report.lines()
    assert str(report) == "\n".join(lines)
    assert len(lines) == 11
    assert lines[0].split() == ["colleges", "3", "created", "0", "updated", "0", "unchanged"]
    assert lines[3].split() == ["branches", "2", "created", "0", "updated", "0", "unchanged"]
    assert lines[9].split()[-2:] == ["0", "deactivated"]
    assert lines[10].split() == ["roles", "18", "added", "0", "removed", "0", "unchanged"]
