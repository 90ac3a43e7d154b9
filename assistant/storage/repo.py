"""Queries over the campus directory and identities. Nothing here commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import SCHOOL_SCOPE_ID, Named, PersonStatus, Place, Role, ScopeKind
from assistant.storage.models import (
    Building,
    College,
    Community,
    DormRoom,
    Floor,
    GridCell,
    GroupChat,
    PartyBranch,
    Person,
    RoleAssignment,
    Substation,
    TelegramAccount,
)


@dataclass(frozen=True)
class Holder:
    """A person holding a role, with the Telegram account to reach them if linked."""

    role: Role
    scope_kind: ScopeKind
    scope_id: int
    person_id: int
    name: str
    telegram_user_id: int | None
    language: str | None = None
    # Telegram refused a message to them (they blocked the bot) and they have not written since.
    unreachable: bool = False

    @property
    def reachable(self) -> bool:
        """Whether a message to them can arrive: linked, and not known to have blocked the bot."""
        return self.telegram_user_id is not None and not self.unreachable


def _named(row: College | Community | Building | PartyBranch | Substation) -> Named:
    return Named(row.id, row.code, row.name_zh, row.name_en)


async def account_by_telegram_id(
    session: AsyncSession, telegram_user_id: int
) -> tuple[TelegramAccount, Person] | None:
    """The linked account and its active person, or None."""
    row = (
        await session.execute(
            select(TelegramAccount, Person)
            .join(Person, Person.id == TelegramAccount.person_id)
            .where(TelegramAccount.telegram_user_id == telegram_user_id, Person.active)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def person_by_number(session: AsyncSession, number: str) -> Person | None:
    """The person with this student or staff number."""
    return await session.scalar(select(Person).where(Person.number == number))


async def roles_of(session: AsyncSession, person_id: int) -> Sequence[RoleAssignment]:
    """Every role the person holds."""
    result = await session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.person_id == person_id)
        .order_by(RoleAssignment.id)
    )
    return result.all()


async def college(session: AsyncSession, college_id: int | None) -> Named | None:
    """A college by id."""
    if college_id is None:
        return None
    row = await session.get(College, college_id)
    return _named(row) if row else None


# The place queries run on most steps of a conversation: one statement each, built once, read
# as plain columns (loading the four rows as ORM objects took several times the CPU).
_PLACE_COLUMNS = (
    Floor.id,
    Floor.number,
    GridCell.id,
    GridCell.code,
    Building.id,
    Building.code,
    Building.name_zh,
    Building.name_en,
    Community.id,
    Community.code,
    Community.name_zh,
    Community.name_en,
)


def _place_query(*extra: Any) -> Any:
    return (
        select(*extra, *_PLACE_COLUMNS)
        .select_from(Floor)
        .join(Building, Building.id == Floor.building_id)
        .join(Community, Community.id == Building.community_id)
        .outerjoin(GridCell, GridCell.id == Floor.grid_id)
    )


_FLOOR_PLACE = _place_query().where(Floor.id == bindparam("floor_id"))
_ROOM_PLACE = (
    _place_query(DormRoom.id, DormRoom.number)
    .join(DormRoom, DormRoom.floor_id == Floor.id)
    .where(DormRoom.id == bindparam("room_id"))
)


def _place(row: Sequence[Any], room_id: int = 0, room: str = "") -> Place:
    floor_id, floor, grid_id, grid, *units = row
    return Place(
        room_id=room_id,
        room=room,
        floor_id=floor_id,
        floor=floor,
        grid_id=grid_id,
        grid=grid,
        building=Named(*units[:4]),
        community=Named(*units[4:]),
    )


async def place_of_floor(session: AsyncSession, floor_id: int) -> Place | None:
    """The floor as a place without a room (``room`` is empty)."""
    row = (await session.execute(_FLOOR_PLACE, {"floor_id": floor_id})).first()
    return _place(row) if row else None


async def floors_of_building(session: AsyncSession, building_id: int) -> list[Place]:
    """Every floor of a building as a place without a room, lowest first."""
    rows = await session.execute(
        _place_query().where(Floor.building_id == building_id).order_by(Floor.number)
    )
    return [_place(row) for row in rows]


async def place_of_room(session: AsyncSession, dorm_room_id: int | None) -> Place | None:
    """Where a dorm room is."""
    if dorm_room_id is None:
        return None
    row = (await session.execute(_ROOM_PLACE, {"room_id": dorm_room_id})).first()
    if row is None:
        return None
    room_id, room, *place = row
    return _place(place, room_id, room)


@dataclass(frozen=True)
class Linked:
    """A Telegram user's linked active person, as the access gate reads them on every update."""

    person_id: int
    number: str
    name: str
    status: PersonStatus
    language: str | None
    unreachable: bool
    college: Named | None
    home: Place | None
    grants: tuple[tuple[Role, ScopeKind, int], ...]


