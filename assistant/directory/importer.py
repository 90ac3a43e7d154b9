"""Writing checked campus files into the database, in the caller's one transaction.

Rows are matched by natural keys and only differences are written, so importing the same files
again changes nothing. Each table is read once, the differences are worked out in Python, and
written with one bulk statement per kind of change: a roster of tens of thousands of people takes
seconds, not one round trip per person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.directory.data import FloorRef, OrgData, RoomRef, Scope, UnitSpec, room_number
from assistant.domain import SCHOOL_SCOPE_ID, Role, ScopeKind
from assistant.storage.models import (
    Base,
    Building,
    College,
    Community,
    DormRoom,
    Floor,
    FunctionalRoom,
    GridCell,
    PartyBranch,
    Person,
    RoleAssignment,
    Substation,
)

# Well under the bound-parameter limits of SQLite (32766) and asyncpg (32767).
_DELETE_CHUNK = 1000


_KINDS = (
    "colleges",
    "communities",
    "buildings",
    "branches",
    "substations",
    "floors",
    "dorm_rooms",
    "grids",
    "functional_rooms",
    "people",
)


@dataclass
class Counts:
    """What an import did to the rows of one kind."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import changed, kind by kind; ``str(report)`` is a one-screen summary."""

    colleges: Counts = field(default_factory=Counts)
    communities: Counts = field(default_factory=Counts)
    buildings: Counts = field(default_factory=Counts)
    branches: Counts = field(default_factory=Counts)
    substations: Counts = field(default_factory=Counts)
    floors: Counts = field(default_factory=Counts)
    dorm_rooms: Counts = field(default_factory=Counts)
    grids: Counts = field(default_factory=Counts)
    functional_rooms: Counts = field(default_factory=Counts)
    people: Counts = field(default_factory=Counts)
    people_deactivated: int = 0
    roles_added: int = 0
    roles_removed: int = 0
    roles_unchanged: int = 0
    people_changed: set[int] = field(default_factory=set)
    """The ids of people already stored whose status, college, dorm, presence on the roster or
    roles changed: what they may do may have changed with them."""

    @property
    def changed(self) -> bool:
        """Whether the import wrote anything at all."""
        counts = [getattr(self, kind) for kind in _KINDS]
        return any(count.created or count.updated for count in counts) or bool(
            self.people_deactivated or self.roles_added or self.roles_removed
        )

    def lines(self) -> list[str]:
        """One line per kind of row (people also say how many left), then one for roles."""
        lines = []
        for kind in _KINDS:
            count: Counts = getattr(self, kind)
            line = (
                f"{kind.replace('_', ' '):<17}{count.created:>7} created{count.updated:>7} updated"
            )
            line += f"{count.unchanged:>7} unchanged"
            if kind == "people":
                line += f"{self.people_deactivated:>7} deactivated"
            lines.append(line)
        lines.append(
            f"{'roles':<17}{self.roles_added:>7} added  {self.roles_removed:>7} removed"
            f"{self.roles_unchanged:>7} unchanged"
        )
        if not self.changed:
            lines.append("Nothing changed.")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


