"""Writing the database back out as campus files that import to the same state."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.directory.loader import PEOPLE_COLUMNS, ROLES_COLUMNS
from assistant.domain import ScopeKind
from assistant.storage.models import (
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

CAMPUS_FILE = "campus.yaml"
PEOPLE_FILE = "people.csv"
ROLES_FILE = "roles.csv"


async def export_org(session: AsyncSession, out_dir: Path) -> list[Path]:
    """Write campus.yaml, people.csv and roles.csv into ``out_dir``; returns their paths.

    Importing them gives back the same database state. Inactive people are left out (an import
    keeps people missing from the roster inactive), and so are their roles. A building's floors
    and rooms per floor are the highest floor and room numbers it has, since the database keeps
    rooms, not the counts they were made from.
    """
    campus, people, roles = await _collect(session)
    texts = {
        CAMPUS_FILE: yaml.safe_dump(
            campus, allow_unicode=True, sort_keys=False, default_flow_style=None, width=1000
        ),
        PEOPLE_FILE: _csv(PEOPLE_COLUMNS, people),
        ROLES_FILE: _csv(ROLES_COLUMNS, roles),
    }
    return await asyncio.to_thread(_write_files, out_dir, texts)


def _write_files(out_dir: Path, texts: dict[str, str]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        path = out_dir / name
        # A byte-order mark on the CSV files makes Excel open them as UTF-8, not as GBK.
        path.write_text(text, encoding="utf-8-sig" if name.endswith(".csv") else "utf-8")
        paths.append(path)
    return paths


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _name(
    row: College | Community | Building | PartyBranch | Substation | FunctionalRoom,
) -> dict[str, str]:
    return {"zh": row.name_zh, "en": row.name_en}


def _units(
    units: dict[int, PartyBranch] | dict[int, Substation],
    buildings: dict[int, Building],
    communities: dict[int, Community],
    column: str,
) -> list[dict[str, Any]]:
    """Branches or sub-stations, each with the buildings in it (``column`` of the building)."""
    covered: dict[int, list[str]] = defaultdict(list)
    for building in buildings.values():
        unit_id = getattr(building, column)
        if unit_id is not None:
            covered[unit_id].append(building.code)
    return [
        {
            "code": unit.code,
            "community": communities[unit.community_id].code,
            "name": _name(unit),
            "buildings": covered[unit_id],
        }
        for unit_id, unit in units.items()
    ]


async def _collect(
    session: AsyncSession,
) -> tuple[dict[str, Any], list[list[str]], list[list[str]]]:
    """The campus document and the people and roles rows, all in id order."""

    colleges = {c.id: c for c in await session.scalars(select(College).order_by(College.id))}
    communities = {c.id: c for c in await session.scalars(select(Community).order_by(Community.id))}
    buildings = {b.id: b for b in await session.scalars(select(Building).order_by(Building.id))}
    branches = {
        b.id: b for b in await session.scalars(select(PartyBranch).order_by(PartyBranch.id))
    }
    substations = {
        s.id: s for s in await session.scalars(select(Substation).order_by(Substation.id))
    }
    grids = {g.id: g for g in await session.scalars(select(GridCell).order_by(GridCell.id))}
    floors = {f.id: f for f in await session.scalars(select(Floor))}
    functional_rooms = await session.scalars(select(FunctionalRoom).order_by(FunctionalRoom.id))
    heights: dict[int, int] = defaultdict(int)
    grid_floors: dict[int, list[int]] = defaultdict(list)
    for floor in floors.values():
        heights[floor.building_id] = max(heights[floor.building_id], floor.number)
        if floor.grid_id is not None and grids[floor.grid_id].building_id == floor.building_id:
            grid_floors[floor.grid_id].append(floor.number)
    room_rows = await session.execute(select(DormRoom.id, DormRoom.floor_id, DormRoom.number))
    rooms: dict[int, str] = {}
    widths: dict[int, int] = defaultdict(int)
    for room_id, floor_id, number in room_rows:
        building_id = floors[floor_id].building_id
        rooms[room_id] = f"{buildings[building_id].code}-{number}"
        widths[building_id] = max(widths[building_id], int(number[-2:]))

    campus: dict[str, Any] = {
        "colleges": [{"code": c.code, "name": _name(c)} for c in colleges.values()],
        "communities": [
            {"code": c.code, "name": _name(c)}
            | ({"college": colleges[c.college_id].code} if c.college_id else {})
            for c in communities.values()
        ],
        "buildings": [
            {
                "code": b.code,
                "community": communities[b.community_id].code,
                "name": _name(b),
                "floors": heights[b.id],
                "rooms_per_floor": widths[b.id],
            }
            for b in buildings.values()
        ],
        "branches": _units(branches, buildings, communities, "branch_id"),
        "substations": _units(substations, buildings, communities, "substation_id"),
        "grids": [
            {
                "code": g.code,
                "building": buildings[g.building_id].code,
                "floors": sorted(grid_floors[g.id]),
            }
            for g in grids.values()
        ],
        "functional_rooms": [
            {"code": r.code, "kind": r.kind.value, "name": _name(r)}
            | ({"building": buildings[r.building_id].code} if r.building_id else {})
            | ({"college": colleges[r.college_id].code} if r.college_id else {})
            | {"capacity": r.capacity}
            for r in functional_rooms
        ],
        "people": PEOPLE_FILE,
        "roles": ROLES_FILE,
    }

    people_rows = await session.execute(
        select(
            Person.id,
            Person.number,
            Person.name,
            Person.status,
            Person.college_id,
            Person.dorm_room_id,
            Person.graduation_year,
        )
        .where(Person.active)
        .order_by(Person.id)
    )
    numbers: dict[int, str] = {}
    people: list[list[str]] = []
    for person_id, number, name, status, college_id, home_id, graduation in people_rows:
        numbers[person_id] = number
        college = colleges[college_id].code if college_id else ""
        home = rooms[home_id] if home_id else ""
        people.append([number, name, status.value, college, home, str(graduation or "")])

    scopes: dict[ScopeKind, dict[int, str]] = {
        ScopeKind.COLLEGE: {i: c.code for i, c in colleges.items()},
        ScopeKind.COMMUNITY: {i: c.code for i, c in communities.items()},
        ScopeKind.BUILDING: {i: b.code for i, b in buildings.items()},
        ScopeKind.BRANCH: {i: b.code for i, b in branches.items()},
        ScopeKind.SUBSTATION: {i: s.code for i, s in substations.items()},
        ScopeKind.GRID: {i: g.code for i, g in grids.items()},
        ScopeKind.FLOOR: {
            i: f"{buildings[f.building_id].code}-{f.number}" for i, f in floors.items()
        },
        ScopeKind.ROOM: rooms,
    }
    role_rows = await session.execute(
        select(
            RoleAssignment.person_id,
            RoleAssignment.role,
            RoleAssignment.scope_kind,
            RoleAssignment.scope_id,
        ).order_by(RoleAssignment.id)
    )
    roles: list[list[str]] = []
    for person_id, role, kind, scope_id in role_rows:
        if person_id not in numbers:
            continue
        scope = kind.value if kind is ScopeKind.SCHOOL else f"{kind.value}:{scopes[kind][scope_id]}"
        roles.append([numbers[person_id], role.value, scope])
    return campus, people, roles