# Read on every update: one statement built once, plain columns, once per role held. The
# person's college and dorm come with it, as most steps of a conversation ask for them.
_LINKED = (
    select(
        Person.id,
        Person.number,
        Person.name,
        Person.status,
        TelegramAccount.language,
        TelegramAccount.unreachable_since,
        RoleAssignment.role,
        RoleAssignment.scope_kind,
        RoleAssignment.scope_id,
        College.id,
        College.code,
        College.name_zh,
        College.name_en,
        DormRoom.id,
        DormRoom.number,
        *_PLACE_COLUMNS,
    )
    .select_from(TelegramAccount)
    .join(Person, Person.id == TelegramAccount.person_id)
    .outerjoin(RoleAssignment, RoleAssignment.person_id == Person.id)
    .outerjoin(College, College.id == Person.college_id)
    .outerjoin(DormRoom, DormRoom.id == Person.dorm_room_id)
    .outerjoin(Floor, Floor.id == DormRoom.floor_id)
    .outerjoin(Building, Building.id == Floor.building_id)
    .outerjoin(Community, Community.id == Building.community_id)
    .outerjoin(GridCell, GridCell.id == Floor.grid_id)
    .where(TelegramAccount.telegram_user_id == bindparam("telegram_user_id"), Person.active)
    .order_by(RoleAssignment.id)
)


async def linked(session: AsyncSession, telegram_user_id: int) -> Linked | None:
    """The linked active person of a Telegram user, or None for a stranger."""
    rows = (await session.execute(_LINKED, {"telegram_user_id": telegram_user_id})).all()
    if not rows:
        return None
    first: tuple[Any, ...] = tuple(rows[0])
    person_id, number, name, status, language, unreachable = first[:6]
    college_id, *college = first[9:13]
    room_id, room, *place = first[13:]
    return Linked(
        person_id=person_id,
        number=number,
        name=name,
        status=status,
        language=language,
        unreachable=unreachable is not None,
        college=Named(college_id, *college) if college_id is not None else None,
        home=_place(place, room_id, room) if room_id is not None else None,
        grants=tuple((row[6], row[7], row[8]) for row in rows if row[6] is not None),
    )


async def building_by_code(session: AsyncSession, code: str) -> Building | None:
    """A building by its code."""
    return await session.scalar(select(Building).where(Building.code == code))


async def floor_by_number(session: AsyncSession, building_id: int, number: int) -> Floor | None:
    """A floor of a building."""
    return await session.scalar(
        select(Floor).where(Floor.building_id == building_id, Floor.number == number)
    )


async def floors_of_grid(session: AsyncSession, grid_id: int) -> list[int]:
    """The numbers of a grid cell's floors, lowest first (a grid is named by them)."""
    rows = await session.scalars(
        select(Floor.number).where(Floor.grid_id == grid_id).order_by(Floor.number)
    )
    return list(rows.all())


# Run for every report, card and escalation: one statement built once, plain columns.
_HOLDERS = (
    select(
        RoleAssignment.role,
        RoleAssignment.scope_kind,
        RoleAssignment.scope_id,
        Person.id,
        Person.name,
        TelegramAccount.telegram_user_id,
        TelegramAccount.language,
        TelegramAccount.unreachable_since.is_not(None),
    )
    .join(Person, Person.id == RoleAssignment.person_id)
    .outerjoin(TelegramAccount, TelegramAccount.person_id == Person.id)
    .where(
        Person.active,
        tuple_(RoleAssignment.role, RoleAssignment.scope_kind, RoleAssignment.scope_id).in_(
            bindparam("wanted", expanding=True)
        ),
    )
)


async def holders(
    session: AsyncSession, wanted: Iterable[tuple[Role, ScopeKind, int]]
) -> list[Holder]:
    """Active people holding any of the (role, scope kind, scope id) triples, in that order."""
    order: dict[tuple[Role, ScopeKind, int], int] = {}
    for triple in wanted:
        order.setdefault(triple, len(order))
    if not order:
        return []
    rows = await session.execute(_HOLDERS, {"wanted": list(order)})
    found = [Holder(*row[:-1], unreachable=bool(row[-1])) for row in rows]
    return sorted(found, key=lambda h: (order[(h.role, h.scope_kind, h.scope_id)], h.name))


# Each kind of unit, the column naming the unit that holds it, and that unit's kind. A floor's
# grid is beside its building: taken only when a grid is asked for.
_HELD_BY: dict[ScopeKind, tuple[Any, Any, ScopeKind]] = {
    ScopeKind.ROOM: (DormRoom.id, DormRoom.floor_id, ScopeKind.FLOOR),
    ScopeKind.FLOOR: (Floor.id, Floor.building_id, ScopeKind.BUILDING),
    ScopeKind.GRID: (GridCell.id, GridCell.building_id, ScopeKind.BUILDING),
    ScopeKind.BUILDING: (Building.id, Building.community_id, ScopeKind.COMMUNITY),
    ScopeKind.COMMUNITY: (Community.id, Community.college_id, ScopeKind.COLLEGE),
}