async def import_org(session: AsyncSession, data: OrgData) -> ImportReport:
    """Make the database say what ``data`` says, without committing.

    Structure rows are matched by code (floors by building and number, dorm rooms by floor and
    number) and updated in place; rows the files no longer mention are kept. People are matched
    by number; those missing from the roster become inactive. The role assignments become
    exactly those of the roles file.
    """
    report = ImportReport()
    colleges = await _sync_by_code(
        session,
        College,
        [{"code": c.code, "name_zh": c.name.zh, "name_en": c.name.en} for c in data.colleges],
        report.colleges,
    )
    communities = await _sync_by_code(
        session,
        Community,
        [
            {
                "code": c.code,
                "name_zh": c.name.zh,
                "name_en": c.name.en,
                "college_id": colleges[c.college] if c.college else None,
            }
            for c in data.communities
        ],
        report.communities,
    )
    branches = await _sync_units(session, PartyBranch, data.branches, communities, report.branches)
    substations = await _sync_units(
        session, Substation, data.substations, communities, report.substations
    )
    branch_of = {b: branches[u.code] for u in data.branches for b in u.buildings}
    substation_of = {b: substations[u.code] for u in data.substations for b in u.buildings}
    buildings = await _sync_by_code(
        session,
        Building,
        [
            {
                "code": b.code,
                "name_zh": b.name.zh,
                "name_en": b.name.en,
                "community_id": communities[b.community],
                "branch_id": branch_of.get(b.code),
                "substation_id": substation_of.get(b.code),
            }
            for b in data.buildings
        ],
        report.buildings,
    )
    await _leave_units(session, data, branches, substations, report.buildings)
    grids = await _sync_by_code(
        session,
        GridCell,
        [{"code": g.code, "building_id": buildings[g.building]} for g in data.grids],
        report.grids,
    )
    floors = await _sync_floors(session, data, buildings, grids, report.floors)
    rooms = await _sync_rooms(session, data, buildings, floors, report.dorm_rooms)
    await _sync_by_code(
        session,
        FunctionalRoom,
        [
            {
                "code": r.code,
                "kind": r.kind,
                "name_zh": r.name.zh,
                "name_en": r.name.en,
                "building_id": buildings[r.building] if r.building else None,
                "college_id": colleges[r.college] if r.college else None,
                "capacity": r.capacity,
            }
            for r in data.functional_rooms
        ],
        report.functional_rooms,
    )

    def room_id(room: RoomRef) -> int:
        return rooms[floors[buildings[room.building], room.floor], room.number]

    people = await _sync_people(session, data, colleges, room_id, report)

    by_code = {
        ScopeKind.COLLEGE: colleges,
        ScopeKind.COMMUNITY: communities,
        ScopeKind.BUILDING: buildings,
        ScopeKind.BRANCH: branches,
        ScopeKind.SUBSTATION: substations,
        ScopeKind.GRID: grids,
    }

    def scope_id(scope: Scope) -> int:
        target = scope.target
        if isinstance(target, FloorRef):
            return floors[buildings[target.building], target.number]
        if isinstance(target, RoomRef):
            return room_id(target)
        return SCHOOL_SCOPE_ID if target is None else by_code[scope.kind][target]

    wanted = [
        (people[role.number], role.role, role.scope.kind, scope_id(role.scope))
        for role in data.roles
    ]
    await _sync_roles(session, wanted, report)
    return report


async def _sync_by_code(
    session: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]], counts: Counts
) -> dict[str, int]:
    """Insert or update ``rows`` of a table keyed by ``code``; returns the id of every code."""
    table = model.__table__
    existing = {row["code"]: row for row in (await session.execute(select(table))).mappings()}
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for row in rows:
        old = existing.get(row["code"])
        if old is None:
            created.append(row)
        elif any(old[key] != value for key, value in row.items()):
            changed.append({"id": old["id"], **row})
    await _write(session, model, created, changed, counts, len(rows))
    ids = {code: row["id"] for code, row in existing.items()}
    if created:
        ids.update(
            {
                code: row_id
                for code, row_id in await session.execute(select(table.c.code, table.c.id))
            }
        )
    return ids


async def _sync_units(
    session: AsyncSession,
    model: type[PartyBranch | Substation],
    units: Sequence[UnitSpec],
    communities: dict[str, int],
    counts: Counts,
) -> dict[str, int]:
    """Insert or update branches or sub-stations; returns the id of every code."""
    rows = [
        {
            "code": unit.code,
            "name_zh": unit.name.zh,
            "name_en": unit.name.en,
            "community_id": communities[unit.community],
        }
        for unit in units
    ]
    return await _sync_by_code(session, model, rows, counts)


