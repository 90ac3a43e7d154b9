"""The sandbox run: the bot on a local fake Telegram, the demo campus, and a web chat.

The bot reaches the fake over HTTP exactly as it reaches Telegram; only the base URL differs.
As the sandbox starts, every demo person gets a Telegram user who opens their invite link
(``/start <token>``) as a real resident would, and joins their floor's group chat; so work routed
to anyone reaches them whether or not someone has been them on the page yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.bot.context import utc_now
from assistant.config import Settings
from assistant.domain import PersonStatus, Role, ScopeKind
from assistant.runner import load_demo_campus, run_bot
from assistant.sandbox import FakeTelegram, FakeTelegramServer
from assistant.sandbox.state import FakeChat, FakeUser
from assistant.sandbox.webchat import SandboxPerson, Suggestion, WebChat, Words
from assistant.services import identity
from assistant.storage.db import Database
from assistant.storage.models import (
    Building,
    College,
    Community,
    DormRoom,
    Floor,
    GridCell,
    PartyBranch,
    Person,
    RoleAssignment,
    Substation,
)

# Each role's name (Chinese, English; the full or short names of docs/glossary.md) and the picker's
# section for it, in the picker's order: the first role a person holds decides their section.
_ROLES: dict[Role, tuple[str, str, str]] = {
    Role.COUNSELLOR: ("辅导员", "Counsellor", "Counsellors"),
    Role.WORKSTATION_HEAD: ("工作站站长", "Workstation head", "Workstation heads"),
    Role.BUILDING_LEADER: ("楼长", "Building leader", "Building leaders"),
    Role.BUILDING_MANAGER: ("楼管员", "Building manager", "Building managers"),
    Role.FLOOR_LEADER: ("层长", "Floor leader", "Floor leaders"),
    Role.GRID_PARTY_MEMBER: ("网格党员", "Grid party member", "Grid party members"),
    Role.DORM_HEAD: ("宿舍长", "Dorm head", "Dorm heads"),
    Role.COLLEGE_PARTY_LEADER: (
        "学院党组织负责人",
        "College party leader",
        "College party leaders",
    ),
    Role.SERVICE_CENTRE: (
        "学生社区服务中心",
        "Community Service Centre",
        "Community Service Centre",
    ),
    Role.ORG_DEPARTMENT: ("党委组织部", "Organisation Department", "Organisation Department"),
    Role.LOGISTICS_SECURITY: ("后保处", "Logistics & Security", "Logistics & Security"),
    Role.STUDENT_AFFAIRS: ("党委学生工作部", "Student Affairs", "Student Affairs"),
    Role.PUBLICITY: ("党委宣传部", "Publicity", "Publicity"),
    Role.YOUTH_LEAGUE: ("校团委", "Youth League Committee", "Youth League Committee"),
    Role.SPORTS: ("体育部", "Sports", "Sports"),
    Role.EXPERT: ("专家组成员", "Expert panel member", "Expert panel"),
    Role.ADMIN: ("管理员", "Administrator", "Administrators"),
    # Heads of the party organisation's units, held by people the sections above already name.
    Role.COMMITTEE_SECRETARY: (
        "社区党工委书记",
        "Working committee secretary",
        "Working committee secretaries",
    ),
    Role.SUBSTATION_HEAD: ("分站站长", "Sub-station head", "Sub-station heads"),
    Role.BRANCH_SECRETARY: ("党支部书记", "Branch secretary", "Branch secretaries"),
    Role.CENTRE_HEAD: (
        "党建工作中心负责人",
        "Building centre head",
        "Building centre heads",
    ),
    Role.GRID_GROUP_LEADER: (
        "网格党小组组长",
        "Grid party group leader",
        "Grid party group leaders",
    ),
    # The Red Service Team: students who hold no other post are found under it.
    Role.SERVICE_TEAM_LEADER: (
        "红色服务队队长",
        "Red Service Team leader",
        "Red Service Team leaders",
    ),
    Role.SERVICE_VOLUNTEER: (
        "红色服务队志愿者",
        "Red Service Team volunteer",
        "Red Service Team volunteers",
    ),
}
_RESIDENTS = Words("学生", "Students")
_OTHERS = Words("其他人", "Everyone else")
_STATUS: dict[PersonStatus, Words] = {
    PersonStatus.STUDENT: Words("学生", "Student"),
    PersonStatus.ACTIVIST: Words("积极分子", "Activist"),
    PersonStatus.PARTY_MEMBER: Words("党员", "Party member"),
    PersonStatus.TEACHER: Words("教师", "Teacher"),
    PersonStatus.STAFF: Words("工作人员", "Staff"),
}
_OFF_CAMPUS = Words("不住校", "Off campus")
_Key = tuple[ScopeKind, int]
# An invite lives long enough for the bot to take it however slowly the machine starts.
_INVITE_TTL = timedelta(days=1)
# How long the bot may take to answer everyone's invite before the page is announced anyway.
_LINK_TIMEOUT = 120.0


@dataclass(frozen=True)
class _Unit:
    """A place on the campus: its name as the picker shows it, and more to search it by (its
    code, the places it lies in)."""

    words: Words
    terms: tuple[str, ...]
    community_id: int | None = None

    def within(self, code: str) -> tuple[str, ...]:
        """The terms of a place inside this one, whose own code is ``code``."""
        return (code, self.words.zh, self.words.en, *self.terms)


@dataclass(frozen=True)
class _Resident:
    """A demo person with everything the picker shows and searches."""

    number: str
    name: str
    status: PersonStatus
    college: _Unit | None
    room: _Unit | None
    floor_id: int | None
    floor: _Unit | None
    grants: tuple[tuple[Role, ScopeKind, int], ...]

    @property
    def roles(self) -> tuple[Role, ...]:
        return tuple(role for role, _, _ in self.grants)

    @property
    def community_id(self) -> int | None:
        return self.floor.community_id if self.floor else None


class DemoPeople:
    """The web chat's people: everyone on the demo campus, each with their own Telegram user."""

    def __init__(self, tg: FakeTelegram, db: Database) -> None:
        self._tg = tg
        self._db = db
        self._users: dict[str, FakeUser] = {}
        self._floor_groups: dict[int, FakeChat] = {}
        self._lock = asyncio.Lock()

    async def link_everyone(self) -> int:
        """Every active person not linked yet opens their invite link and joins their floor's
        group, as residents do on their first day; the bot answers once it runs. Returns how
        many did."""
        async with self._lock:
            async with self._db.unit_of_work() as session:
                residents, _ = await _roster(session)
                invites = [
                    (resident, await _invite(session, resident.number))
                    for resident in residents
                    if resident.number not in self._users
                ]
            for resident, token in invites:
                await self._link(resident, token)
            return len(invites)

    async def settled(self, timeout: float) -> None:  # noqa: ASYNC109 - one deadline for all
        """Waits until the bot has answered every invite opened so far."""
        waiting = set(self._users.values())

        def answered() -> bool:
            waiting.difference_update([user for user in waiting if self._answered(user)])
            return not waiting

        await self._tg.wait_until(answered, timeout)

    async def list_people(self) -> list[SandboxPerson]:
        """Everyone on the campus, by section, then by number."""
        async with self._db.unit_of_work() as session:
            residents, units = await _roster(session)
        ordered = sorted(residents, key=lambda r: (_section(r)[0], r.number))
        return [_person(r, units) for r in ordered]

    async def suggestions(self) -> list[Suggestion]:
        """A student whose floor has a floor leader to take their report, and the counsellor of
        their community, who decides their bookings and speaks to their floor."""
        async with self._db.unit_of_work() as session:
            residents, _ = await _roster(session)
        led: set[int] = set()
        counsellors: dict[int, str] = {}
        for r in residents:
            for role, _, scope_id in r.grants:
                if role is Role.FLOOR_LEADER:
                    led.add(scope_id)
                elif role is Role.COUNSELLOR:
                    counsellors.setdefault(scope_id, r.number)
        students = sorted(
            (
                r
                for r in residents
                if r.status is PersonStatus.STUDENT
                and not r.grants
                and r.floor_id in led
                and r.community_id in counsellors
            ),
            key=lambda r: (r.community_id or 0, r.number),
        )
        if not students:
            return []
        student = students[0]
        counsellor = counsellors[student.community_id or 0]
        return [
            Suggestion("report", student.number, "/report"),
            Suggestion("approve", counsellor, "/pending"),
            Suggestion("broadcast", counsellor, "/broadcast"),
        ]

    async def become(self, key: str) -> FakeUser:
        """The Telegram user of person ``key``; someone added since the start is linked now."""
        async with self._lock:
            if key in self._users:
                return self._users[key]
            async with self._db.unit_of_work() as session:
                residents, _ = await _roster(session)
                resident = next((r for r in residents if r.number == key), None)
                if resident is None:
                    raise KeyError(key)
                token = await _invite(session, key)
            return await self._link(resident, token)

    async def _link(self, resident: _Resident, token: str) -> FakeUser:
        user = self._tg.add_user(resident.name, language_code="zh-hans")
        self._users[resident.number] = user
        await self._tg.user_send(user, f"/start {token}")
        if resident.floor_id is not None and resident.floor is not None:
            group = self._floor_groups.get(resident.floor_id)
            if group is None:
                title = f"{resident.floor.words.zh} · {resident.floor.words.en}"
                self._floor_groups[resident.floor_id] = await self._tg.add_group(title, [user])
            else:
                self._tg.add_member(group, user)
        return user

    def _answered(self, user: FakeUser) -> bool:
        return any(message.sender.is_bot for message in self._tg.messages(user.id))