async def unit_above(
    session: AsyncSession, kind: ScopeKind, unit_id: int, wanted: ScopeKind
) -> int | None:
    """The unit of kind ``wanted`` that holds unit ``unit_id`` of ``kind`` (the unit itself
    when the kinds are the same, 0 for the school), or None when there is none: ``wanted`` is
    below or beside ``kind``, or the campus files leave the link out."""
    if wanted is ScopeKind.SCHOOL:
        return SCHOOL_SCOPE_ID
    current: int | None = unit_id
    while current is not None and kind is not wanted:
        if kind not in _HELD_BY:
            return None
        key, parent, kind = _HELD_BY[kind]
        if kind is ScopeKind.BUILDING and key is Floor.id and wanted is ScopeKind.GRID:
            parent, kind = Floor.grid_id, ScopeKind.GRID
        current = await session.scalar(select(parent).where(key == current))
    return current


async def party_units(session: AsyncSession, building_id: int) -> tuple[Named | None, Named | None]:
    """The student party branch and the sub-station a building is in, if any."""
    row = (
        await session.execute(
            select(PartyBranch, Substation)
            .select_from(Building)
            .outerjoin(PartyBranch, PartyBranch.id == Building.branch_id)
            .outerjoin(Substation, Substation.id == Building.substation_id)
            .where(Building.id == building_id)
        )
    ).first()
    if row is None:
        return None, None
    branch, substation = row
    return (_named(branch) if branch else None, _named(substation) if substation else None)


async def party_members_on_floor(session: AsyncSession, floor_id: int) -> list[tuple[str, str]]:
    """(name, room) of the active student party members living on a floor (党员亮身份)."""
    rows = await session.execute(
        select(Person.name, DormRoom.number)
        .join(DormRoom, DormRoom.id == Person.dorm_room_id)
        .where(
            DormRoom.floor_id == floor_id,
            Person.active,
            Person.status == PersonStatus.PARTY_MEMBER,
        )
        .order_by(DormRoom.number, Person.name)
    )
    return [(name, room) for name, room in rows.all()]


@dataclass(frozen=True)
class Listing:
    """One active person with their roles and home, for pickers and rosters."""

    number: str
    name: str
    status: PersonStatus
    roles: tuple[Role, ...]
    dorm_room_id: int | None
    room: str | None
    floor_id: int | None
    floor: int | None
    building: Named | None


async def listings(session: AsyncSession) -> list[Listing]:
    """Every active person, by number, with roles and dorm."""
    roles: dict[int, list[Role]] = {}
    for person_id, role in (
        await session.execute(
            select(RoleAssignment.person_id, RoleAssignment.role).order_by(RoleAssignment.id)
        )
    ).all():
        roles.setdefault(person_id, []).append(role)
    rows = await session.execute(
        select(Person, DormRoom, Floor, Building)
        .outerjoin(DormRoom, DormRoom.id == Person.dorm_room_id)
        .outerjoin(Floor, Floor.id == DormRoom.floor_id)
        .outerjoin(Building, Building.id == Floor.building_id)
        .where(Person.active)
        .order_by(Person.number)
    )
    return [
        Listing(
            number=person.number,
            name=person.name,
            status=person.status,
            roles=tuple(roles.get(person.id, ())),
            dorm_room_id=room.id if room else None,
            room=room.number if room else None,
            floor_id=floor.id if floor else None,
            floor=floor.number if floor else None,
            building=_named(building) if building else None,
        )
        for person, room, floor, building in rows.all()
    ]


async def chat_names(session: AsyncSession, chat_ids: Sequence[int]) -> dict[int, str]:
    """A readable name for each chat id: "name (number)" for people, the title for groups."""
    names: dict[int, str] = {}
    people = await session.execute(
        select(TelegramAccount.telegram_user_id, Person.name, Person.number)
        .join(Person, Person.id == TelegramAccount.person_id)
        .where(TelegramAccount.telegram_user_id.in_(chat_ids))
    )
    for chat_id, name, number in people.all():
        names[chat_id] = f"{name} ({number})"
    groups = await session.execute(
        select(GroupChat.chat_id, GroupChat.title).where(GroupChat.chat_id.in_(chat_ids))
    )
    names.update({chat_id: title for chat_id, title in groups.all()})
    return names


async def account_of(session: AsyncSession, person_id: int) -> TelegramAccount | None:
    """The Telegram account linked to a person."""
    return await session.scalar(
        select(TelegramAccount).where(TelegramAccount.person_id == person_id)
    )


async def language_of(session: AsyncSession, telegram_user_id: int) -> str | None:
    """The language a Telegram user chose, if they are linked and chose one."""
    return await session.scalar(
        select(TelegramAccount.language).where(TelegramAccount.telegram_user_id == telegram_user_id)
    )