async def _leave_units(
    session: AsyncSession,
    data: OrgData,
    branches: dict[str, int],
    substations: dict[str, int],
    counts: Counts,
) -> None:
    """A branch or sub-station of the file covers exactly the buildings it lists: buildings the
    file no longer describes (kept for history) leave it too."""
    described = {building.code for building in data.buildings}
    file_branches = {branches[unit.code] for unit in data.branches}
    file_substations = {substations[unit.code] for unit in data.substations}
    rows = await session.execute(
        select(Building.id, Building.code, Building.branch_id, Building.substation_id)
    )
    changed = []
    for row in rows:
        if row.code in described:
            continue
        branch_id = None if row.branch_id in file_branches else row.branch_id
        substation_id = None if row.substation_id in file_substations else row.substation_id
        if (branch_id, substation_id) != (row.branch_id, row.substation_id):
            changed.append({"id": row.id, "branch_id": branch_id, "substation_id": substation_id})
    if changed:
        await session.execute(update(Building), changed)
    counts.updated += len(changed)


async def _write(
    session: AsyncSession,
    model: type[Base],
    created: list[dict[str, Any]],
    changed: list[dict[str, Any]],
    counts: Counts,
    total: int,
) -> None:
    if created:
        await session.execute(insert(model), created)
    if changed:
        # Bulk UPDATE by primary key: one executemany, no objects loaded.
        await session.execute(update(model), changed)
    counts.created += len(created)
    counts.updated += len(changed)
    counts.unchanged += total - len(created) - len(changed)


async def _sync_floors(
    session: AsyncSession,
    data: OrgData,
    buildings: dict[str, int],
    grids: dict[str, int],
    counts: Counts,
) -> dict[tuple[int, int], int]:
    """Create the floors of every building and put each in its grid; returns ids by key."""
    rows = await session.execute(select(Floor.id, Floor.building_id, Floor.number, Floor.grid_id))
    existing = {(r.building_id, r.number): (r.id, r.grid_id) for r in rows}
    listed = {
        (buildings[grid.building], number): grids[grid.code]
        for grid in data.grids
        for number in grid.floors
    }
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    wanted = 0
    for building in data.buildings:
        building_id = buildings[building.code]
        for number in range(1, building.floors + 1):
            wanted += 1
            grid_id = listed.get((building_id, number))
            old = existing.get((building_id, number))
            if old is None:
                created.append({"building_id": building_id, "number": number, "grid_id": grid_id})
            elif old[1] != grid_id:
                changed.append({"id": old[0], "grid_id": grid_id})
    # A grid in the file has exactly the floors listed there: floors the file no longer
    # describes (kept for history) leave it too.
    file_grids = {grids[grid.code] for grid in data.grids}
    heights = {buildings[building.code]: building.floors for building in data.buildings}
    for (building_id, number), (floor_id, grid_id) in existing.items():
        if grid_id in file_grids and number > heights.get(building_id, 0):
            changed.append({"id": floor_id, "grid_id": None})
            wanted += 1
    await _write(session, Floor, created, changed, counts, wanted)
    if not created:
        return {key: floor_id for key, (floor_id, _) in existing.items()}
    rows = await session.execute(select(Floor.building_id, Floor.number, Floor.id))
    return {(r.building_id, r.number): r.id for r in rows}


async def _sync_rooms(
    session: AsyncSession,
    data: OrgData,
    buildings: dict[str, int],
    floors: dict[tuple[int, int], int],
    counts: Counts,
) -> dict[tuple[int, str], int]:
    """Create every dorm room the buildings describe; returns ids by (floor id, number)."""
    rows = await session.execute(select(DormRoom.floor_id, DormRoom.number, DormRoom.id))
    existing = {(r.floor_id, r.number): r.id for r in rows}
    created: list[dict[str, Any]] = []
    wanted = 0
    for building in data.buildings:
        for floor in range(1, building.floors + 1):
            floor_id = floors[buildings[building.code], floor]
            for index in range(1, building.rooms_per_floor + 1):
                wanted += 1
                number = room_number(floor, index)
                if (floor_id, number) not in existing:
                    created.append({"floor_id": floor_id, "number": number})
    await _write(session, DormRoom, created, [], counts, wanted)
    if not created:
        return existing
    rows = await session.execute(select(DormRoom.floor_id, DormRoom.number, DormRoom.id))
    return {(r.floor_id, r.number): r.id for r in rows}