async def _invite(session: AsyncSession, number: str) -> str:
    _, token = await identity.invite_number(session, number, now=utc_now(), ttl=_INVITE_TTL)
    return token


async def _roster(session: AsyncSession) -> tuple[list[_Resident], dict[_Key, _Unit]]:
    """Every active person, by number, and every place a role may be held over."""
    units = await _units(session)
    grants: dict[int, list[tuple[Role, ScopeKind, int]]] = {}
    for person_id, role, kind, scope_id in await session.execute(
        select(
            RoleAssignment.person_id,
            RoleAssignment.role,
            RoleAssignment.scope_kind,
            RoleAssignment.scope_id,
        ).order_by(RoleAssignment.id)
    ):
        grants.setdefault(person_id, []).append((role, kind, scope_id))
    rows = await session.execute(
        select(Person, DormRoom.floor_id)
        .outerjoin(DormRoom, DormRoom.id == Person.dorm_room_id)
        .where(Person.active)
        .order_by(Person.number)
    )
    residents = [
        _Resident(
            number=person.number,
            name=person.name,
            status=person.status,
            college=units.get((ScopeKind.COLLEGE, person.college_id or 0)),
            room=units.get((ScopeKind.ROOM, person.dorm_room_id or 0)),
            floor_id=floor_id,
            floor=units.get((ScopeKind.FLOOR, floor_id or 0)),
            grants=tuple(grants.get(person.id, ())),
        )
        for person, floor_id in rows
    ]
    return residents, units


