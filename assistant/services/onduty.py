"""Office hours as people see them (坐班服务): /duty, a person's own coming shifts, and /onduty,
who is on duty now and next in the activity rooms of one's building and college, with the
community counsellors' office hours (``rules/office_hours.yaml``), so that a student knows where
to go tonight.

The rosters are those of ``rules/duty.yaml`` as :mod:`assistant.services.duty` planned them:
student party members and teachers take turns (§四(一)). Nothing here changes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import Actor, Role, ScopeKind, ShiftStatus
from assistant.rules import Rules
from assistant.rules.office_hours import Hours
from assistant.services import people
from assistant.services.duty import HORIZON_WEEKS, Duty, ShiftView
from assistant.storage import repo
from assistant.storage.models import Building, FunctionalRoom

LIMIT = 20
"""The most shifts /duty lists."""
# A person's shifts still to come: held, offered to the others, or gone to the owner.
_MINE = (str(ShiftStatus.PLANNED), str(ShiftStatus.OFFERED), str(ShiftStatus.ESCALATED))
# Shifts someone is (or may be) in the room for.
_STAFFED = (
    str(ShiftStatus.PLANNED),
    str(ShiftStatus.OFFERED),
    str(ShiftStatus.ESCALATED),
    str(ShiftStatus.DONE),
)


@dataclass(frozen=True)
class RoomDuty:
    """One activity room: where it is, and the shift in it now and the next one."""

    room_zh: str
    room_en: str
    building_zh: str | None
    building_en: str | None
    now: ShiftView | None
    next: ShiftView | None


@dataclass(frozen=True)
class Office:
    """A community counsellors' office: where, who, when, and whether it is open now."""

    community_zh: str
    community_en: str
    place: dict[str, str]
    counsellors: list[str]
    hours: tuple[Hours, ...]
    open_now: bool
    closed_today: bool


@dataclass(frozen=True)
class Board:
    """What /onduty shows one person."""

    rooms: list[RoomDuty]
    offices: list[Office]


def in_a_pool(rules: Rules, actor: Actor) -> bool:
    """Whether ``actor`` is in the pool of any room of ``rules.duty``: the rooms' pools, not a
    shift held today, say who takes turns."""
    subject: dict[str, Any] = {**people.rule_subject(actor), "room_kind": None}
    return any(room.admits(subject) for room in rules.duty.values())


class OnDuty:
    """Reads the rosters and the office hours for one person."""

    def __init__(self, duty: Duty) -> None:
        self.duty = duty
        self.rules: Rules = duty.rules

    def in_a_pool(self, actor: Actor) -> bool:
        """Whether ``actor`` takes turns in any room's duty (their /duty has something)."""
        return in_a_pool(self.rules, actor)

    async def mine(self, session: AsyncSession, actor: Actor, now: datetime) -> list[ShiftView]:
        """``actor``'s shifts not over yet, of the weeks planned, in time order."""
        shifts = await self.duty.roster(
            session,
            now - timedelta(days=1),
            now + timedelta(weeks=HORIZON_WEEKS),
            person=actor.person_id,
        )
        return [s for s in shifts if s.status in _MINE and s.ends_at > now][:LIMIT]

    async def board(self, session: AsyncSession, actor: Actor, now: datetime) -> Board:
        """Who is on duty now and next in the rooms of ``actor``'s building and college, and
        their community counsellors' office hours."""
        return Board(
            await self._rooms(session, actor, now), await self._offices(session, actor, now)
        )

    async def _rooms(self, session: AsyncSession, actor: Actor, now: datetime) -> list[RoomDuty]:
        near = []
        if actor.home is not None:
            near.append(FunctionalRoom.building_id == actor.home.building.id)
        if actor.college is not None:
            near.append(FunctionalRoom.college_id == actor.college.id)
        if not near or not self.rules.duty:
            return []
        rows = await session.execute(
            select(FunctionalRoom, Building)
            .outerjoin(Building, Building.id == FunctionalRoom.building_id)
            .where(FunctionalRoom.code.in_(list(self.rules.duty)), or_(*near))
            .order_by(FunctionalRoom.code)
        )
        found = []
        for room, building in rows:
            shifts = await self.duty.roster(
                session,
                now - timedelta(days=1),
                now + timedelta(weeks=HORIZON_WEEKS),
                room=room.code,
            )
            staffed = [s for s in shifts if s.status in _STAFFED and s.ends_at > now]
            current = next((s for s in staffed if s.starts_at <= now), None)
            coming = next((s for s in staffed if s.starts_at > now), None)
            found.append(
                RoomDuty(
                    room.name_zh,
                    room.name_en,
                    building.name_zh if building else None,
                    building.name_en if building else None,
                    current,
                    coming,
                )
            )
        return found

    async def _offices(self, session: AsyncSession, actor: Actor, now: datetime) -> list[Office]:
        home = actor.home
        if home is None:
            return []
        entries = [
            e for e in self.rules.office_hours.values() if e.community == home.community.code
        ]
        if not entries:
            return []
        counsellors = await repo.holders(
            session, [(Role.COUNSELLOR, ScopeKind.COMMUNITY, home.community.id)]
        )
        local = now.astimezone(self.duty.campus)
        facts = people.day_facts(local.date(), self.rules.calendar)
        return [
            Office(
                home.community.zh,
                home.community.en,
                entry.place,
                [holder.name for holder in counsellors],
                entry.hours,
                entry.open_at(facts, local.time()),
                entry.skips(facts),
            )
            for entry in entries
        ]