async def _sync_people(
    session: AsyncSession,
    data: OrgData,
    colleges: dict[str, int],
    room_id: Callable[[RoomRef], int],
    report: ImportReport,
) -> dict[str, int]:
    """Insert, update and deactivate people; returns the id of every number."""
    columns = (
        Person.name,
        Person.status,
        Person.college_id,
        Person.dorm_room_id,
        Person.graduation_year,
        Person.active,
    )
    rows = await session.execute(select(Person.id, Person.number, *columns))
    existing = {r.number: r for r in rows}
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for person in data.people:
        row = {
            "name": person.name,
            "status": person.status,
            "college_id": colleges[person.college] if person.college else None,
            "dorm_room_id": room_id(person.room) if person.room else None,
            "graduation_year": person.graduation,
            "active": True,
        }
        old = existing.get(person.number)
        if old is None:
            created.append({"number": person.number, **row})
            continue
        stored = (
            old.name,
            old.status,
            old.college_id,
            old.dorm_room_id,
            old.graduation_year,
            old.active,
        )
        if stored != tuple(row.values()):
            changed.append({"id": old.id, **row})
    await _write(session, Person, created, changed, report.people, len(data.people))
    listed = {person.number for person in data.people}
    leaving = [
        {"id": r.id, "active": False}
        for r in existing.values()
        if r.active and r.number not in listed
    ]
    if leaving:
        await session.execute(update(Person), leaving)
    report.people_deactivated = len(leaving)
    # A changed name alone changes nothing one may do, but is too rare to be worth telling apart.
    report.people_changed.update(row["id"] for row in (*changed, *leaving))
    ids = {number: r.id for number, r in existing.items()}
    if created:
        ids.update(
            {
                number: row_id
                for number, row_id in await session.execute(select(Person.number, Person.id))
            }
        )
    return ids


async def _sync_roles(
    session: AsyncSession, wanted: list[tuple[int, Role, ScopeKind, int]], report: ImportReport
) -> None:
    """Make the role assignments exactly ``wanted``: delete the others, add the missing."""
    rows = await session.execute(
        select(
            RoleAssignment.id,
            RoleAssignment.person_id,
            RoleAssignment.role,
            RoleAssignment.scope_kind,
            RoleAssignment.scope_id,
        )
    )
    existing = {(r.person_id, r.role, r.scope_kind, r.scope_id): r.id for r in rows}
    keep = set(wanted)
    removed = [role_id for key, role_id in existing.items() if key not in keep]
    report.people_changed.update(key[0] for key in existing if key not in keep)
    for start in range(0, len(removed), _DELETE_CHUNK):
        chunk = removed[start : start + _DELETE_CHUNK]
        statement = delete(RoleAssignment).where(RoleAssignment.id.in_(chunk))
        await session.execute(statement.execution_options(synchronize_session=False))
    added = [
        {"person_id": person_id, "role": role, "scope_kind": kind, "scope_id": scope_id}
        for person_id, role, kind, scope_id in wanted
        if (person_id, role, kind, scope_id) not in existing
    ]
    if added:
        await session.execute(insert(RoleAssignment), added)
    report.people_changed.update(key[0] for key in wanted if key not in existing)
    report.roles_added = len(added)
    report.roles_removed = len(removed)
    report.roles_unchanged = len(wanted) - len(added)
