"""Walking up the campus: the unit of one kind that holds a unit of another."""

from __future__ import annotations

from sqlalchemy import select

from assistant import directory
from assistant.domain import SCHOOL_SCOPE_ID, ScopeKind
from assistant.runner import DEMO_CAMPUS
from assistant.storage import repo
from assistant.storage.db import Database
from assistant.storage.models import Building, College, Community, DormRoom, Floor, GridCell


async def test_every_unit_finds_the_units_that_hold_it(db: Database) -> None:
    async with db.unit_of_work() as session:
        await directory.import_org(session, directory.load_org(DEMO_CAMPUS))
    async with db.unit_of_work() as session:
        room = await session.scalar(select(DormRoom).where(DormRoom.number == "101"))
        assert room is not None
        floor = await session.get(Floor, room.floor_id)
        assert floor is not None and floor.grid_id is not None
        building = await session.get(Building, floor.building_id)
        assert building is not None
        community = await session.get(Community, building.community_id)
        assert community is not None and community.college_id is not None
        college = await session.get(College, community.college_id)
        assert college is not None

        async def up(kind: ScopeKind, unit: int, wanted: ScopeKind) -> int | None:
            return await repo.unit_above(session, kind, unit, wanted)

        assert await up(ScopeKind.ROOM, room.id, ScopeKind.FLOOR) == floor.id
        assert await up(ScopeKind.ROOM, room.id, ScopeKind.GRID) == floor.grid_id
        assert await up(ScopeKind.ROOM, room.id, ScopeKind.BUILDING) == building.id
        assert await up(ScopeKind.FLOOR, floor.id, ScopeKind.COMMUNITY) == community.id
        assert await up(ScopeKind.GRID, floor.grid_id, ScopeKind.COMMUNITY) == community.id
        assert await up(ScopeKind.BUILDING, building.id, ScopeKind.COLLEGE) == college.id
        assert await up(ScopeKind.COMMUNITY, community.id, ScopeKind.COMMUNITY) == community.id
        assert await up(ScopeKind.COLLEGE, college.id, ScopeKind.SCHOOL) == SCHOOL_SCOPE_ID
        # Nothing below or beside: a community holds no building of its own, a grid no floor.
        assert await up(ScopeKind.COMMUNITY, community.id, ScopeKind.BUILDING) is None
        assert await up(ScopeKind.GRID, floor.grid_id, ScopeKind.FLOOR) is None
        assert await up(ScopeKind.COLLEGE, college.id, ScopeKind.COMMUNITY) is None
        grid = await session.get(GridCell, floor.grid_id)
        assert grid is not None and grid.building_id == building.id
