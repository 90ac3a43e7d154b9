"""Where a grid issue report climbs: the next tier of its chain (``rules/escalation.yaml``) with
someone who can be reached, found over the campus units that hold the report's place.

A tier's role is held over one unit of the place (:func:`unit_of`): the grid of its floor, the
party branch of its building, the college of its community. A tier whose unit the campus lacks,
that nobody holds, or whose holders cannot be reached (not linked, or they blocked the bot) is
skipped, and each skip is kept with its reason for the audit and ``assistant explain``. The chain
only lists tiers upward (the loader refuses one below the tier before it), and a report joins it
at the first tier not below the people who have it, so it never goes down, nor from a grid of two
floors to one floor's leader.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.domain import ROLE_SCOPE, SCHOOL_SCOPE_ID, Place, Role, ScopeKind
from assistant.rules.escalation import Chain, level
from assistant.storage import repo
from assistant.storage.models import AuditEntry

MOVES = ("grid.rerouted", "grid.escalated", "grid.reminded")
"""The audit of a report's way up: sent up at once at submit, climbed at a deadline, or left
where it was (nobody above) with its holders reminded."""


class Why(enum.StrEnum):
    """Why a tier was skipped."""

    # The campus files give the place no unit of the tier's kind (a building in no branch).
    NO_UNIT = "no_unit"
    # Nobody active holds the role there.
    VACANT = "vacant"
    # Its holders are not linked to Telegram yet, or they blocked the bot.
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Skipped:
    """A tier a climb passed over, and why."""

    role: Role
    why: Why


@dataclass(frozen=True)
class Taken:
    """Who has a report: a role at a scope, and the people holding it (but the reporter)."""

    role: Role
    scope: tuple[ScopeKind, int]
    holders: list[repo.Holder]

    @property
    def reachable(self) -> bool:
        """Whether anyone who has it can be written to now."""
        return any(holder.reachable for holder in self.holders)


@dataclass(frozen=True)
class Climb:
    """Where a report goes up to (None: nowhere above has anyone who can be reached), the tiers
    passed over on the way, the roles to tell (those the tiers reached or passed name), and
    whether the chain's ``otherwise`` took it."""

    to: Taken | None
    skipped: tuple[Skipped, ...] = ()
    inform: tuple[Role, ...] = ()
    otherwise: bool = False

    def detail(self) -> dict[str, object]:
        """What the audit keeps of the climb, for ``assistant explain``."""
        detail: dict[str, object] = {"skipped": [[s.role.value, s.why.value] for s in self.skipped]}
        if self.inform:
            detail["informed"] = [role.value for role in self.inform]
        if self.otherwise:
            detail["otherwise"] = True
        return detail


async def unit_of(session: AsyncSession, role: Role, place: Place) -> tuple[ScopeKind, int] | None:
    """The unit of ``place`` that ``role`` is held over there, or None when the campus has none
    (a floor in no grid, a building in no branch, a community of no college)."""
    kind = ROLE_SCOPE[role]
    unit: int | None
    if kind is ScopeKind.ROOM:
        unit = place.room_id or None
    elif kind is ScopeKind.FLOOR:
        unit = place.floor_id
    elif kind is ScopeKind.GRID:
        unit = place.grid_id
    elif kind is ScopeKind.BUILDING:
        unit = place.building.id
    elif kind in (ScopeKind.BRANCH, ScopeKind.SUBSTATION):
        branch, substation = await repo.party_units(session, place.building.id)
        named = branch if kind is ScopeKind.BRANCH else substation
        unit = named.id if named is not None else None
    elif kind is ScopeKind.COMMUNITY:
        unit = place.community.id
    elif kind is ScopeKind.COLLEGE:
        # The college that leads the community, whose party organisation the grid answers to.
        unit = await repo.unit_above(session, ScopeKind.COMMUNITY, place.community.id, kind)
    else:
        unit = SCHOOL_SCOPE_ID
    return (kind, unit) if unit is not None else None


async def holders_but(
    session: AsyncSession, role: Role, scope: tuple[ScopeKind, int], person_id: int
) -> list[repo.Holder]:
    """The active holders of ``role`` at ``scope`` but ``person_id`` (nobody handles their own
    report)."""
    return [h for h in await repo.holders(session, [(role, *scope)]) if h.person_id != person_id]


async def climb(
    session: AsyncSession, chain: Chain, role: Role, place: Place, *, reporter_id: int
) -> Climb:
    """The first tier of ``chain`` above ``role`` (at ``place``) with someone who can be
    reached; failing that, the chain's ``otherwise`` when it is not below ``role``."""
    skipped: list[Skipped] = []
    inform: dict[Role, None] = {}
    for tier in chain.above(role):
        inform.update(dict.fromkeys(tier.inform))
        found = await _tier(session, tier.role, place, reporter_id)
        if isinstance(found, Taken):
            return Climb(found, tuple(skipped), _but(inform, found.role))
        skipped.append(Skipped(tier.role, found))
    last = chain.otherwise
    if last is not None and last is not role and level(last) >= level(role):
        found = await _tier(session, last, place, reporter_id)
        if isinstance(found, Taken):
            return Climb(found, tuple(skipped), _but(inform, last), otherwise=True)
        skipped.append(Skipped(last, found))
    return Climb(None, tuple(skipped))


def _but(roles: dict[Role, None], role: Role) -> tuple[Role, ...]:
    # The people who now have the report get its card to handle, not a copy.
    return tuple(r for r in roles if r is not role)


async def _tier(session: AsyncSession, role: Role, place: Place, reporter_id: int) -> Taken | Why:
    scope = await unit_of(session, role, place)
    if scope is None:
        return Why.NO_UNIT
    holders = await holders_but(session, role, scope, reporter_id)
    if not holders:
        return Why.VACANT
    taken = Taken(role, scope, holders)
    return taken if taken.reachable else Why.UNREACHABLE


async def moves(session: AsyncSession, issue_id: int, since: datetime) -> Sequence[AuditEntry]:
    """The audit rows of report ``issue_id``'s way up (:data:`MOVES`), oldest first; ``since``
    is when it was made."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.at >= since, AuditEntry.action.in_(MOVES))
        .order_by(AuditEntry.id)
    )
    return [row for row in rows if row.detail.get("issue") == issue_id]