async def _units(session: AsyncSession) -> dict[_Key, _Unit]:
    """Every college, community, party branch, sub-station, building, grid, floor and dorm room,
    named in both languages."""
    units: dict[_Key, _Unit] = {}
    for college in await session.scalars(select(College)):
        words = Words(college.name_zh, college.name_en)
        units[(ScopeKind.COLLEGE, college.id)] = _Unit(words, (college.code,))
    for community in await session.scalars(select(Community)):
        words = Words(community.name_zh, community.name_en)
        units[(ScopeKind.COMMUNITY, community.id)] = _Unit(words, (community.code,), community.id)
    party_units: list[PartyBranch | Substation] = [
        *await session.scalars(select(PartyBranch)),
        *await session.scalars(select(Substation)),
    ]
    for unit in party_units:
        kind = ScopeKind.BRANCH if isinstance(unit, PartyBranch) else ScopeKind.SUBSTATION
        outer = units[(ScopeKind.COMMUNITY, unit.community_id)]
        units[(kind, unit.id)] = _Unit(
            Words(unit.name_zh, unit.name_en), outer.within(unit.code), unit.community_id
        )
    buildings = {b.id: b for b in await session.scalars(select(Building))}
    for b in buildings.values():
        outer = units[(ScopeKind.COMMUNITY, b.community_id)]
        units[(ScopeKind.BUILDING, b.id)] = _Unit(
            Words(b.name_zh, b.name_en), outer.within(b.code), b.community_id
        )
    floors = {f.id: f for f in await session.scalars(select(Floor).order_by(Floor.number))}
    for f in floors.values():
        b = buildings[f.building_id]
        units[(ScopeKind.FLOOR, f.id)] = _Unit(
            Words(f"{b.name_zh}{f.number}层", f"{b.name_en} floor {f.number}"),
            units[(ScopeKind.BUILDING, b.id)].within(f"{b.code}-{f.number}"),
            b.community_id,
        )
    for grid in await session.scalars(select(GridCell)):
        b = buildings[grid.building_id]
        numbers = "–".join(
            str(n) for n in _ends(f.number for f in floors.values() if f.grid_id == grid.id)
        )
        units[(ScopeKind.GRID, grid.id)] = _Unit(
            Words(f"{b.name_zh}{numbers}层", f"{b.name_en} floors {numbers}"),
            units[(ScopeKind.BUILDING, b.id)].within(grid.code),
            b.community_id,
        )
    for room_id, floor_id, number in await session.execute(
        select(DormRoom.id, DormRoom.floor_id, DormRoom.number)
    ):
        f = floors[floor_id]
        b = buildings[f.building_id]
        units[(ScopeKind.ROOM, room_id)] = _Unit(
            Words(f"{b.name_zh}{number}室", f"{b.name_en} room {number}"),
            units[(ScopeKind.FLOOR, f.id)].within(f"{b.code}-{number}"),
            b.community_id,
        )
    return units


