"""What a person may see of the directory: themselves, and who is responsible for a floor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor, Named, Place, Role, ScopeKind, floor_span
from assistant.rules import NoRuleMatched, Rules
from assistant.rules.calendar import Calendar
from assistant.storage import repo

_FLOOR_ADDRESS = re.compile(r"^\s*([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*?)-(\d{1,3})\s*$")


@dataclass(frozen=True)
class Profile:
    """What /me shows."""

    actor: Actor
    college: Named | None
    place: Place | None
    leaders: Leaders | None
    # The floors of the person's grid ("1–2"): a grid is named by its building and floors.
    grid_floors: str = ""


@dataclass(frozen=True)
class Leaders:
    """The people responsible for one floor, top of the chain last (党员亮身份), and the party
    branch and sub-station its building is in."""

    place: Place
    holders: list[repo.Holder]
    party_members: list[tuple[str, str]]
    branch: Named | None
    substation: Named | None


async def find_floor(session: AsyncSession, address: str) -> Place | None:
    """The floor named like ``B1-3`` (building code, dash, floor number)."""
    match = _FLOOR_ADDRESS.match(address)
    if match is None:
        return None
    building = await repo.building_by_code(session, match.group(1))
    if building is None:
        return None
    floor = await repo.floor_by_number(session, building.id, int(match.group(2)))
    return await repo.place_of_floor(session, floor.id) if floor else None


async def leaders_of(session: AsyncSession, place: Place) -> Leaders:
    """The leaders and party members responsible for the floor of ``place``."""
    wanted: list[tuple[Role, ScopeKind, int]] = []
    if place.room_id:
        wanted.append((Role.DORM_HEAD, ScopeKind.ROOM, place.room_id))
    wanted.append((Role.FLOOR_LEADER, ScopeKind.FLOOR, place.floor_id))
    if place.grid_id is not None:
        wanted.append((Role.GRID_PARTY_MEMBER, ScopeKind.GRID, place.grid_id))
        wanted.append((Role.GRID_GROUP_LEADER, ScopeKind.GRID, place.grid_id))
    wanted += [
        (Role.BUILDING_LEADER, ScopeKind.BUILDING, place.building.id),
        (Role.BUILDING_MANAGER, ScopeKind.BUILDING, place.building.id),
        (Role.CENTRE_HEAD, ScopeKind.BUILDING, place.building.id),
    ]
    branch, substation = await repo.party_units(session, place.building.id)
    if branch is not None:
        wanted.append((Role.BRANCH_SECRETARY, ScopeKind.BRANCH, branch.id))
    if substation is not None:
        wanted.append((Role.SUBSTATION_HEAD, ScopeKind.SUBSTATION, substation.id))
    wanted += [
        (Role.COUNSELLOR, ScopeKind.COMMUNITY, place.community.id),
        (Role.WORKSTATION_HEAD, ScopeKind.COMMUNITY, place.community.id),
        (Role.COMMITTEE_SECRETARY, ScopeKind.COMMUNITY, place.community.id),
    ]
    return Leaders(
        place=place,
        holders=await repo.holders(session, wanted),
        party_members=await repo.party_members_on_floor(session, place.floor_id),
        branch=branch,
        substation=substation,
    )


async def profile(session: AsyncSession, actor: Actor) -> Profile:
    """The actor's college, dorm, grid and leaders."""
    place = actor.home
    grid = place.grid_id if place else None
    return Profile(
        actor=actor,
        college=actor.college,
        place=place,
        leaders=await leaders_of(session, place) if place else None,
        grid_floors=floor_span(await repo.floors_of_grid(session, grid)) if grid else "",
    )


async def welcome(session: AsyncSession, rules: Rules, actor: Actor, today: date) -> Leaders | None:
    """The floor to welcome ``actor`` to, as they link on ``today`` (campus date): its leaders
    and party members, when the policy ``welcome.new_resident`` says they are a new resident
    (shipped: someone living in a dorm who links during freshmen arrival); None otherwise, and
    when no rule gives the policy a value (a rules folder without the welcome)."""
    if actor.home is None:
        return None
    subject = rule_subject(actor) | day_facts(today, rules.calendar)
    try:
        new_resident = rules.policy("welcome.new_resident", subject).outcome.value
    except NoRuleMatched:
        return None
    return await leaders_of(session, actor.home) if new_resident is True else None


def rule_subject(actor: Actor) -> dict[str, object]:
    """The facts about a person that access and policy rules decide on."""
    place = actor.home
    return {
        "status": str(actor.status),
        "roles": sorted({str(g.role) for g in actor.grants}),
        "college": actor.college.code if actor.college else None,
        "community": place.community.code if place else None,
        "building": place.building.code if place else None,
        "floor": place.floor if place else None,
    }


def day_facts(day: date, calendar: Calendar | None = None) -> dict[str, object]:
    """The facts about a day that access rules may ask (a booking's day, or today): the date,
    and what the academic calendar says of it (teaching week, exam week, holiday, ...)."""
    return (calendar or Calendar()).day_facts(day)