def _ends(numbers: Iterable[int]) -> tuple[int, ...]:
    """The lowest and highest of some floor numbers (one number when they are the same)."""
    ordered = sorted(set(numbers))
    return tuple(dict.fromkeys((ordered[0], ordered[-1]))) if ordered else ()


def _section(r: _Resident) -> tuple[int, Words]:
    """The picker's section for a person, and its place in the picker's order."""
    for index, (role, (zh, _, ens)) in enumerate(_ROLES.items()):
        if role in r.roles:
            return index, Words(zh, ens)
    return len(_ROLES), _RESIDENTS if r.room is not None else _OTHERS


def _person(r: _Resident, units: dict[_Key, _Unit]) -> SandboxPerson:
    posts: list[Words] = []
    terms: list[str] = []
    for role, kind, scope_id in r.grants:
        zh, en, _ = _ROLES[role]
        unit = units.get((kind, scope_id))
        if unit is None:
            posts.append(Words(zh, en))
        else:
            posts.append(Words(f"{unit.words.zh} {zh}", f"{en}, {unit.words.en}"))
            terms.extend(unit.terms)
    status = _STATUS[r.status]
    label = (
        Words("；".join(p.zh for p in posts), "; ".join(p.en for p in posts)) if posts else status
    )
    if r.room is not None:
        community = units[(ScopeKind.COMMUNITY, r.community_id or 0)].words
        home = Words(f"{r.room.words.zh} · {community.zh}", f"{r.room.words.en} · {community.en}")
        terms.extend(r.room.terms)
    else:
        home = r.college.words if r.college is not None else _OFF_CAMPUS
    if r.college is not None:
        terms.extend((r.college.words.zh, r.college.words.en, *r.college.terms))
    terms.extend((status.zh, status.en))
    return SandboxPerson(
        key=r.number,
        name=r.name,
        group=_section(r)[1],
        label=label,
        home=home,
        terms=" | ".join(dict.fromkeys(terms)),
    )


async def run_sandbox(
    settings: Settings, out: TextIO, *, host: str, port: int, web_port: int
) -> None:
    """Run the bot against a fresh sandbox until SIGINT or SIGTERM."""
    database = Path.cwd() / "assistant-sandbox.sqlite3"
    for leftover in database.parent.glob(f"{database.name}*"):
        leftover.unlink()
    db = Database(f"sqlite+aiosqlite:///{database}")
    await load_demo_campus(db, rules_dir=settings.rules_dir)
    tg = FakeTelegram()
    server = FakeTelegramServer(tg)
    people = DemoPeople(tg, db)
    webchat = WebChat(tg, people)
    announcing: asyncio.Task[None] | None = None
    try:
        url = await webchat.start(host, web_port)
        base = await server.start(host, port)
        print(f"Sandbox Bot API: {base}/bot<token>/<method> · demo campus in {database}", file=out)
        linking = await people.link_everyone()
        print(
            f"{linking} 位演示人员正在关联机器人，好了就给出网页地址。/ "
            f"{linking} demo residents are linking to the bot; the web chat's address follows.",
            file=out,
        )
        out.flush()
        announcing = asyncio.create_task(_announce(people, url, out))
        sandboxed = settings.model_copy(
            update={
                "database_url": db.url,
                "telegram_bot_token": tg.token,
                "telegram_api_base_url": server.api_url,
                "telegram_api_file_url": server.file_url,
            }
        )
        await run_bot(sandboxed, out, ready="Press Ctrl+C to stop. 按 Ctrl+C 停止。")
    finally:
        if announcing is not None:
            announcing.cancel()
        await webchat.stop()
        await server.stop()
        await db.dispose()


async def _announce(people: DemoPeople, url: str, out: TextIO) -> None:
    """Prints the web chat's address once the bot has linked everyone, so that whatever the first
    person picked does reaches whoever it is for."""
    try:
        await people.settled(_LINK_TIMEOUT)
    except TimeoutError:
        print("有些演示人员还没关联好。/ Some residents are not linked yet.", file=out)
    print(f"网页聊天 / Web chat: {url}", file=out)
    out.flush()
